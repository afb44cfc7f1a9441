// A registered content's examples as one file (<contentDir>/<id>.bin, see
// file-backed-dataset-registry.ts): the splits and vocabulary, v8-serialized with typed arrays
// kept as they are. Encoding and checking a file of tens of MB takes hundreds of milliseconds,
// so both run on the dataset reader's threads (dataset-reader.ts), not on the event loop.
import { readFile } from 'node:fs/promises';
import type { ExampleSet } from '../../engine/tf-free.js';
import { datasetUnavailable, hashDatasetContent, Vocabulary, type DatasetContent, type RegisteredDataset } from '../../data/index.js';
import { decodeValue, encodeValue } from './value-codec.js';

/**
 * What a content file holds. `test` is absent in files of datasets without a test split, and in
 * every file written before test splits existed: still version 1.
 */
interface ContentFile {
  readonly version: 1;
  readonly train: ExampleSet;
  readonly validation: ExampleSet;
  readonly test?: ExampleSet;
  readonly vocabulary: readonly string[] | null;
}

/** The part of a registered dataset its content file holds. */
export type StoredExamples = Pick<RegisteredDataset, 'train' | 'validation' | 'test' | 'vocabulary'>;

export function encodeContentFile(content: DatasetContent): Uint8Array {
  return encodeValue({
    version: 1,
    train: content.train,
    validation: content.validation,
    ...(content.test === undefined ? {} : { test: content.test }),
    vocabulary: content.vocabulary?.tokens ?? null,
  } satisfies ContentFile);
}

/** Where a content file is, and what its row says it must hold. */
export interface StoredContentRef {
  readonly file: string;
  readonly datasetId: string;
  readonly classNames: readonly string[];
  readonly contentHash: string;
}

/** A content file's examples, checked against the hash its row names. */
export async function readContentFile({ file, datasetId, classNames, contentHash }: StoredContentRef): Promise<StoredExamples> {
  let stored: ContentFile;
  try {
    stored = decodeValue<ContentFile>(await readFile(file));
  } catch (error) {
    throw datasetUnavailable(`the stored content of dataset ${datasetId} cannot be read (${String(error)}); register it again`);
  }
  const examples: StoredExamples = {
    train: stored.train,
    validation: stored.validation,
    ...(stored.test === undefined ? {} : { test: stored.test }),
    ...(stored.vocabulary === null ? {} : { vocabulary: new Vocabulary(stored.vocabulary) }),
  };
  // The hash names the content jobs and caches rely on: a damaged or swapped file must not pass for it.
  const hash = hashDatasetContent({ classNames: [...classNames], ...examples });
  if (hash !== contentHash) {
    throw datasetUnavailable(`the stored content of dataset ${datasetId} does not match its hash; register it again`);
  }
  return examples;
}
