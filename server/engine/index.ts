// The engine's public surface: jobs/ and rpc/ import from here only.
export type * from './types.js';
export { train, type TrainRequest } from './trainer.js';
export { plannedOptimizerSteps } from './batching.js';
export { evaluateWeights, predict } from './inference.js';
export {
  classificationVerdict, COLLAPSE_MAX_OTHER_RECALL, COLLAPSE_MIN_EXCESS_SHARE, DEGENERATE_MAX_ADJUSTED_BALANCED_ACCURACY, summarizeEvaluation,
} from './classification-metrics.js';
export { createMethod } from './methods/index.js';
export type { TrainingMethod } from './methods/method.js';
export { dynamicScaler } from './scaler.js';
export { buildModel, describeInputs, modelBuilderWith, type BackboneArtifacts, type InputMeta, type ModelBuilder } from './models/index.js';
export {
  cachedFeatureSet, cachedWordVectors, gloveEmbeddingTable, layersModelFeatureExtractor, loadLayersBackbone,
  loadMobileNetV2Backbone, mapHfCheckpoint, mobilenetFeatureExtractor, parseHfConfig, parseSafetensors,
  parseTokenizerJson, parseVocabTxt, type FeatureExtractor, type FeatureStore, type LayersBackbone, type MobileNetBackbone, type VectorStore, type WordVectors,
} from './models/pretrained/index.js';
