// A DatasetSelection's class filter and example cap, applied to a loaded split. Pure array
// work (no TF), run inside workers. Order: classes first (relabelled 0..k-1 in the given
// order), then the cap; the imbalance transform comes after both, on the training split only.
import { ServiceError, type FieldViolation } from '../../common/errors.js';
import type { ExampleInputs, ExampleSet } from '../../engine/index.js';

/** INVALID_ARGUMENT for a selection the loaded dataset cannot satisfy, naming the wrong fields. */
function selectionRejected(violations: readonly FieldViolation[]): ServiceError {
  const listed = violations.map((v) => `${v.field}: ${v.description}`).join('; ');
  return ServiceError.invalidArgument(`dataset selection rejected: ${listed}`, violations);
}

export interface SelectedDataset {
  readonly examples: ExampleSet;
  readonly classNames: readonly string[];
}

export function applySelection(
  loaded: SelectedDataset,
  selection: { readonly classes: readonly number[]; readonly maxExamples: number },
  field: string,
): SelectedDataset {
  const byClass = selection.classes.length === 0 ? loaded : selectClasses(loaded, selection.classes, field);
  if (selection.maxExamples <= 0 || selection.maxExamples >= byClass.examples.labels.length) return byClass;
  return { ...byClass, examples: stratifiedPrefix(byClass.examples, selection.maxExamples) };
}

/** Keeps the listed classes and relabels them 0..k-1 in the listed order. */
export function selectClasses(loaded: SelectedDataset, classes: readonly number[], field: string): SelectedDataset {
  const { examples } = loaded;
  const bad = classes.flatMap((id, i) =>
    Number.isInteger(id) && id >= 0 && id < examples.numClasses
      ? []
      : [{ field: `${field}.classes[${i}]`, description: `must be a class id below ${examples.numClasses}, got ${id}` }],
  );
  if (bad.length > 0) throw selectionRejected(bad);
  const newLabel = new Map(classes.map((id, index) => [id, index]));
  const kept: number[] = [];
  examples.labels.forEach((label, index) => {
    if (newLabel.has(label)) kept.push(index);
  });
  const picked = pick(examples, kept);
  const labels = Int32Array.from(picked.labels, (label) => newLabel.get(label) ?? 0);
  const classNames = classes.map((id) => loaded.classNames[id] ?? String(id));
  return { examples: { inputs: picked.inputs, labels, numClasses: classes.length, classNames }, classNames };
}

/**
 * The first `max` examples of a class-interleaved order: each class keeps a share of `max`
 * proportional to its size (largest remainder), its earliest examples in input order. A plain
 * prefix would keep one class of a class-sorted source (the built-in MNIST is sorted by digit).
 */
export function stratifiedPrefix(examples: ExampleSet, max: number): ExampleSet {
  const counts = new Array<number>(examples.numClasses).fill(0);
  for (const label of examples.labels) counts[label] = (counts[label] ?? 0) + 1;
  const total = examples.labels.length;
  const exact = counts.map((n) => (max * n) / total);
  const quotas = exact.map(Math.floor);
  let left = max - quotas.reduce((sum, q) => sum + q, 0);
  // Largest remainders first; ties to the lower class id, so the result is deterministic.
  const byRemainder = exact
    .map((value, id) => ({ id, remainder: value - Math.floor(value) }))
    .sort((a, b) => b.remainder - a.remainder || a.id - b.id);
  for (const { id } of byRemainder) {
    if (left === 0) break;
    quotas[id] = (quotas[id] ?? 0) + 1;
    left -= 1;
  }
  const kept: number[] = [];
  examples.labels.forEach((label, index) => {
    if ((quotas[label] ?? 0) > 0) {
      quotas[label] = (quotas[label] ?? 0) - 1;
      kept.push(index);
    }
  });
  return pick(examples, kept);
}

function pick(examples: ExampleSet, indices: readonly number[]): ExampleSet {
  const labels = Int32Array.from(indices, (i) => examples.labels[i] ?? 0);
  const base = { inputs: pickInputs(examples.inputs, indices), labels, numClasses: examples.numClasses };
  return examples.classNames === undefined ? base : { ...base, classNames: examples.classNames };
}

function pickInputs(inputs: ExampleInputs, indices: readonly number[]): ExampleInputs {
  const rows = <T extends Float32Array | Int32Array>(source: T, width: number, target: T): T => {
    indices.forEach((from, row) => target.set(source.subarray(from * width, (from + 1) * width), row * width));
    return target;
  };
  if (inputs.kind === 'features') {
    return { kind: 'features', dim: inputs.dim, values: rows(inputs.values, inputs.dim, new Float32Array(indices.length * inputs.dim)) };
  }
  const width = inputs.seqLen;
  const ids = rows(inputs.ids, width, new Int32Array(indices.length * width));
  return inputs.segmentIds === undefined
    ? { kind: 'tokens', ids, seqLen: width, vocabSize: inputs.vocabSize }
    : {
        kind: 'tokens',
        ids,
        segmentIds: rows(inputs.segmentIds, width, new Int32Array(indices.length * width)),
        seqLen: width,
        vocabSize: inputs.vocabSize,
      };
}
