// The part of the engine's public surface that does not load TF.js. Code that runs on the main
// thread (rpc/, data/, jobs/ outside worker/, observability/, the composition roots) imports
// from here, so the main thread never starts a TF.js backend; index.ts re-exports all of it.
// Only modules free of TF.js at run time may be re-exported by value (.dependency-cruiser.cjs
// checks it).

// The engine's vocabulary: specs, example sets, weights, checkpoints, evaluations, telemetry.
export type * from './types.js';

// Accuracy and the collapsed/degenerate verdict from host-side predictions: the jobs layer's
// ensemble vote applies the very rule the trainer's evaluation does.
export {
  COLLAPSE_MAX_OTHER_RECALL,
  COLLAPSE_MIN_EXCESS_SHARE,
  classificationVerdict,
  DEGENERATE_MAX_ADJUSTED_BALANCED_ACCURACY,
  summarizeEvaluation,
} from './classification-metrics.js';

// Weights <-> TF.js's artifact format (model.json + weights.bin): the bytes are the engine's
// business, the files are jobs/persistence's.
export { decodeWeights, encodeWeights, weightsManifest, WEIGHTS_FILE_NAME, type EncodedWeights } from './weights-format.js';

// safetensors files, written part by part: model export streams seed weights in this format.
export { safetensorsParts, type TensorToWrite, type WritableDtype } from './models/pretrained/safetensors-writer.js';

// The stores a pretrained backbone caches into; server/data implements them on disk.
export type { FeatureStore } from './models/pretrained/feature-cache.js';
export type { VectorStore, WordVectors } from './models/pretrained/glove-filter.js';
