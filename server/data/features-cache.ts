// File-backed stores for what pretrained backbones derive from a dataset: frozen backbone
// features (keyed by backbone + dataset content hash + split) and GloVe vectors filtered to a
// vocabulary (keyed by source + vocabulary hash). One file per key under a directory, written
// to a temporary name and renamed, so a crash never leaves a half-written entry behind.
//
// Record layout: "steadytune-f32-v1\n", uint32 LE header length, JSON header (the full key and
// the shape), zero padding to a 4-byte boundary, then the float32 LE values.

import { createHash, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

import type { FeatureInputs, FeatureStore, VectorStore, WordVectors } from '../engine/tf-free.js';

const MAGIC = 'steadytune-f32-v1\n';

type Header = Record<string, unknown> & { readonly key: string };

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** A key for filtered vectors: the source's name and the exact token list, hashed. */
export function vocabularyKey(source: string, tokens: readonly string[]): string {
  return `${source}|vocab-sha256:${sha256(JSON.stringify(tokens))}`;
}

class FloatRecordDirectory {
  constructor(private readonly directory: string) {}

  private fileFor(key: string): string {
    return path.join(this.directory, `${sha256(key)}.f32`);
  }

  async read(key: string): Promise<{ header: Header; values: Float32Array } | undefined> {
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(this.fileFor(key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const magic = Buffer.byteLength(MAGIC);
    if (bytes.byteLength < magic + 4 || bytes.toString('utf8', 0, magic) !== MAGIC) return undefined;
    const headerLength = bytes.readUInt32LE(magic);
    const header: unknown = JSON.parse(bytes.toString('utf8', magic + 4, magic + 4 + headerLength));
    // A different key with the same file name (a hash collision) or a foreign file: a miss.
    if (typeof header !== 'object' || header === null || (header as Header).key !== key) return undefined;
    const start = Math.ceil((magic + 4 + headerLength) / 4) * 4;
    const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + bytes.byteLength));
    return { header: header as Header, values };
  }

  async write(header: Header, values: Float32Array): Promise<void> {
    await fs.mkdir(this.directory, { recursive: true });
    const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
    const prefix = Buffer.concat([Buffer.from(MAGIC, 'utf8'), Buffer.alloc(4), headerBytes]);
    prefix.writeUInt32LE(headerBytes.byteLength, Buffer.byteLength(MAGIC));
    const padding = Buffer.alloc((4 - (prefix.byteLength % 4)) % 4);
    const target = this.fileFor(header.key);
    // Unique per writer: two worker threads of one process may store the same key at once.
    const temporary = `${target}.${process.pid}.${randomUUID()}.tmp`;
    await fs.writeFile(temporary, Buffer.concat([prefix, padding, Buffer.from(values.buffer, values.byteOffset, values.byteLength)]));
    await fs.rename(temporary, target);
  }
}

/** Frozen backbone features on disk (FeatureStore for engine cachedFeatureSet). */
export class FileFeatureCache implements FeatureStore {
  private readonly records: FloatRecordDirectory;

  constructor(directory: string) {
    this.records = new FloatRecordDirectory(directory);
  }

  async get(key: string): Promise<FeatureInputs | undefined> {
    const record = await this.records.read(key);
    const dim = record?.header.dim;
    if (record === undefined || typeof dim !== 'number' || dim < 1 || record.values.length % dim !== 0) return undefined;
    return { kind: 'features', values: record.values, dim };
  }

  async set(key: string, features: FeatureInputs): Promise<void> {
    await this.records.write({ key, dim: features.dim }, features.values);
  }
}

/** Filtered word vectors on disk (VectorStore for engine cachedWordVectors). */
export class FileVectorCache implements VectorStore {
  private readonly records: FloatRecordDirectory;

  constructor(directory: string) {
    this.records = new FloatRecordDirectory(directory);
  }

  async get(key: string): Promise<WordVectors | undefined> {
    const record = await this.records.read(key);
    if (record === undefined) return undefined;
    const { dim, words } = record.header;
    if (
      typeof dim !== 'number' ||
      !Array.isArray(words) ||
      !words.every((word) => typeof word === 'string') ||
      record.values.length !== words.length * dim
    ) {
      return undefined;
    }
    return { dim, words: words as string[], values: record.values };
  }

  async set(key: string, vectors: WordVectors): Promise<void> {
    await this.records.write({ key, dim: vectors.dim, words: vectors.words }, vectors.values);
  }
}
