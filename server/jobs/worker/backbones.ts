// Pretrained backbones inside a worker: loads what a model spec's family needs (nsfwjs's
// MobileNetV2, a LayersModel or a Hugging Face checkpoint under the data root, GloVe vectors
// filtered to the dataset's vocabulary) and turns examples into what the model trains on.
// Frozen parts run once per dataset content: their features are cached on disk under the data
// directory, keyed by backbone id + content hash + split. Runs inside workers only (TF.js).
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  FileFeatureCache,
  FileVectorCache,
  gloveFileChunks,
  readHfCheckpointFiles,
  readLayersModelFiles,
  vocabularyKey,
  WINK_GLOVE_SOURCE,
} from '../../data/index.js';
import {
  buildModel,
  modelBuilderWith,
  type InputMeta,
  type ModelBuilder,
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
  type ExampleInputs,
  type ExampleSet,
  type ModelSpec,
} from '../../engine/index.js';
import type { WorkerConfig } from './protocol.js';

/** The frozen GloVe table's non-GloVe rows are drawn from this seed, so Evaluate rebuilds the same table. */
export const GLOVE_TABLE_SEED = 0;

export interface PreparedBackbone {
  /** Builds the model with the backbone's artifacts (tail weights, embedding table, checkpoint). */
  readonly builder: ModelBuilder;
  /** The set with its inputs as the model takes them; `cacheKey` names the content (hash + split) for the feature cache. */
  examplesFor(set: ExampleSet, cacheKey: string | undefined): Promise<ExampleSet>;
  /** The same for unlabelled inputs (Predict): never cached. */
  inputsFor(inputs: ExampleInputs): Promise<ExampleInputs>;
  /** True when examplesFor runs a frozen backbone (and so uses its cache key). */
  readonly extractsFeatures: boolean;
}

export interface BackboneContext {
  readonly config: WorkerConfig;
  /** Raw inputs of the data the model sees (token families: the vocabulary's sequence length and segments). */
  readonly inputs: InputMeta;
  /** The dataset's token strings by id (token families). */
  readonly vocabulary?: readonly string[];
  readonly notice: (message: string) => void;
}

const PLAIN: PreparedBackbone = {
  builder: buildModel,
  examplesFor: async (set) => set,
  inputsFor: async (inputs) => inputs,
  extractsFeatures: false,
};

// Loading a backbone takes seconds (decoding nsfwjs's weights, building the graph): kept per
// worker thread. A worker runs one task at a time, so an evicted one is no longer in use.
const mobileNets = new Map<string, Promise<MobileNetBackbone>>();
const layersBackbones = new Map<string, Promise<LayersBackbone>>();
const MAX_LAYERS_BACKBONES = 2;

async function cachedLayersBackbone(modelPath: string, featureLayer: string | undefined, config: WorkerConfig): Promise<LayersBackbone> {
  const files = await readLayersModelFiles(modelPath, { dataRoot: config.dataRoot });
  const key = `${files.sha256}@${featureLayer ?? ''}`;
  let loading = layersBackbones.get(key);
  if (loading === undefined) {
    loading = loadLayersBackbone(tf.io.fromMemory(files.artifacts), {
      fingerprint: files.sha256,
      ...(featureLayer === undefined ? {} : { featureLayer }),
    });
    layersBackbones.set(key, loading);
    loading.catch(() => layersBackbones.delete(key));
    for (const [oldKey, old] of layersBackbones) {
      if (layersBackbones.size <= MAX_LAYERS_BACKBONES) break;
      layersBackbones.delete(oldKey);
      void old.then(
        (backbone) => backbone.dispose(),
        () => undefined,
      );
    }
  }
  return loading;
}

function cacheDirectory(config: WorkerConfig, name: string): string {
  if (config.dataDir === undefined) throw new Error("pretrained backbones need the worker's data directory (for their caches)");
  return path.join(config.dataDir, 'cache', name);
}

function extracting(extractor: FeatureExtractor, store: FileFeatureCache, builder: ModelBuilder): PreparedBackbone {
  return {
    builder,
    extractsFeatures: true,
    async examplesFor(set, cacheKey) {
      if (cacheKey === undefined) return { ...set, inputs: await extractor.extract(asFeatures(set.inputs)) };
      return (await cachedFeatureSet(extractor, set, cacheKey, store)).set;
    },
    inputsFor: async (inputs) => extractor.extract(asFeatures(inputs)),
  };
}

function asFeatures(inputs: ExampleInputs): Extract<ExampleInputs, { kind: 'features' }> {
  if (inputs.kind !== 'features') throw new Error('this backbone takes pixel (feature) rows, not token ids');
  return inputs;
}

function requireVocabulary(context: BackboneContext, family: string): readonly string[] {
  if (context.vocabulary === undefined || context.inputs.kind !== 'tokens') {
    throw new Error(`${family} needs a registered text dataset (token ids and its vocabulary)`);
  }
  return context.vocabulary;
}

/** What the spec's family needs, loaded; mlp and transformer need nothing. */
export async function prepareBackbone(model: ModelSpec, context: BackboneContext): Promise<PreparedBackbone> {
  const { config } = context;
  switch (model.family) {
    case 'mlp':
    case 'transformer':
      return PLAIN;
    case 'mobilenet_v2': {
      const key = `${model.inputSize}/${model.trainableBlocks}`;
      let loading = mobileNets.get(key);
      if (loading === undefined) {
        loading = loadMobileNetV2Backbone({ inputSize: model.inputSize, trainableBlocks: model.trainableBlocks });
        mobileNets.set(key, loading);
        loading.catch(() => mobileNets.delete(key));
      }
      const backbone = await loading;
      const builder = modelBuilderWith({ family: 'mobilenet_v2', tail: backbone.tail });
      return extracting(mobilenetFeatureExtractor(backbone), new FileFeatureCache(cacheDirectory(config, 'features')), builder);
    }
    case 'layers_model': {
      const backbone = await cachedLayersBackbone(model.path, model.featureLayer, config);
      const builder = modelBuilderWith({ family: 'layers_model' });
      return extracting(layersModelFeatureExtractor(backbone), new FileFeatureCache(cacheDirectory(config, 'features')), builder);
    }
    case 'glove_bag': {
      const tokens = requireVocabulary(context, 'glove_bag');
      const store = new FileVectorCache(cacheDirectory(config, 'vectors'));
      const { vectors, hit } = await cachedWordVectors(store, vocabularyKey(WINK_GLOVE_SOURCE, tokens), tokens, () => gloveFileChunks());
      context.notice(
        `GloVe vectors for ${vectors.words.length} of ${tokens.length} vocabulary tokens (${hit ? 'cached' : 'filtered from the embeddings file'})`,
      );
      return {
        ...PLAIN,
        builder: modelBuilderWith({ family: 'glove_bag', table: gloveEmbeddingTable(tokens, vectors, GLOVE_TABLE_SEED) }),
      };
    }
    case 'hf_encoder': {
      const tokens = requireVocabulary(context, 'hf_encoder');
      if (context.inputs.kind !== 'tokens') throw new Error('hf_encoder needs token inputs');
      const files = await readHfCheckpointFiles(model.path, { dataRoot: config.dataRoot });
      const vocabulary =
        'vocabTxt' in files.vocabulary ? parseVocabTxt(files.vocabulary.vocabTxt) : parseTokenizerJson(files.vocabulary.tokenizerJson);
      const checkpoint = mapHfCheckpoint(
        parseHfConfig(files.config),
        parseSafetensors(files.safetensors).tensors,
        vocabulary,
        { tokens, seqLen: context.inputs.seqLen, hasSegments: context.inputs.hasSegments },
        model,
      );
      checkpoint.notes.forEach((note) => context.notice(`hf_encoder: ${note}`));
      return { ...PLAIN, builder: modelBuilderWith({ family: 'hf_encoder', checkpoint }) };
    }
  }
}
