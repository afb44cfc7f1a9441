// The documents of an exported model bundle (docs/MODEL-BUNDLE.md): model.json (what inference
// needs), ensemble.json (when the delivery is the seeds' vote) and run-card.json (what was
// trained and how it did). Plain data in, JSON out: model-export.ts reads the files and streams.
import type { Evaluation, ModelSpec } from '../engine/tf-free.js';
import type { Job, StabilitySummary } from './types.js';
import type { ModelCard } from './worker/protocol.js';

export const BUNDLE_FORMAT = 'steadytune-model-bundle';
export const BUNDLE_FORMAT_VERSION = 1;
export const MODEL_JSON = 'model.json';
export const ENSEMBLE_JSON = 'ensemble.json';
export const RUN_CARD_JSON = 'run-card.json';

/** Families whose whole model is in the seed's weights; the others need their backbone to travel too. */
export const EXPORTABLE_FAMILIES: ReadonlySet<ModelSpec['family']> = new Set(['mlp', 'transformer']);

export function seedWeightsPath(seed: number): string {
  return `seed-${seed}/model.safetensors`;
}

/** How inputs reach the model: what the dataset layer did to raw rows before training. */
export type Preprocessing =
  | { readonly kind: 'features'; readonly dim: number; readonly image?: ImagePreprocessing; readonly note: string }
  | {
      readonly kind: 'tokens';
      readonly seqLen: number;
      readonly vocabSize: number;
      readonly pairs: boolean;
      readonly tokenizer?: WordTokenizer;
    };

export interface ImagePreprocessing {
  readonly height: number;
  readonly width: number;
  readonly channels: 1 | 3;
  readonly layout: 'channels_last';
  readonly scale: string;
}

export interface WordTokenizer {
  readonly kind: 'steadytune-words';
  readonly normalize: 'NFC';
  readonly lowercase: true;
  readonly wordPattern: string;
  readonly specialTokens: { readonly pad: 0; readonly cls: 1; readonly sep: 2; readonly unk: 3 };
  readonly framing: string;
  readonly truncation: string;
  /** Token strings by id. */
  readonly vocabulary: readonly string[];
}

/** The tokenizer of registered text datasets (server/data/tokenizer.ts), as data. */
export function wordTokenizer(vocabulary: readonly string[]): WordTokenizer {
  return {
    kind: 'steadytune-words',
    normalize: 'NFC',
    lowercase: true,
    wordPattern: String.raw`[\p{L}\p{M}\p{N}]+|[^\s\p{L}\p{M}\p{N}]`,
    specialTokens: { pad: 0, cls: 1, sep: 2, unk: 3 },
    framing: '[CLS] a [SEP] (pairs: [CLS] a [SEP] b [SEP]; segment 0 up to the first [SEP], 1 after), padded with [PAD] to seqLen',
    truncation: 'single texts keep the first seqLen-2 words; pairs drop the last word of the longer text until they fit',
    vocabulary,
  };
}

/** The forward pass, named by the safetensors tensors it uses. */
function architecture(model: ModelSpec): Record<string, unknown> {
  if (model.family === 'mlp') {
    const dense = model.hiddenUnits.map((_, i) => ({
      op: 'dense',
      kernel: `mlp/dense${i}/kernel`,
      bias: `mlp/dense${i}/bias`,
      activation: 'relu',
    }));
    return {
      convention: 'row vectors: y = x @ kernel + bias, kernel [in, out]; dropout is training-only',
      layers: [...dense, { op: 'dense', kernel: 'head/kernel', bias: 'head/bias', activation: 'none' }],
      output: 'logits [numClasses]; probabilities = softmax(logits)',
    };
  }
  if (model.family === 'transformer') {
    return {
      convention: 'row vectors, kernels [in, out]; token id 0 is padding, masked from attention keys and mean pooling',
      embeddings: 'embeddings/token[id] + embeddings/position[i] (+ embeddings/segment[segment id]), then layer norm embeddings/layer_norm',
      encoderLayer: 'pre-LN: x + attention(norm(x)), then x + ffn(norm(x)); ffn = dense -> gelu (tanh approximation) -> dense',
      attention: `${model.heads} heads of ${model.dModel / model.heads}, scores scaled by 1/sqrt(head size), padded keys get -1e9`,
      layerNormEpsilon: 1e-5,
      finalNorm: 'encoder/final_norm after the last layer',
      pooling: model.pooling === 'cls' ? 'position 0 ([CLS])' : 'mean over non-padding positions',
      head: 'logits = pooled @ head/kernel + head/bias; probabilities = softmax(logits)',
    };
  }
  return { family: model.family };
}

export interface ModelDescriptionInput {
  readonly job: Job;
  readonly card: ModelCard;
  readonly seeds: readonly number[];
  readonly preprocessing: Preprocessing;
  /** The job delivers the seeds' majority vote (DELIVERY_ENSEMBLE), described by ensemble.json. */
  readonly vote: boolean;
}

export function modelDescription({ job, card, seeds, preprocessing, vote }: ModelDescriptionInput): Record<string, unknown> {
  return {
    format: BUNDLE_FORMAT,
    formatVersion: BUNDLE_FORMAT_VERSION,
    jobId: job.id,
    family: card.model.family,
    model: card.model,
    inputs: card.inputs,
    preprocessing,
    numClasses: card.numClasses,
    // Index i of the logits and probabilities is classNames[i].
    classNames: card.classNames,
    architecture: architecture(card.model),
    weights: { dtype: 'F32', byteOrder: 'little', files: Object.fromEntries(seeds.map((seed) => [String(seed), seedWeightsPath(seed)])) },
    delivery: vote ? 'ensemble' : 'per_seed',
  };
}

export function ensembleManifest(seeds: readonly number[]): Record<string, unknown> {
  return {
    kind: 'majority_vote',
    members: seeds.map((seed) => ({ seed, weights: seedWeightsPath(seed) })),
    vote: "each member's argmax of probabilities; the class with most votes wins, ties to the lowest class id",
    probabilities: 'vote shares: the fraction of members voting for each class (what Predict with seed 0 returns)',
  };
}

/** An Evaluation without its per-example predictions (they belong to the validation set, not the model). */
export function metricsOf(evaluation: Evaluation): Omit<Evaluation, 'predictions'> {
  const { predictions: _predictions, ...metrics } = evaluation;
  return metrics;
}

function summaryOf(summary: StabilitySummary | undefined): Record<string, unknown> | undefined {
  if (summary === undefined) return undefined;
  const { ensemble, delivery, ...rest } = summary;
  const delivered =
    delivery === undefined
      ? undefined
      : {
          ...delivery,
          ...(delivery.validation === undefined ? {} : { validation: metricsOf(delivery.validation) }),
          ...(delivery.test === undefined ? {} : { test: metricsOf(delivery.test) }),
        };
  return {
    ...rest,
    ...(ensemble === undefined ? {} : { ensemble: metricsOf(ensemble) }),
    ...(delivered === undefined ? {} : { delivery: delivered }),
  };
}

export interface RunCardInput {
  readonly job: Job;
  readonly seeds: readonly number[];
  readonly versions: Readonly<Record<string, string>>;
  /** sha256 (hex) of every other file of the bundle, by path. */
  readonly contentHashes: Readonly<Record<string, string>>;
  /** Registered datasets' content hashes, by split. */
  readonly datasetHashes: Readonly<Record<string, string>>;
}

export function runCard({ job, seeds, versions, contentHashes, datasetHashes }: RunCardInput): Record<string, unknown> {
  return {
    format: BUNDLE_FORMAT,
    formatVersion: BUNDLE_FORMAT_VERSION,
    jobId: job.id,
    displayName: job.displayName,
    createTime: new Date(job.createTime).toISOString(),
    spec: job.spec,
    seeds,
    datasetHashes,
    backend: job.backend,
    versions,
    runs: job.runs.map((run) => ({
      seed: run.seed,
      state: run.state,
      steps: run.steps,
      delivered: seeds.includes(run.seed),
      ...(run.metrics === undefined ? {} : { verdict: run.metrics.verdict, metrics: metricsOf(run.metrics) }),
      ...(run.testMetrics === undefined ? {} : { testMetrics: metricsOf(run.testMetrics) }),
      ...(run.phases === undefined ? {} : { phases: run.phases }),
    })),
    summary: summaryOf(job.summary),
    contentHashes,
  };
}
