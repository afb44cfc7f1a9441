// The engine's front door: the other server layers use the engine through this file only
// (tests and benchmarks may reach into internals). Importing it loads TF.js, so it is for the
// worker thread (jobs/worker/); main-thread code imports tf-free.ts, re-exported here whole.

// Vocabulary, metrics and the weights format: everything that works without TF.js.
export * from './tf-free.js';

// Backend choice: a worker picks TF.js's backend once, and a run whose family lacks kernels on
// it falls back to one that has them.
export { selectBackend, trainingFallbackFor } from './backend.js';

// Training and evaluation, what a worker task runs.
export { train, type TrainRequest } from './trainer.js';
export { plannedOptimizerSteps } from './batching.js';
export { evaluateWeights, predict } from './inference.js';

// Methods and the DSGD scaler, for callers that compose their own training loop.
export { createMethod } from './methods/index.js';
export type { TrainingMethod } from './methods/method.js';
export { dynamicScaler } from './scaler.js';

// Models: a builder per job, handed the pretrained artifacts the host loaded.
export { buildModel, describeInputs, modelBuilderWith, type BackboneArtifacts, type InputMeta, type ModelBuilder } from './models/index.js';

// Pretrained backbones: loaders and parsers over files the host reads, and the feature
// extractors whose output the host caches (the store types are in tf-free.ts).
export {
  cachedFeatureSet,
  cachedWordVectors,
  gloveEmbeddingTable,
  layersModelFeatureExtractor,
  loadLayersBackbone,
  loadMobileNetV2Backbone,
  mapHfCheckpoint,
  mobilenetFeatureExtractor,
  parseHfConfig,
  parseSafetensors,
  parseTokenizerJson,
  parseVocabTxt,
  type FeatureExtractor,
  type LayersBackbone,
  type MobileNetBackbone,
} from './models/pretrained/index.js';
