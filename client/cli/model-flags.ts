// `start --model NAME` and the model's main sizes as flags, so the common models need no spec
// file. A size flag the chosen model does not have is an error, not a silent no-op.
import { Pooling, type DenseHead, type ModelSpec } from '../index.js';
import { parseCount, parseCountList, stringFlag, UsageError, type FlagValues } from './args.js';

type Family = NonNullable<ModelSpec['family']>;
type FamilyCase = Family['$case'];

/** The names the flag takes (the spec file's snake_case keys) and the families they pick. */
const MODEL_NAMES: Record<string, FamilyCase> = {
  mlp: 'mlp',
  transformer: 'transformer',
  glove_bag: 'gloveBag',
  mobilenet_v2: 'mobilenetV2',
  layers_model: 'layersModel',
  hf_encoder: 'hfEncoder',
};

const displayName = (family: FamilyCase): string => Object.entries(MODEL_NAMES).find(([, value]) => value === family)?.[0] ?? family;

/** Which models each model flag belongs to. */
export const MODEL_PARAMETER_FAMILIES: Record<string, readonly FamilyCase[]> = {
  hidden: ['mlp', 'gloveBag', 'mobilenetV2', 'layersModel'],
  'd-model': ['transformer'],
  heads: ['transformer'],
  layers: ['transformer'],
  'ff-dim': ['transformer'],
  pooling: ['transformer', 'hfEncoder'],
  'input-size': ['mobilenetV2'],
  'trainable-blocks': ['mobilenetV2'],
  'trainable-layers': ['hfEncoder'],
  'train-embedding': ['gloveBag', 'hfEncoder'],
  'model-path': ['layersModel', 'hfEncoder'],
  'feature-layer': ['layersModel'],
};

const POOLINGS: Record<string, Pooling> = { cls: Pooling.POOLING_CLS, mean: Pooling.POOLING_MEAN };

function emptyFamily(family: FamilyCase): Family {
  switch (family) {
    case 'mlp':
      return { $case: 'mlp', value: { hiddenUnits: [], dropout: 0 } };
    case 'transformer':
      return {
        $case: 'transformer',
        value: { dModel: 0, heads: 0, layers: 0, ffDim: 0, pooling: Pooling.POOLING_UNSPECIFIED, dropout: 0 },
      };
    case 'mobilenetV2':
      return { $case: 'mobilenetV2', value: { inputSize: 0, trainableBlocks: 0 } };
    case 'gloveBag':
      return { $case: 'gloveBag', value: { trainEmbedding: false } };
    case 'layersModel':
      return { $case: 'layersModel', value: { path: '', featureLayer: '' } };
    case 'hfEncoder':
      return { $case: 'hfEncoder', value: { path: '', pooling: Pooling.POOLING_UNSPECIFIED, dropout: 0 } };
  }
}

function positive(flag: string, text: string): number {
  const value = parseCount(flag, text);
  if (value === 0) throw new UsageError(`--${flag}: '${text}' must be at least 1`);
  return value;
}

function withHidden(head: DenseHead | undefined, hidden: number[]): DenseHead {
  return { hiddenUnits: hidden, dropout: head?.dropout ?? 0 };
}

/**
 * Applies `--model` and the size flags on top of `current` (the spec file's model or the
 * default). Without `--model`, `--hidden` alone keeps meaning an MLP unless the file chose a
 * model whose head takes it.
 */
export function applyModelFlags(current: ModelSpec | undefined, flags: FlagValues): ModelSpec | undefined {
  const modelText = stringFlag(flags, 'model');
  let family = current?.family;
  if (modelText !== undefined) {
    const chosen = MODEL_NAMES[modelText.toLowerCase()];
    if (chosen === undefined) throw new UsageError(`--model: '${modelText}' is not one of ${Object.keys(MODEL_NAMES).join(', ')}`);
    // Keep the file's sizes when the flag names the same model.
    if (family?.$case !== chosen) family = emptyFamily(chosen);
  } else if (
    stringFlag(flags, 'hidden') !== undefined &&
    (family === undefined || !MODEL_PARAMETER_FAMILIES.hidden.includes(family.$case))
  ) {
    family = emptyFamily('mlp');
  }
  const given = (flag: string): boolean => flags[flag] !== undefined;
  for (const [flag, owners] of Object.entries(MODEL_PARAMETER_FAMILIES)) {
    if (given(flag) && (family === undefined || !owners.includes(family.$case))) {
      const which = family === undefined ? 'the default model' : displayName(family.$case);
      throw new UsageError(`--${flag} applies to ${owners.map(displayName).join(', ')} only, not ${which}: choose one with --model`);
    }
  }
  if (family === undefined) return current;
  const text = (flag: string): string | undefined => stringFlag(flags, flag);
  const hiddenText = text('hidden');
  const hidden = hiddenText === undefined ? undefined : parseCountList('hidden', hiddenText);
  const trainEmbedding = flags['train-embedding'] === true ? true : undefined;
  const pathText = text('model-path');
  if (pathText !== undefined && pathText.trim() === '') throw new UsageError('--model-path: give a path under the server data root');
  switch (family.$case) {
    case 'mlp':
      if (hidden !== undefined) family.value.hiddenUnits = hidden;
      break;
    case 'transformer': {
      const value = family.value;
      const size = (flag: string, apply: (n: number) => void): void => {
        const given = text(flag);
        if (given !== undefined) apply(positive(flag, given));
      };
      size('d-model', (n) => (value.dModel = n));
      size('heads', (n) => (value.heads = n));
      size('layers', (n) => (value.layers = n));
      size('ff-dim', (n) => (value.ffDim = n));
      if (value.dModel > 0 && value.heads > 0 && value.dModel % value.heads !== 0)
        throw new UsageError(`--d-model ${value.dModel} must be a multiple of --heads ${value.heads}`);
      const pooling = text('pooling');
      if (pooling !== undefined) value.pooling = parsePooling(pooling);
      break;
    }
    case 'mobilenetV2': {
      const inputSize = text('input-size');
      if (inputSize !== undefined) {
        const side = parseCount('input-size', inputSize);
        if (side < 32 || side > 224 || side % 32 !== 0)
          throw new UsageError(`--input-size: '${inputSize}' must be a multiple of 32 from 32 to 224`);
        family.value.inputSize = side;
      }
      const blocks = text('trainable-blocks');
      if (blocks !== undefined) {
        const count = parseCount('trainable-blocks', blocks);
        if (count > 4) throw new UsageError(`--trainable-blocks: '${blocks}' must be 0 (frozen) to 4`);
        family.value.trainableBlocks = count;
      }
      if (hidden !== undefined) family.value.head = withHidden(family.value.head, hidden);
      break;
    }
    case 'gloveBag':
      if (trainEmbedding !== undefined) family.value.trainEmbedding = trainEmbedding;
      if (hidden !== undefined) family.value.head = withHidden(family.value.head, hidden);
      break;
    case 'layersModel': {
      if (pathText !== undefined) family.value.path = pathText;
      const featureLayer = text('feature-layer');
      if (featureLayer !== undefined) family.value.featureLayer = featureLayer;
      if (hidden !== undefined) family.value.head = withHidden(family.value.head, hidden);
      break;
    }
    case 'hfEncoder': {
      if (pathText !== undefined) family.value.path = pathText;
      const pooling = text('pooling');
      if (pooling !== undefined) family.value.pooling = parsePooling(pooling);
      const layers = text('trainable-layers');
      if (layers !== undefined) family.value.trainableLayers = parseCount('trainable-layers', layers);
      if (trainEmbedding !== undefined) family.value.trainEmbeddings = trainEmbedding;
      break;
    }
  }
  if ((family.$case === 'layersModel' || family.$case === 'hfEncoder') && family.value.path === '')
    throw new UsageError(`--model ${displayName(family.$case)} needs --model-path (a path under the server data root)`);
  return { family };
}

function parsePooling(text: string): Pooling {
  const pooling = POOLINGS[text.toLowerCase()];
  if (pooling === undefined) throw new UsageError(`--pooling: '${text}' is not one of ${Object.keys(POOLINGS).join(', ')}`);
  return pooling;
}
