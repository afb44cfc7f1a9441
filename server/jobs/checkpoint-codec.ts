// A checkpoint as bytes: a sha256 of the body, then the body, the checkpoint as v8
// structured-clone bytes (typed arrays stored raw). Workers encode (the cost of a large model's
// serialisation and hash stays off the gRPC event loop); the main thread only writes the bytes,
// and decodes on resume, where a damaged file reads as undefined.
import { createHash } from 'node:crypto';
import { deserialize, serialize } from 'node:v8';
import type { TrainerCheckpoint } from '../engine/tf-free.js';

const FORMAT_VERSION = 1;
const DIGEST_BYTES = 32;

interface StoredCheckpoint {
  readonly format: number;
  readonly checkpoint: TrainerCheckpoint;
}

export function encodeCheckpoint(checkpoint: TrainerCheckpoint): Uint8Array {
  const body = serialize({ format: FORMAT_VERSION, checkpoint } satisfies StoredCheckpoint);
  const encoded = new Uint8Array(DIGEST_BYTES + body.byteLength);
  encoded.set(createHash('sha256').update(body).digest(), 0);
  encoded.set(body, DIGEST_BYTES);
  return encoded;
}

/** undefined for bytes that fail their checksum, do not decode, or are of another format. */
export function decodeCheckpoint(bytes: Uint8Array): TrainerCheckpoint | undefined {
  if (bytes.byteLength <= DIGEST_BYTES) return undefined;
  const body = bytes.subarray(DIGEST_BYTES);
  const digest = createHash('sha256').update(body).digest();
  if (!digest.equals(bytes.subarray(0, DIGEST_BYTES))) return undefined;
  try {
    const stored = deserialize(body) as StoredCheckpoint;
    return stored.format === FORMAT_VERSION ? stored.checkpoint : undefined;
  } catch {
    return undefined;
  }
}
