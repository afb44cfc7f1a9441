// Messages between the main thread and a dataset reader thread (dataset-reader.ts). Values
// cross by structured clone, which keeps typed arrays but no classes: a vocabulary travels as its
// tokens and an error as ServiceError.toWire() wrote it.
import type { ServiceErrorWire } from '../../common/errors.js';
import type { DatasetContent, DatasetSource, RegistryOptions } from '../../data/index.js';
import type { StoredContentRef, StoredExamples } from './dataset-content-file.js';

export type ReaderRequest =
  | {
      readonly id: number;
      readonly op: 'read';
      readonly source: DatasetSource;
      readonly options: Pick<RegistryOptions, 'dataRoot' | 'limits'>;
    }
  | { readonly id: number; readonly op: 'load'; readonly ref: StoredContentRef };

/** A vocabulary as its tokens, the one part of the values that is a class. */
type Plain<T> = Omit<T, 'vocabulary'> & { readonly vocabularyTokens?: readonly string[] };

export type ReadResult = { readonly content: Plain<DatasetContent>; readonly encoded: Uint8Array };
export type LoadResult = Plain<StoredExamples>;

export type ReaderResponse =
  | { readonly id: number; readonly ok: true; readonly value: ReadResult | LoadResult }
  | { readonly id: number; readonly ok: false; readonly failure: ServiceErrorWire };

export function withoutVocabulary<T extends { readonly vocabulary?: { readonly tokens: readonly string[] } }>(value: T): Plain<T> {
  const { vocabulary, ...rest } = value;
  return vocabulary === undefined ? rest : { ...rest, vocabularyTokens: vocabulary.tokens };
}

/**
 * The ArrayBuffers a value's typed arrays own alone, to transfer rather than copy. A view on
 * part of a buffer (Node's small Buffers share a pool) is left to be copied: transferring it
 * would take the whole pool from the thread.
 */
export function ownedBuffers(value: unknown, found = new Set<ArrayBuffer>(), depth = 0): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    const { buffer } = value;
    if (buffer instanceof ArrayBuffer && value.byteOffset === 0 && value.byteLength === buffer.byteLength) found.add(buffer);
  } else if (typeof value === 'object' && value !== null && depth < 6) {
    for (const child of Object.values(value)) ownedBuffers(child, found, depth + 1);
  }
  return [...found];
}
