// Shared builders for the engine's unit tests (not a spec file itself).
import * as tf from '@tensorflow/tfjs';
import type { Batch, ClassifierModel } from '../../server/engine/models/classifier.js';
import { createMlp } from '../../server/engine/models/mlp.js';
import { seededRandom } from '../../server/engine/random.js';
import type { ExampleSet, MethodSpec, OptimizerSpec, RunSpec } from '../../server/engine/types.js';

export function optimizerSpec(overrides: Partial<OptimizerSpec> = {}): OptimizerSpec {
  return {
    kind: 'adamw', learningRate: 0.01, weightDecay: 0, beta1: 0.9, beta2: 0.999, epsilon: 1e-8,
    momentum: 0, warmupFraction: 0, lrSchedule: 'constant', clipNorm: 0, ...overrides,
  };
}

export function runSpec(method: MethodSpec, overrides: Partial<RunSpec> = {}): RunSpec {
  return {
    model: { family: 'mlp', hiddenUnits: [8], dropout: 0 },
    method, optimizer: optimizerSpec(), batchSize: 4, gradientAccumulation: 1, epochs: 1, seed: 42,
    fullConflictEvery: 0, ...overrides,
  };
}

/** A linear softmax classifier (mlp without hidden layers) with the given head. */
export function linearModel(kernel: number[][], bias: number[]): ClassifierModel {
  const model = createMlp({ family: 'mlp', hiddenUnits: [], dropout: 0 }, kernel.length, bias.length, 0);
  tf.tidy(() => {
    model.headKernel.assign(tf.tensor2d(kernel));
    model.headBias.assign(tf.tensor1d(bias));
  });
  return model;
}

export function featureSet(rows: number[][], labels: number[], numClasses: number): ExampleSet {
  return {
    inputs: { kind: 'features', values: Float32Array.from(rows.flat()), dim: rows[0].length },
    labels: Int32Array.from(labels),
    numClasses,
  };
}

/** Seeded uniform [-1, 1) features and uniform labels. */
export function randomSet(count: number, dim: number, numClasses: number, seed: number): ExampleSet {
  const random = seededRandom(seed);
  const rows = Array.from({ length: count }, () => Array.from({ length: dim }, () => random.next() * 2 - 1));
  const labels = Array.from({ length: count }, () => Math.floor(random.next() * numClasses));
  return featureSet(rows, labels, numClasses);
}

export function batchOf(set: ExampleSet): Batch {
  if (set.inputs.kind !== 'features') throw new Error('feature sets only');
  const size = set.labels.length;
  return {
    inputs: tf.tensor2d(set.inputs.values, [size, set.inputs.dim]),
    labels: tf.tensor1d(set.labels, 'int32'),
    size,
  };
}

/** All gradients flattened in the model's variable order. */
export function flatGradient(model: ClassifierModel, grads: tf.NamedTensorMap): number[] {
  return model.trainable.flatMap((variable) => Array.from(grads[variable.name].dataSync()));
}

export function norm(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
  return Math.sqrt(sum);
}

/** ||a - b|| / ||b||. */
export function relativeDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const difference = Array.from(a, (value, i) => value - b[i]);
  return norm(difference) / norm(b);
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i] * b[i];
  return dot / (norm(a) * norm(b));
}

export const silentHooks = {
  onStep: (): void => undefined,
  onEpochEnd: (): void => undefined,
  now: (): number => 0,
};
