// sha256 of a dataset's canonical content: what the engine will see, not how the file was
// written. Reformatting a file, reordering its columns or switching JSONL for CSV keeps the
// hash; changing a value, a label, the split, the class names or the tokenizer output does not.
//
// Layout hashed: "steadytune-dataset-v1\n", a length-prefixed JSON header (class names, input
// kind and shape, vocabulary), then per split (train, validation): the example count, the
// labels, and the input arrays, as little-endian bytes. A test split, when there is one, follows
// as a third split after the marker "test\n", so a dataset without one keeps the hash it had
// before test splits existed.

import { createHash, type Hash } from 'node:crypto';
import { endianness } from 'node:os';

import type { ExampleSet } from '../engine/tf-free.js';

export interface HashableDataset {
  readonly classNames: readonly string[];
  readonly train: ExampleSet;
  readonly validation: ExampleSet;
  readonly test?: ExampleSet;
  readonly vocabulary?: { readonly tokens: readonly string[] };
}

function uint32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  return bytes;
}

function updateTyped(hash: Hash, array: Float32Array | Int32Array): void {
  hash.update(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
}

function shapeOf(set: ExampleSet): Record<string, number | boolean | string> {
  const { inputs } = set;
  return inputs.kind === 'features'
    ? { kind: 'features', dim: inputs.dim }
    : { kind: 'tokens', seqLen: inputs.seqLen, vocabSize: inputs.vocabSize, pairs: inputs.segmentIds !== undefined };
}

export function hashDatasetContent(dataset: HashableDataset): string {
  // Typed arrays use the host's byte order; every platform Node ships for is little-endian.
  if (endianness() !== 'LE') throw new Error('content hashing assumes a little-endian host');
  const hash = createHash('sha256');
  hash.update('steadytune-dataset-v1\n');
  const header = new TextEncoder().encode(
    JSON.stringify({
      classNames: dataset.classNames,
      shape: shapeOf(dataset.train),
      vocabulary: dataset.vocabulary?.tokens ?? null,
    }),
  );
  hash.update(uint32(header.byteLength));
  hash.update(header);
  updateSplit(hash, dataset.train);
  updateSplit(hash, dataset.validation);
  if (dataset.test !== undefined) {
    hash.update('test\n');
    updateSplit(hash, dataset.test);
  }
  return hash.digest('hex');
}

function updateSplit(hash: Hash, set: ExampleSet): void {
  hash.update(uint32(set.labels.length));
  updateTyped(hash, set.labels);
  if (set.inputs.kind === 'features') {
    updateTyped(hash, set.inputs.values);
  } else {
    updateTyped(hash, set.inputs.ids);
    if (set.inputs.segmentIds) updateTyped(hash, set.inputs.segmentIds);
  }
}

/**
 * sha256 of one split's content (labels, classes, inputs): names a built-in split in cache
 * keys, where no registry hash exists.
 */
export function hashExampleSet(set: ExampleSet): string {
  const hash = createHash('sha256');
  hash.update('steadytune-split-v1\n');
  hash.update(JSON.stringify({ numClasses: set.numClasses, classNames: set.classNames ?? null, shape: shapeOf(set) }));
  hash.update(uint32(set.labels.length));
  updateTyped(hash, set.labels);
  if (set.inputs.kind === 'features') updateTyped(hash, set.inputs.values);
  else {
    updateTyped(hash, set.inputs.ids);
    if (set.inputs.segmentIds) updateTyped(hash, set.inputs.segmentIds);
  }
  return hash.digest('hex');
}
