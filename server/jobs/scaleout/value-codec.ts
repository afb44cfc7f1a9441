// Structured values (specs, evaluations, event bodies) as v8 structured-clone bytes, the same
// encoding the SQLite store uses: unlike JSON it keeps typed arrays, NaN and keys set to
// undefined, so a value reads back from PostgreSQL or Redis exactly as it was written.
import { deserialize, serialize } from 'node:v8';

export function encodeValue(value: unknown): Buffer {
  return serialize(value);
}

export function decodeValue<T>(bytes: Buffer): T {
  return deserialize(bytes) as T;
}
