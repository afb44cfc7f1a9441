// Offline inference of an exported bundle (docs/MODEL-BUNDLE.md), in-process with TF.js and no
// server: `@steadytune/client/offline`. A separate entry so that the main SDK never loads TF.js;
// @tensorflow/tfjs is an optional peer dependency of the package, needed only here.
import * as tf from '@tensorflow/tfjs';
import { bundleError } from '../private/model-export.js';
import { type BundleDescription, MODEL_FILE, readBundle, type WeightTensor } from './bundle-files.js';

export type { BundleDescription } from './bundle-files.js';

export interface OfflinePrediction {
  /** The predicted class id (argmax; for a vote, the most votes, ties to the lowest id). */
  readonly label: number;
  readonly labelName: string;
  /** Per class: softmax probabilities, or for an ensemble the members' vote shares (as Predict). */
  readonly probabilities: number[];
}

export interface ExportedModel {
  readonly description: BundleDescription;
  readonly seeds: readonly number[];
  /** The delivered model's predictions: one seed's probabilities, or the seeds' vote. */
  predict(features: readonly (readonly number[])[]): OfflinePrediction[];
  /** One seed's own softmax probabilities (what Predict with that seed returns). */
  predictSeed(seed: number, features: readonly (readonly number[])[]): OfflinePrediction[];
}

function tensorOf(weights: ReadonlyMap<string, WeightTensor>, name: string, seed: number): tf.Tensor {
  const weight = weights.get(name);
  if (weight === undefined) throw bundleError(`seed ${seed}'s weights lack ${name}, which ${MODEL_FILE}'s architecture uses`);
  return tf.tensor(weight.values, [...weight.shape], 'float32');
}

/** Row vectors: relu(x @ mlp/dense<i>/kernel + bias) per hidden layer, then the head and softmax. */
function mlpProbabilities(weights: ReadonlyMap<string, WeightTensor>, seed: number, layers: number, input: tf.Tensor2D): Float32Array {
  return tf.tidy(() => {
    let activation: tf.Tensor2D = input;
    for (let layer = 0; layer < layers; layer += 1) {
      const kernel = tensorOf(weights, `mlp/dense${layer}/kernel`, seed) as tf.Tensor2D;
      const bias = tensorOf(weights, `mlp/dense${layer}/bias`, seed);
      activation = tf.relu(tf.add(tf.matMul(activation, kernel), bias)) as tf.Tensor2D;
    }
    const logits = tf.add(
      tf.matMul(activation, tensorOf(weights, 'head/kernel', seed) as tf.Tensor2D),
      tensorOf(weights, 'head/bias', seed),
    );
    return tf.softmax(logits as tf.Tensor2D).dataSync() as Float32Array;
  });
}

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let c = 1; c < row.length; c += 1) if ((row[c] ?? 0) > (row[best] ?? 0)) best = c;
  return best;
}

function hiddenLayers(description: BundleDescription): number {
  const units = description.model['hiddenUnits'];
  if (!Array.isArray(units)) throw bundleError(`${MODEL_FILE}: an mlp model needs model.hiddenUnits`);
  return units.length;
}

/**
 * Reads the bundle in `dir`, refusing it (DATA_LOSS, naming the file) when a file is missing or
 * does not match the run card's sha256. MLP bundles only for now; others are refused by family.
 */
export async function loadExportedModel(dir: string): Promise<ExportedModel> {
  const { description, seeds } = await readBundle(dir);
  if (description.family !== 'mlp' || description.inputs.kind !== 'features') {
    throw bundleError(`offline inference runs mlp bundles; this one is '${description.family}'`);
  }
  const dim = description.inputs.dim ?? 0;
  const { numClasses, classNames } = description;
  const layers = hiddenLayers(description);
  const name = (label: number): string => classNames[label] ?? String(label);

  const probabilities = (seed: number, features: readonly (readonly number[])[]): Float32Array => {
    const weights = seeds.get(seed);
    if (weights === undefined) throw new Error(`the bundle has no seed ${seed}; it has ${[...seeds.keys()].join(', ')}`);
    features.forEach((row, i) => {
      if (row.length !== dim) throw new Error(`example ${i} has ${row.length} features; the model takes ${dim}`);
    });
    if (features.length === 0) return new Float32Array(0);
    const input = tf.tensor2d(features.flat(), [features.length, dim], 'float32');
    try {
      return mlpProbabilities(weights, seed, layers, input);
    } finally {
      input.dispose();
    }
  };
  const predictSeed = (seed: number, features: readonly (readonly number[])[]): OfflinePrediction[] => {
    const flat = probabilities(seed, features);
    return features.map((_, i) => {
      const row = Array.from(flat.subarray(i * numClasses, (i + 1) * numClasses));
      const label = argmax(row);
      return { label, labelName: name(label), probabilities: row };
    });
  };
  // The vote as Predict with seed 0 gives it: each member's argmax, shares of the members.
  const vote = (features: readonly (readonly number[])[]): OfflinePrediction[] => {
    const members = [...seeds.keys()].map((seed) => predictSeed(seed, features));
    return features.map((_, i) => {
      const counts = new Array<number>(numClasses).fill(0);
      for (const member of members) {
        const label = member[i]?.label;
        if (label !== undefined) counts[label] = (counts[label] ?? 0) + 1;
      }
      const label = argmax(counts);
      return { label, labelName: name(label), probabilities: counts.map((count) => count / members.length) };
    });
  };
  const seedList = [...seeds.keys()];
  return {
    description,
    seeds: seedList,
    predictSeed,
    predict: (features) =>
      description.delivery === 'ensemble' || seedList.length > 1 ? vote(features) : predictSeed(seedList[0] ?? 0, features),
  };
}
