// Reads an exported bundle (docs/MODEL-BUNDLE.md) from disk without TF.js: checks every file
// against the run card's sha256 before anything is parsed, then reads model.json and each
// seed's safetensors into plain float32 arrays.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleError, RUN_CARD_FILE } from '../private/model-export.js';

export const MODEL_FILE = 'model.json';
const BUNDLE_FORMAT = 'steadytune-model-bundle';
const KNOWN_VERSION = 1;

export interface WeightTensor {
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

export interface BundleDescription {
  readonly jobId: string;
  readonly family: string;
  readonly model: Record<string, unknown>;
  readonly inputs: { readonly kind: string; readonly dim?: number };
  readonly numClasses: number;
  readonly classNames: readonly string[];
  readonly weights: { readonly files: Record<string, string> };
  readonly delivery: 'per_seed' | 'ensemble';
}

export interface BundleContents {
  readonly description: BundleDescription;
  /** Per delivered seed (ascending), its tensors by parameter name. */
  readonly seeds: ReadonlyMap<number, ReadonlyMap<string, WeightTensor>>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

async function readJson(dir: string, file: string): Promise<Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path.join(dir, file), 'utf8'));
  } catch (error) {
    throw bundleError(`${file} cannot be read as JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!isRecord(parsed)) throw bundleError(`${file} is not a JSON object`);
  return parsed;
}

/** Every file the run card lists is present and matches its sha256; bytes by path. */
async function checkedFiles(dir: string): Promise<Map<string, Buffer>> {
  const card = await readJson(dir, RUN_CARD_FILE);
  const hashes = card['contentHashes'];
  if (!isRecord(hashes)) throw bundleError(`${RUN_CARD_FILE} has no contentHashes`);
  const files = new Map<string, Buffer>();
  for (const [file, expected] of Object.entries(hashes)) {
    // The run card names the files; joined only as plain relative paths.
    if (file.split('/').some((part) => part === '..' || part === '') || path.isAbsolute(file)) {
      throw bundleError(`${RUN_CARD_FILE} names an unsafe path '${file}'`);
    }
    const bytes = await readFile(path.join(dir, ...file.split('/'))).catch(() => {
      throw bundleError(`${file} is missing from the bundle`);
    });
    if (createHash('sha256').update(bytes).digest('hex') !== expected) {
      throw bundleError(`${file} does not match its sha256 in ${RUN_CARD_FILE}`);
    }
    files.set(file, bytes);
  }
  return files;
}

function describe(model: Record<string, unknown>): BundleDescription {
  if (model['format'] !== BUNDLE_FORMAT) throw bundleError(`${MODEL_FILE} is not a ${BUNDLE_FORMAT}`);
  if (model['formatVersion'] !== KNOWN_VERSION) {
    throw bundleError(`${MODEL_FILE} has formatVersion ${String(model['formatVersion'])}; this reader knows ${KNOWN_VERSION}`);
  }
  const { numClasses, classNames, weights, inputs } = model;
  if (typeof numClasses !== 'number' || !Array.isArray(classNames) || !isRecord(weights) || !isRecord(weights['files'])) {
    throw bundleError(`${MODEL_FILE} lacks numClasses, classNames or weights.files`);
  }
  if (!isRecord(inputs) || typeof inputs['kind'] !== 'string') throw bundleError(`${MODEL_FILE} lacks inputs.kind`);
  return model as unknown as BundleDescription;
}

/** The safetensors layout: u64 LE header length, JSON header, raw little-endian tensors. */
export function parseWeights(bytes: Buffer, file: string): Map<string, WeightTensor> {
  if (bytes.byteLength < 8) throw bundleError(`${file} is shorter than a safetensors header`);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  if (8 + headerLength > bytes.byteLength) throw bundleError(`${file} has a header longer than the file`);
  const header: unknown = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
  if (!isRecord(header)) throw bundleError(`${file} has a header that is not a JSON object`);
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, WeightTensor>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (!isRecord(entry) || entry['dtype'] !== 'F32' || !Array.isArray(entry['shape']) || !Array.isArray(entry['data_offsets'])) {
      throw bundleError(`${file}: tensor ${name} is not an F32 entry with shape and data_offsets`);
    }
    const [begin, end] = entry['data_offsets'] as number[];
    const shape = entry['shape'] as number[];
    const count = shape.reduce((product, size) => product * size, 1);
    if (begin === undefined || end === undefined || end - begin !== count * 4 || dataStart + end > bytes.byteLength) {
      throw bundleError(`${file}: tensor ${name} has data_offsets that do not fit its shape or the file`);
    }
    // Copy out: the Buffer's offset need not be 4-byte aligned for a Float32Array view.
    const values = new Float32Array(count);
    for (let i = 0; i < count; i += 1) values[i] = bytes.readFloatLE(dataStart + begin + i * 4);
    tensors.set(name, { shape, values });
  }
  return tensors;
}

export async function readBundle(dir: string): Promise<BundleContents> {
  const files = await checkedFiles(dir);
  const modelBytes = files.get(MODEL_FILE);
  if (modelBytes === undefined) throw bundleError(`${MODEL_FILE} is not listed in ${RUN_CARD_FILE}`);
  const description = describe(JSON.parse(modelBytes.toString('utf8')) as Record<string, unknown>);
  const seeds = new Map<number, Map<string, WeightTensor>>();
  const entries = Object.entries(description.weights.files).sort(([a], [b]) => Number(a) - Number(b));
  for (const [seed, file] of entries) {
    const bytes = files.get(file);
    if (bytes === undefined) throw bundleError(`${file} (seed ${seed}) is not listed in ${RUN_CARD_FILE}`);
    seeds.set(Number(seed), parseWeights(bytes, file));
  }
  if (seeds.size === 0) throw bundleError(`${MODEL_FILE} names no weight files`);
  return { description, seeds };
}
