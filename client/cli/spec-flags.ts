// FineTuneSpec from a JSON/YAML file and/or `start` flags (flags override the file).
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import {
  AlphaSchedule,
  AutoRemedy_Policy,
  BuiltinName,
  BuiltinSplit,
  DatasetSplit,
  Delivery,
  FineTuneSpec,
  ImbalanceKind,
  builtinDataset,
  specDefaults,
  type AutoRemedy,
  type DatasetRef,
  type MethodSpec,
} from '../index.js';
import { parseCount, parseCountList, parseNumber, parseSeeds, stringFlag, UsageError, type FlagValues } from './args.js';
import { applyModelFlags } from './model-flags.js';
import { closestKey, unreadKeys, type UnreadKey } from './unread-keys.js';

const DATASETS: Record<string, BuiltinName> = {
  mnist: BuiltinName.BUILTIN_NAME_MNIST,
  'fashion-mnist': BuiltinName.BUILTIN_NAME_FASHION_MNIST,
};

const SCHEDULES: Record<string, AlphaSchedule> = {
  linear: AlphaSchedule.ALPHA_SCHEDULE_LINEAR,
  cosine: AlphaSchedule.ALPHA_SCHEDULE_COSINE,
  linear_descending: AlphaSchedule.ALPHA_SCHEDULE_LINEAR_DESCENDING,
  static: AlphaSchedule.ALPHA_SCHEDULE_STATIC,
};

const IMBALANCES: Record<string, ImbalanceKind> = {
  none: ImbalanceKind.IMBALANCE_KIND_NONE,
  long_tailed: ImbalanceKind.IMBALANCE_KIND_LONG_TAILED,
  step: ImbalanceKind.IMBALANCE_KIND_STEP,
};

export type MethodName = NonNullable<MethodSpec['method']>['$case'];
export const METHOD_NAMES: readonly MethodName[] = ['fft', 'dsgd', 'focal', 'pcgrad', 'noisytune', 'lnsr', 'swa'];

/** Which method each method-parameter flag belongs to, so a stray one is an error, not a no-op. */
export const PARAMETER_METHODS: Record<string, readonly MethodName[]> = {
  lambda: ['dsgd'],
  schedule: ['dsgd'],
  gamma: ['focal'],
  noise: ['noisytune', 'lnsr'],
  window: ['swa'],
};

function lookup<T>(flag: string, table: Record<string, T>, text: string): T {
  const value = table[text.toLowerCase()];
  if (value === undefined) throw new UsageError(`--${flag}: '${text}' is not one of ${Object.keys(table).join(', ')}`);
  return value;
}

function emptyMethod(name: MethodName): MethodSpec {
  switch (name) {
    case 'fft':
      return { method: { $case: 'fft', value: {} } };
    case 'dsgd':
      return { method: { $case: 'dsgd', value: { schedule: AlphaSchedule.ALPHA_SCHEDULE_UNSPECIFIED } } };
    case 'focal':
      return { method: { $case: 'focal', value: { classWeights: [] } } };
    case 'pcgrad':
      return { method: { $case: 'pcgrad', value: {} } };
    case 'noisytune':
      return { method: { $case: 'noisytune', value: {} } };
    case 'lnsr':
      return { method: { $case: 'lnsr', value: {} } };
    case 'swa':
      return { method: { $case: 'swa', value: { window: 0 } } };
  }
}

function applyMethodFlags(current: MethodSpec | undefined, flags: FlagValues): MethodSpec | undefined {
  const methodText = stringFlag(flags, 'method');
  let method = current;
  if (methodText !== undefined) {
    const name = METHOD_NAMES.find((candidate) => candidate === methodText.toLowerCase());
    if (name === undefined) throw new UsageError(`--method: '${methodText}' is not one of ${METHOD_NAMES.join(', ')}`);
    // Keep the file's parameters when the flag names the same method.
    if (method?.method?.$case !== name) method = emptyMethod(name);
  }
  const chosen = method?.method;
  for (const [flag, owners] of Object.entries(PARAMETER_METHODS)) {
    if (stringFlag(flags, flag) !== undefined && (chosen === undefined || !owners.includes(chosen.$case))) {
      throw new UsageError(`--${flag} applies to ${owners.join(' or ')} only, not ${chosen?.$case ?? 'the default method'}`);
    }
  }
  if (chosen === undefined) return method;
  const number = (flag: string): number | undefined => {
    const text = stringFlag(flags, flag);
    return text === undefined ? undefined : parseNumber(flag, text);
  };
  switch (chosen.$case) {
    case 'dsgd': {
      const schedule = stringFlag(flags, 'schedule');
      chosen.value.lambda = number('lambda') ?? chosen.value.lambda;
      if (schedule !== undefined) chosen.value.schedule = lookup('schedule', SCHEDULES, schedule);
      break;
    }
    case 'focal':
      chosen.value.gamma = number('gamma') ?? chosen.value.gamma;
      break;
    case 'noisytune':
      chosen.value.noise = number('noise') ?? chosen.value.noise;
      break;
    case 'lnsr':
      chosen.value.noiseStd = number('noise') ?? chosen.value.noiseStd;
      break;
    case 'swa': {
      const window = stringFlag(flags, 'window');
      if (window !== undefined) chosen.value.window = parseCount('window', window);
      break;
    }
    default:
      break;
  }
  return method;
}

const DATASET_SPLITS: Record<string, DatasetSplit> = {
  train: DatasetSplit.DATASET_SPLIT_TRAIN,
  validation: DatasetSplit.DATASET_SPLIT_VALIDATION,
  test: DatasetSplit.DATASET_SPLIT_TEST,
};

/** `ds_...[:train|validation|test]` or `mnist[:train|validation]` as a DatasetRef (split unset: the place's own). */
export function parseDatasetRef(flag: string, text: string, classes: number[] = []): DatasetRef {
  const [name = '', splitText, ...extra] = text.split(':');
  if (extra.length > 0) throw new UsageError(`--${flag}: expected NAME[:SPLIT], got '${text}'`);
  const split = splitText === undefined ? undefined : lookup(flag, DATASET_SPLITS, splitText);
  if (name.startsWith('ds_'))
    return { source: { $case: 'datasetId', value: name }, classes, maxExamples: 0, ...(split === undefined ? {} : { split }) };
  if (split === DatasetSplit.DATASET_SPLIT_TEST) throw new UsageError(`--${flag}: built-in datasets have no test split`);
  const builtinSplit =
    split === DatasetSplit.DATASET_SPLIT_TRAIN
      ? BuiltinSplit.BUILTIN_SPLIT_TRAIN
      : split === DatasetSplit.DATASET_SPLIT_VALIDATION
        ? BuiltinSplit.BUILTIN_SPLIT_VALIDATION
        : BuiltinSplit.BUILTIN_SPLIT_UNSPECIFIED;
  return builtinDataset(lookup(flag, DATASETS, name), builtinSplit, classes);
}

const DELIVERIES: Record<string, Delivery> = {
  ensemble: Delivery.DELIVERY_ENSEMBLE,
  best: Delivery.DELIVERY_BEST_VALIDATION,
  best_validation: Delivery.DELIVERY_BEST_VALIDATION,
  all: Delivery.DELIVERY_ALL,
};

/** `long_tailed:100` or `step:10:7` (kind, ratio, optional seed). */
export function parseImbalance(text: string): FineTuneSpec['imbalance'] {
  const [kindText = '', ratioText, seedText, ...extra] = text.split(':');
  if (extra.length > 0) throw new UsageError(`--imbalance: expected KIND[:RATIO[:SEED]], got '${text}'`);
  const kind = lookup('imbalance', IMBALANCES, kindText);
  const ratio = ratioText === undefined ? (kind === ImbalanceKind.IMBALANCE_KIND_NONE ? 1 : NaN) : parseNumber('imbalance', ratioText);
  if (Number.isNaN(ratio)) throw new UsageError(`--imbalance: ${kindText} needs a ratio, e.g. ${kindText}:100`);
  return { kind, ratio, seed: seedText === undefined ? 0 : parseCount('imbalance', seedText) };
}

/** Applies `start` flags on top of `base` (a spec file, or the documented defaults). */
export function specFromFlags(flags: FlagValues, base: FineTuneSpec = specDefaults()): FineTuneSpec {
  const spec = FineTuneSpec.fromPartial(base);
  const text = (name: string): string | undefined => stringFlag(flags, name);

  const datasetText = text('dataset');
  if (datasetText?.startsWith('ds_')) {
    // A registered dataset: its own validation split validates.
    spec.train = {
      source: { $case: 'datasetId', value: datasetText },
      classes: spec.train?.classes ?? [],
      maxExamples: spec.train?.maxExamples ?? 0,
    };
    spec.validation = { source: { $case: 'datasetId', value: datasetText }, classes: [...spec.train.classes], maxExamples: 0 };
  } else if (datasetText !== undefined) {
    const name = lookup('dataset', DATASETS, datasetText);
    spec.train = builtinDataset(name, BuiltinSplit.BUILTIN_SPLIT_TRAIN, spec.train?.classes);
    spec.validation = builtinDataset(name, BuiltinSplit.BUILTIN_SPLIT_VALIDATION, spec.validation?.classes ?? spec.train.classes);
  }
  const classesText = text('classes');
  if (classesText !== undefined) {
    const classes = parseCountList('classes', classesText);
    if (spec.train === undefined) throw new UsageError('--classes needs a training dataset (--dataset or --spec)');
    spec.train.classes = classes;
    // Validation must see the same classes, relabelled the same way.
    if (spec.validation === undefined && spec.train.source?.$case === 'builtin') {
      spec.validation = builtinDataset(spec.train.source.value.name, BuiltinSplit.BUILTIN_SPLIT_VALIDATION);
    }
    if (spec.validation !== undefined) spec.validation.classes = [...classes];
  }
  const maxExamples = text('max-examples');
  if (maxExamples !== undefined) {
    if (spec.train === undefined) throw new UsageError('--max-examples needs a training dataset (--dataset or --spec)');
    spec.train.maxExamples = parseCount('max-examples', maxExamples);
  }
  const imbalance = text('imbalance');
  if (imbalance !== undefined) spec.imbalance = parseImbalance(imbalance);

  spec.method = applyMethodFlags(spec.method, flags);

  const learningRate = text('lr');
  if (learningRate !== undefined) {
    spec.optimizer ??= { kind: 0, learningRate: 0, momentum: 0, lrSchedule: 0 };
    spec.optimizer.learningRate = parseNumber('lr', learningRate);
  }
  spec.model = applyModelFlags(spec.model, flags);

  const count = (name: string, apply: (value: number) => void): void => {
    const value = text(name);
    if (value !== undefined) apply(parseCount(name, value));
  };
  count('batch-size', (value) => (spec.batchSize = value));
  count('accumulation', (value) => (spec.gradientAccumulation = value));
  count('epochs', (value) => (spec.epochs = value));
  count('full-conflict-every', (value) => (spec.fullConflictEvery = value));
  const seeds = text('seeds');
  if (seeds !== undefined) spec.seeds = parseSeeds(seeds);
  if (flags['ensemble'] === true) spec.ensemble = true;
  const remedy = text('auto-remedy');
  if (remedy !== undefined) spec.autoRemedy = parseAutoRemedy(remedy);
  const extraCompute = text('max-extra-compute');
  if (extraCompute !== undefined) spec.autoRemedy = withMaxExtraCompute(spec.autoRemedy, extraCompute);
  const ciWidth = text('ci-width');
  if (ciWidth !== undefined) spec.ciWidth = parseCiWidth(ciWidth);
  const delivery = text('delivery');
  if (delivery !== undefined) spec.delivery = lookup('delivery', DELIVERIES, delivery);
  return spec;
}

/** A width of an interval of balanced accuracy: a share in (0, 1]. */
export function parseCiWidth(text: string): number {
  const width = parseNumber('ci-width', text);
  if (width <= 0 || width > 1) throw new UsageError(`--ci-width: '${text}' must be in (0, 1], e.g. 0.05`);
  return width;
}

const REMEDY_POLICIES: Record<string, AutoRemedy_Policy> = {
  default: AutoRemedy_Policy.POLICY_UNSPECIFIED,
  restart: AutoRemedy_Policy.POLICY_RESTART_NEXT_SEED,
  continue: AutoRemedy_Policy.POLICY_CONTINUE_UNDER_DSGD,
  escalate: AutoRemedy_Policy.POLICY_ESCALATE,
};

/**
 * `restart`, `escalate`, `continue:20:0.001:3` (policy, window steps, minimum gradient norm,
 * remedies); omitted parts are the server's defaults, as are the escalating policy's limits.
 */
export function parseAutoRemedy(text: string): AutoRemedy {
  const [policyText = '', windowText, normText, restartsText, ...extra] = text.split(':');
  if (extra.length > 0) throw new UsageError(`--auto-remedy: expected POLICY[:WINDOW[:MIN_GRADIENT_NORM[:MAX_RESTARTS]]], got '${text}'`);
  return {
    policy: lookup('auto-remedy', REMEDY_POLICIES, policyText),
    windowSteps: windowText === undefined ? 0 : parseCount('auto-remedy', windowText),
    minGradientNorm: normText === undefined ? 0 : parseNumber('auto-remedy', normText),
    maxRestarts: restartsText === undefined ? 0 : parseCount('auto-remedy', restartsText),
    maxExtraCompute: 0,
    escalateAfterRunFailures: 0,
    escalateAfterFailedSeeds: 0,
  };
}

/** `--max-extra-compute X` on the auto-remedy the flags or the spec file chose (the server checks the policy escalates). */
export function withMaxExtraCompute(remedy: AutoRemedy | undefined, text: string): AutoRemedy {
  if (remedy === undefined) throw new UsageError('--max-extra-compute: give --auto-remedy escalate (or auto_remedy in the spec file) too');
  return { ...remedy, maxExtraCompute: parseNumber('max-extra-compute', text) };
}

/** "unknown FineTuneSpec field(s): a.b (did you mean c?), ..." and "x is ignored beside y" for every unused key. */
function unusedKeysMessage(unused: readonly UnreadKey[]): string | undefined {
  const unknown = unused
    .filter((key) => key.shadowedBy === undefined)
    .map((key) => {
      const guess = closestKey(key.key, key.known);
      return guess === undefined ? key.path : `${key.path} (did you mean ${guess}?)`;
    });
  const shadowed = unused.flatMap((key) =>
    key.shadowedBy === undefined ? [] : [`${key.path} is ignored beside ${key.shadowedBy}: give one of them`],
  );
  const parts = [...(unknown.length > 0 ? [`unknown FineTuneSpec field(s): ${unknown.join(', ')}`] : []), ...shadowed];
  return parts.length > 0 ? parts.join('; ') : undefined;
}

/** Parses a spec file in proto JSON form (JSON or YAML); a key it would not use, at any depth, is an error. */
export function parseSpecText(text: string, source: string): FineTuneSpec {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new UsageError(`${source}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new UsageError(`${source}: expected a FineTuneSpec mapping at the top level`);
  }
  const problems = unusedKeysMessage(unreadKeys(document, (watched) => FineTuneSpec.fromJSON(watched)));
  if (problems !== undefined) throw new UsageError(`${source}: ${problems}`);
  return FineTuneSpec.fromJSON(document);
}

export async function loadSpecFile(path: string): Promise<FineTuneSpec> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--spec: cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return parseSpecText(text, path);
}
