import * as tf from '@tensorflow/tfjs';
import type { ExampleInputs, ExampleSet, RunSpec } from './types.js';
import type { Batch } from './models/classifier.js';
import { deriveSeed, seededRandom, shuffledIndices } from './random.js';

export function exampleCount(inputs: ExampleInputs): number {
  return inputs.kind === 'features' ? inputs.values.length / inputs.dim : inputs.ids.length / inputs.seqLen;
}

/** Copies rows `indices` of a row-major array into a new one. */
function gatherRows<T extends Float32Array | Int32Array>(source: T, rowLength: number, indices: ArrayLike<number>, target: T): T {
  for (let i = 0; i < indices.length; i++) {
    const start = indices[i] * rowLength;
    target.set(source.subarray(start, start + rowLength), i * rowLength);
  }
  return target;
}

/** Input tensors for the given examples (labels are zeros when `labels` is absent, e.g. Predict). */
export function makeBatch(inputs: ExampleInputs, labels: Int32Array | undefined, indices: ArrayLike<number>): Batch {
  const size = indices.length;
  const labelTensor = tf.tensor1d(labels ? gatherRows(labels, 1, indices, new Int32Array(size)) : new Int32Array(size), 'int32');
  if (inputs.kind === 'features') {
    const values = gatherRows(inputs.values, inputs.dim, indices, new Float32Array(size * inputs.dim));
    return { inputs: tf.tensor2d(values, [size, inputs.dim], 'float32'), labels: labelTensor, size };
  }
  const ids = gatherRows(inputs.ids, inputs.seqLen, indices, new Int32Array(size * inputs.seqLen));
  const segmentIds = inputs.segmentIds
    ? tf.tensor2d(
        gatherRows(inputs.segmentIds, inputs.seqLen, indices, new Int32Array(size * inputs.seqLen)),
        [size, inputs.seqLen],
        'int32',
      )
    : undefined;
  return { inputs: tf.tensor2d(ids, [size, inputs.seqLen], 'int32'), segmentIds, labels: labelTensor, size };
}

export function disposeBatch(batch: Batch): void {
  batch.inputs.dispose();
  batch.labels.dispose();
  batch.segmentIds?.dispose();
}

/** Consecutive index ranges [start, end) of at most `size` over `count` items. */
export function chunks(count: number, size: number): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (let start = 0; start < count; start += size) ranges.push([start, Math.min(count, start + size)]);
  return ranges;
}

/** Optimizer steps in one epoch: micro-batches (the last may be short) grouped by accumulation. */
export function stepsPerEpoch(count: number, batchSize: number, accumulation: number): number {
  return Math.ceil(Math.ceil(count / batchSize) / accumulation);
}

/** Total optimizer steps T of a run: the `t / T` in alpha_t and the learning-rate schedule. */
export function plannedOptimizerSteps(spec: Pick<RunSpec, 'epochs' | 'batchSize' | 'gradientAccumulation'>, count: number): number {
  return spec.epochs * stepsPerEpoch(count, spec.batchSize, spec.gradientAccumulation);
}

/**
 * One epoch's order as optimizer steps, each a list of micro-batches of example indices.
 * The permutation depends only on (seed, epoch), so a resumed run needs only the epoch and
 * the step within it to continue the same data order.
 */
export function epochPlan(set: ExampleSet, batchSize: number, accumulation: number, seed: number, epoch: number): Int32Array[][] {
  const order = shuffledIndices(set.labels.length, seededRandom(deriveSeed(seed, 'data-order', epoch)));
  const microBatches = chunks(order.length, batchSize).map(([start, end]) => order.subarray(start, end));
  return chunks(microBatches.length, accumulation).map(([start, end]) => microBatches.slice(start, end));
}
