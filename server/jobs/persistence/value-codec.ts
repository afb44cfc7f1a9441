// Structured values (specs, evaluations, event bodies, dataset contents) as v8 structured-clone
// bytes, for every store: SQLite, PostgreSQL, Redis and the dataset content files. Unlike JSON it
// keeps typed arrays, NaN and keys set to undefined, so a value reads back exactly as written;
// v8 documents the format as safe to store on disk.
import { deserialize, serialize } from 'node:v8';

export function encodeValue(value: unknown): Buffer {
  return serialize(value);
}

export function decodeValue<T>(bytes: Uint8Array): T {
  return deserialize(bytes) as T;
}
