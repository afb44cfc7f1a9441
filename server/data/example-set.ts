// Operations on the engine's ExampleSet that the data layer needs: counting, selecting rows,
// and the deterministic per-class train/validation split.

import type { ExampleInputs, ExampleSet } from '../engine/tf-free.js';

export function exampleCount(set: ExampleSet): number {
  return set.labels.length;
}

export function countClasses(labels: Int32Array, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (const label of labels) counts[label] = (counts[label] ?? 0) + 1;
  return counts;
}

function selectInputs(inputs: ExampleInputs, indices: ArrayLike<number>): ExampleInputs {
  if (inputs.kind === 'features') {
    const { dim } = inputs;
    const values = new Float32Array(indices.length * dim);
    for (let row = 0; row < indices.length; row += 1) {
      const from = (indices[row] ?? 0) * dim;
      values.set(inputs.values.subarray(from, from + dim), row * dim);
    }
    return { kind: 'features', values, dim };
  }
  const { seqLen } = inputs;
  const pick = (source: Int32Array): Int32Array => {
    const out = new Int32Array(indices.length * seqLen);
    for (let row = 0; row < indices.length; row += 1) {
      const from = (indices[row] ?? 0) * seqLen;
      out.set(source.subarray(from, from + seqLen), row * seqLen);
    }
    return out;
  };
  const ids = pick(inputs.ids);
  return inputs.segmentIds === undefined
    ? { kind: 'tokens', ids, seqLen, vocabSize: inputs.vocabSize }
    : { kind: 'tokens', ids, segmentIds: pick(inputs.segmentIds), seqLen, vocabSize: inputs.vocabSize };
}

/** A new set holding the given rows, in the given order; the source is not modified. */
export function selectExamples(set: ExampleSet, indices: ArrayLike<number>): ExampleSet {
  const labels = new Int32Array(indices.length);
  for (let row = 0; row < indices.length; row += 1) labels[row] = set.labels[indices[row] ?? 0] ?? 0;
  const base = { inputs: selectInputs(set.inputs, indices), labels, numClasses: set.numClasses };
  return set.classNames === undefined ? base : { ...base, classNames: set.classNames };
}

export interface SplitIndices {
  readonly train: Int32Array;
  readonly validation: Int32Array;
}

/**
 * Per class, the last floor(n * validationFraction) examples (in input order) go to
 * validation and the rest to train. Flooring keeps at least one training example for every
 * class that has any. Both index lists keep input order.
 */
export function splitPerClass(labels: Int32Array, numClasses: number, validationFraction: number): SplitIndices {
  const counts = countClasses(labels, numClasses);
  // The epsilon keeps e.g. 5 * 0.2 from flooring to 0 through rounding error.
  const trainQuota = counts.map((count) => count - Math.floor(count * validationFraction + 1e-9));
  const seen = new Array<number>(numClasses).fill(0);
  const train: number[] = [];
  const validation: number[] = [];
  labels.forEach((label, index) => {
    const position = seen[label] ?? 0;
    seen[label] = position + 1;
    (position < (trainQuota[label] ?? 0) ? train : validation).push(index);
  });
  return { train: Int32Array.from(train), validation: Int32Array.from(validation) };
}
