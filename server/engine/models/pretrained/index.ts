// Pretrained backbones: the public surface of this folder. Each family is a pure builder
// over artifacts the caller loads once (server/data/pretrained-files.ts, nsfwjs's bundle)
// plus, for frozen parts, features computed once per dataset and kept in an injected store.
export type {
  FeatureHeadSpec,
  GloveBagModelSpec,
  HfEncoderModelSpec,
  LayersModelModelSpec,
  MobileNetV2ModelSpec,
  PretrainedFamily,
  PretrainedModelSpec,
} from './specs.js';
export { cachedFeatureSet, featureCacheKey, type CachedFeatures, type FeatureExtractor, type FeatureStore } from './feature-cache.js';
export { loadNsfwjsMobileNetV2Artifacts, nsfwjsMobileNetV2Handler, NSFWJS_MOBILENET_V2_ID } from './nsfwjs-mobilenet.js';
export {
  checkMobileNetOptions,
  createMobileNetClassifier,
  DEFAULT_MOBILENET_INPUT_SIZE,
  inferImageShape,
  loadMobileNetV2Backbone,
  mobilenetFeatureExtractor,
  mobileNetOutputShape,
  type ExtractorOptions,
  type ImageShape,
  type MobileNetBackbone,
  type MobileNetOptions,
  type MobileNetSource,
} from './mobilenet.js';
export { MAX_TRAINABLE_BLOCKS, TAIL_BLOCKS } from './mobilenet-tail.js';
export {
  cachedWordVectors,
  createGloveBagClassifier,
  filterWinkEmbeddings,
  GLOVE_EMBEDDING_NAME,
  gloveEmbeddingTable,
  type EmbeddingTable,
  type VectorStore,
  type WordVectors,
} from './glove.js';
export {
  createLayersModelClassifier,
  layersModelFeatureExtractor,
  loadLayersBackbone,
  type LayersBackbone,
  type LayersBackboneOptions,
} from './layers-model.js';
export { parseSafetensors, type ParsedSafetensors, type SafetensorsTensor } from './safetensors.js';
export {
  encodeSafetensors,
  safetensorsHeader,
  safetensorsParts,
  tensorBytes,
  type TensorToWrite,
  type WritableDtype,
} from './safetensors-writer.js';
export { parseTokenizerJson, parseVocabTxt, remapTokenEmbeddings, type HfVocabulary } from './hf-vocabulary.js';
export {
  createHfEncoderClassifier,
  hfTransformerSpec,
  mapHfCheckpoint,
  parseHfConfig,
  type HfEncoderConfig,
  type HfTarget,
  type MappedCheckpoint,
} from './hf-encoder.js';
