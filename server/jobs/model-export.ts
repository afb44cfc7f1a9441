// ExportModel: a finished job's delivered models (jobs/delivery.ts) as a bundle (docs/MODEL-BUNDLE.md), streamed as
// chunks of files. One seed's weights are in memory at a time, and its safetensors file is
// produced tensor by tensor, so a bundle never exists whole on the server. run-card.json goes
// last: it carries the sha256 of every file before it.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { ServiceError } from '../common/errors.js';
import type { DatasetRegistry } from '../data/index.js';
import { safetensorsParts } from '../engine/tf-free.js';
import {
  ENSEMBLE_JSON,
  ensembleManifest,
  EXPORTABLE_FAMILIES,
  MODEL_JSON,
  modelDescription,
  RUN_CARD_JSON,
  runCard,
  seedWeightsPath,
  wordTokenizer,
  type ImagePreprocessing,
  type Preprocessing,
} from './model-bundle.js';
import { deliveredSeeds } from './delivery.js';
import type { ModelFiles } from './persistence/model-files.js';
import type { BundleChunk, DatasetSelection, Job } from './types.js';
import type { ModelCard } from './worker/protocol.js';

/** Well under gRPC's default 4 MiB message limit. */
export const EXPORT_CHUNK_BYTES = 1024 * 1024;

export interface ModelExportSources {
  readonly models: ModelFiles;
  readonly datasets?: DatasetRegistry;
}

/** Versions the run card names: this service's and TF.js's (read from their package.json files). */
export function softwareVersions(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const versionOf = (manifest: string): string => (require(manifest) as { version?: string }).version ?? 'unknown';
  return { steadytune: versionOf('../../package.json'), tfjs: versionOf('@tensorflow/tfjs/package.json') };
}

/** Regroups parts into chunks of at most `size` bytes, keeping the last one marked. */
function* chunked(path: string, parts: Iterable<Uint8Array>, size: number): Generator<BundleChunk> {
  let offset = 0;
  let pending: Uint8Array | undefined;
  for (const part of parts) {
    for (let at = 0; at < part.byteLength; at += size) {
      if (pending !== undefined) {
        yield { path, offset, data: pending, last: false };
        offset += pending.byteLength;
      }
      pending = part.subarray(at, Math.min(at + size, part.byteLength));
    }
  }
  yield { path, offset, data: pending ?? new Uint8Array(0), last: true };
}

/** Streams the bundle of a SUCCEEDED job; the caller has checked the tenant. */
export async function* exportModelBundle(
  job: Job,
  sources: ModelExportSources,
  chunkBytes: number = EXPORT_CHUNK_BYTES,
): AsyncGenerator<BundleChunk> {
  if (job.state !== 'SUCCEEDED') {
    throw new ServiceError('FAILED_PRECONDITION', `job ${job.id} is ${job.state}: only SUCCEEDED jobs can be exported`);
  }
  const family = job.spec.run.model.family;
  if (!EXPORTABLE_FAMILIES.has(family)) {
    throw new ServiceError(
      'FAILED_PRECONDITION',
      `export of ${family} models is not supported yet (supported: ${[...EXPORTABLE_FAMILIES].join(', ')})`,
    );
  }
  // The delivered seeds only: a collapsed, degenerate or failed run never travels in a bundle.
  const delivery = deliveredSeeds(job);
  const { seeds } = delivery;
  if (seeds.length === 0)
    throw new ServiceError('FAILED_PRECONDITION', `job ${job.id} delivers no model (${delivery.note}); nothing to export`);
  const contentHashes: Record<string, string> = {};
  function* file(path: string, parts: Iterable<Uint8Array>): Generator<BundleChunk> {
    const hash = createHash('sha256');
    for (const chunk of chunked(path, parts, chunkBytes)) {
      hash.update(chunk.data);
      yield chunk;
    }
    contentHashes[path] = hash.digest('hex');
  }
  const json = (value: unknown): Uint8Array[] => [new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`)];

  let card: ModelCard | undefined;
  for (const seed of seeds) {
    const loaded = await sources.models.load(job.id, seed);
    card ??= loaded.card;
    yield* file(
      seedWeightsPath(seed),
      safetensorsParts(loaded.weights, 'F32', { format: 'steadytune', jobId: job.id, seed: String(seed) }),
    );
  }
  if (card === undefined) throw new ServiceError('FAILED_PRECONDITION', `job ${job.id} has no trained model to export`);
  const { preprocessing, datasetHashes } = await describeData(job, card, sources.datasets);
  yield* file(MODEL_JSON, json(modelDescription({ job, card, seeds, preprocessing, vote: delivery.mode === 'ensemble' })));
  if (delivery.mode === 'ensemble') yield* file(ENSEMBLE_JSON, json(ensembleManifest(seeds)));
  const runCardBody = runCard({ job, seeds, versions: softwareVersions(), contentHashes: { ...contentHashes }, datasetHashes });
  yield* file(RUN_CARD_JSON, json(runCardBody));
}

const BUILTIN_IMAGE: ImagePreprocessing = { height: 28, width: 28, channels: 1, layout: 'channels_last', scale: 'pixel / 255, in [0, 1]' };

/** Preprocessing from the training dataset (registered: its report and vocabulary; built-in: 28x28 grey). */
async function describeData(
  job: Job,
  card: ModelCard,
  datasets: DatasetRegistry | undefined,
): Promise<{ preprocessing: Preprocessing; datasetHashes: Record<string, string> }> {
  const registered = async (selection: DatasetSelection) =>
    selection.source.kind === 'registered' && datasets !== undefined ? datasets.get(job.tenant, selection.source.datasetId) : undefined;
  const train = await registered(job.spec.train);
  const sameDataset = JSON.stringify(job.spec.validation.source) === JSON.stringify(job.spec.train.source);
  const validation = sameDataset ? train : await registered(job.spec.validation);
  const datasetHashes: Record<string, string> = {
    ...(train === undefined ? {} : { train: train.contentHash }),
    ...(validation === undefined ? {} : { validation: validation.contentHash }),
  };
  const { inputs } = card;
  if (inputs.kind === 'tokens') {
    const tokens = train?.vocabulary?.tokens ?? card.vocabulary;
    return {
      preprocessing: {
        kind: 'tokens',
        seqLen: inputs.seqLen,
        vocabSize: inputs.vocabSize,
        pairs: inputs.hasSegments,
        ...(tokens === undefined ? {} : { tokenizer: wordTokenizer(tokens) }),
      },
      datasetHashes,
    };
  }
  const shape = train?.report.imageShape;
  const image: ImagePreprocessing | undefined =
    shape !== undefined
      ? { ...shape, layout: 'channels_last', scale: shape.channels === 3 ? 'RGB / 255' : 'grey = (0.299 R + 0.587 G + 0.114 B) / 255' }
      : job.spec.train.source.kind === 'builtin'
        ? BUILTIN_IMAGE
        : undefined;
  const note = image === undefined ? 'feature values exactly as the dataset rows give them' : 'flattened image, channels last';
  return { preprocessing: { kind: 'features', dim: inputs.dim, ...(image === undefined ? {} : { image }), note }, datasetHashes };
}
