// ModelSpec (wire) → the engine's ModelSpec: every family's defaults and bounds, with the
// violations named by proto path. Which inputs a family takes is checked where the dataset
// is known: built-ins here, registered datasets against their report (dataset-checks.ts).
import type {
  DenseHead,
  HfEncoderModel,
  MobileNetV2Model,
  ModelSpec as WireModelSpec,
  TfjsLayersModel,
  TransformerModel,
} from '../../client/gen/steadytune/v1/spec.js';
import type { FeatureHeadSpec, ModelSpec } from '../engine/tf-free.js';
import type { DatasetSelection } from '../jobs/types.js';
import type { FieldViolations } from './field-violations.js';
import { POOLINGS } from './spec-enums.js';

export const DEFAULT_MLP_HIDDEN_UNITS: readonly number[] = [256, 128];
export const DEFAULT_MOBILENET_INPUT_SIZE = 64;
const MOBILENET_STRIDE = 32;
const MAX_MOBILENET_INPUT_SIZE = 224;
const MAX_TRAINABLE_BLOCKS = 4;
const MAX_HIDDEN_LAYERS = 16;
const MAX_PATH_CHARS = 1024;

export function resolveModel(v: FieldViolations, model: WireModelSpec | undefined, path: string, train?: DatasetSelection): ModelSpec {
  const family = model?.family;
  if (family === undefined) return { family: 'mlp', hiddenUnits: [...DEFAULT_MLP_HIDDEN_UNITS], dropout: 0 };
  const at = `${path}.${snakeCase(family.$case)}`;
  // Built-ins are dense pixel vectors; token families need a registered text dataset.
  const tokenFamily = family.$case === 'transformer' || family.$case === 'gloveBag' || family.$case === 'hfEncoder';
  if (tokenFamily && train?.source.kind === 'builtin') {
    v.add(at, `needs a tokenized text dataset; ${train.source.name} has feature vectors`);
  }
  switch (family.$case) {
    case 'mlp': {
      const hiddenUnits = resolveHiddenUnits(v, family.value.hiddenUnits, `${at}.hidden_units`);
      return {
        family: 'mlp',
        hiddenUnits: hiddenUnits.length === 0 ? [...DEFAULT_MLP_HIDDEN_UNITS] : hiddenUnits,
        dropout: resolveDropout(v, family.value.dropout, `${at}.dropout`),
      };
    }
    case 'transformer':
      return resolveTransformer(v, family.value, at);
    case 'mobilenetV2':
      return resolveMobileNet(v, family.value, at);
    case 'gloveBag':
      return { family: 'glove_bag', trainEmbedding: family.value.trainEmbedding, ...resolveHead(v, family.value.head, `${at}.head`) };
    case 'layersModel':
      return resolveLayersModel(v, family.value, at);
    case 'hfEncoder':
      return resolveHfEncoder(v, family.value, at);
  }
}

function resolveTransformer(v: FieldViolations, t: TransformerModel, at: string): ModelSpec {
  const dModel = v.integer(`${at}.d_model`, t.dModel, 128, 1, 4096);
  const heads = v.integer(`${at}.heads`, t.heads, 4, 1, 64);
  if (dModel % heads !== 0) v.add(`${at}.heads`, `must divide d_model (${dModel})`);
  return {
    family: 'transformer',
    dModel,
    heads,
    layers: v.integer(`${at}.layers`, t.layers, 2, 1, 48),
    ffDim: v.integer(`${at}.ff_dim`, t.ffDim, 512, 1, 16384),
    pooling: v.enumValue(`${at}.pooling`, t.pooling, POOLINGS, 'Pooling') ?? 'cls',
    dropout: resolveDropout(v, t.dropout, `${at}.dropout`),
  };
}

function resolveMobileNet(v: FieldViolations, m: MobileNetV2Model, at: string): ModelSpec {
  const inputSize = m.inputSize === 0 ? DEFAULT_MOBILENET_INPUT_SIZE : m.inputSize;
  if (inputSize % MOBILENET_STRIDE !== 0 || inputSize > MAX_MOBILENET_INPUT_SIZE) {
    v.add(
      `${at}.input_size`,
      `must be a multiple of ${MOBILENET_STRIDE} in ${MOBILENET_STRIDE}..${MAX_MOBILENET_INPUT_SIZE} (got ${m.inputSize})`,
    );
  }
  if (m.trainableBlocks > MAX_TRAINABLE_BLOCKS) {
    v.add(`${at}.trainable_blocks`, `must be 0..${MAX_TRAINABLE_BLOCKS} (got ${m.trainableBlocks})`);
  }
  return { family: 'mobilenet_v2', inputSize, trainableBlocks: m.trainableBlocks, ...resolveHead(v, m.head, `${at}.head`) };
}

function resolveLayersModel(v: FieldViolations, m: TfjsLayersModel, at: string): ModelSpec {
  checkRelativePath(v, m.path, `${at}.path`);
  if (m.featureLayer.length > 256) v.add(`${at}.feature_layer`, 'at most 256 characters');
  return {
    family: 'layers_model',
    path: m.path,
    ...(m.featureLayer === '' ? {} : { featureLayer: m.featureLayer }),
    ...resolveHead(v, m.head, `${at}.head`),
  };
}

function resolveHfEncoder(v: FieldViolations, m: HfEncoderModel, at: string): ModelSpec {
  checkRelativePath(v, m.path, `${at}.path`);
  if (m.trainableLayers !== undefined && m.trainableLayers > 1000) {
    v.add(`${at}.trainable_layers`, `must be at most 1000 (got ${m.trainableLayers})`);
  }
  return {
    family: 'hf_encoder',
    path: m.path,
    pooling: v.enumValue(`${at}.pooling`, m.pooling, POOLINGS, 'Pooling') ?? 'cls',
    dropout: resolveDropout(v, m.dropout, `${at}.dropout`),
    ...(m.trainableLayers === undefined ? {} : { trainableLayers: m.trainableLayers }),
    ...(m.trainEmbeddings === undefined ? {} : { trainEmbeddings: m.trainEmbeddings }),
  };
}

/** An absent head is a linear one without dropout. */
function resolveHead(v: FieldViolations, head: DenseHead | undefined, at: string): FeatureHeadSpec {
  return {
    hiddenUnits: resolveHiddenUnits(v, head?.hiddenUnits ?? [], `${at}.hidden_units`),
    dropout: resolveDropout(v, head?.dropout ?? 0, `${at}.dropout`),
  };
}

function resolveHiddenUnits(v: FieldViolations, units: readonly number[], at: string): number[] {
  if (units.length > MAX_HIDDEN_LAYERS) v.add(at, `at most ${MAX_HIDDEN_LAYERS} layers`);
  units.forEach((width, i) => v.integer(`${at}[${i}]`, width, width, 1, 16384));
  return [...units];
}

function resolveDropout(v: FieldViolations, dropout: number, at: string): number {
  return v.real(at, dropout, { min: 0, max: 1, openMax: true });
}

/** Lexical checks only: the data layer confines the real path (symlinks included) when it reads. */
function checkRelativePath(v: FieldViolations, value: string, at: string): void {
  if (value === '') v.add(at, "required: a path relative to the server's data root");
  else if (value.length > MAX_PATH_CHARS) v.add(at, `at most ${MAX_PATH_CHARS} characters`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL and control characters are never part of a file name we accept
  else if (/[\u0000-\u001f]/.test(value)) v.add(at, 'must not contain control characters');
  else if (value.startsWith('/') || value.split(/[\\/]/).includes('..')) v.add(at, 'must stay inside the data root (relative, no "..")');
}

/** The oneof case as its proto field name: mobilenetV2 → mobilenet_v2. */
function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}
