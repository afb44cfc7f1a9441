// The benchmark's data: each setting's imbalanced training set and balanced evaluation set,
// cut deterministically from the official Fashion-MNIST splits (SpamAssassin: spam-data.ts).
import type { ExampleSet } from '../../server/engine/index.js';
import { applyImbalance, FASHION_MNIST_CLASS_NAMES, loadDataset } from '../../server/data/index.js';
import { countClasses, selectExamples } from '../../server/data/example-set.js';
import type { SettingId } from './protocol.js';
import type { SettingData } from './setting-data.js';

export type { SettingData } from './setting-data.js';

/** The imbalance draw is part of the setting, not of the seed: every seed sees the same examples. */
const IMBALANCE_SEED = 0;
const HEAD_CLASS_SIZE = 500;
const LONG_TAIL_TEST_PER_CLASS = 300;
const TSHIRT = 0;
const SHIRT = 6;

/** The first `perClass` examples of each class, in file order (a balanced subset). */
function firstPerClass(set: ExampleSet, perClass: number): ExampleSet {
  const taken = new Array<number>(set.numClasses).fill(0);
  const indices: number[] = [];
  set.labels.forEach((label, index) => {
    if (taken[label] < perClass) {
      taken[label] += 1;
      indices.push(index);
    }
  });
  return selectExamples(set, indices);
}

/** The examples of `classes`, relabelled 0..k-1 in the given order. */
function selectClasses(set: ExampleSet, classes: readonly number[], names: readonly string[]): ExampleSet {
  const indices: number[] = [];
  set.labels.forEach((label, index) => {
    if (classes.includes(label)) indices.push(index);
  });
  const selected = selectExamples(set, indices);
  const labels = selected.labels.map((label) => classes.indexOf(label));
  return { inputs: selected.inputs, labels, numClasses: classes.length, classNames: names };
}

function described(train: ExampleSet, test: ExampleSet): SettingData {
  return {
    train,
    test,
    classNames: train.classNames ?? [],
    trainCounts: countClasses(train.labels, train.numClasses),
    testCounts: countClasses(test.labels, test.numClasses),
  };
}

export interface FashionSplits {
  readonly train: ExampleSet;
  readonly test: ExampleSet;
}

export async function loadFashionSplits(): Promise<FashionSplits> {
  const [train, test] = await Promise.all([
    loadDataset({ builtin: 'fashion-mnist', split: 'train' }),
    loadDataset({ builtin: 'fashion-mnist', split: 'validation' }),
  ]);
  return { train: train.examples, test: test.examples };
}

/** Where the settings' data comes from: Fashion-MNIST's splits, and the SpamAssassin setting built whole. */
export interface SettingSources {
  readonly fashion: FashionSplits;
  readonly spam: SettingData;
}

export function buildSettingData(id: SettingId, sources: SettingSources): SettingData {
  const { fashion } = sources;
  switch (id) {
    case 'fmnist-lt100': {
      const train = applyImbalance(fashion.train, { kind: 'long-tailed', ratio: 100, seed: IMBALANCE_SEED, maxPerClass: HEAD_CLASS_SIZE });
      return described(train, firstPerClass(fashion.test, LONG_TAIL_TEST_PER_CLASS));
    }
    // The MobileNet setting starts from the same pixels; run.ts swaps in the frozen prefix's features.
    case 'tshirt-shirt-step20':
    case 'tshirt-shirt-step20-mobilenet': {
      const names = [FASHION_MNIST_CLASS_NAMES[TSHIRT], FASHION_MNIST_CLASS_NAMES[SHIRT]];
      const pair = selectClasses(fashion.train, [TSHIRT, SHIRT], names);
      const train = applyImbalance(pair, { kind: 'step', ratio: 20, seed: IMBALANCE_SEED, maxPerClass: HEAD_CLASS_SIZE });
      return described(train, selectClasses(fashion.test, [TSHIRT, SHIRT], names));
    }
    case 'spam-glove-step20':
      return sources.spam;
  }
}
