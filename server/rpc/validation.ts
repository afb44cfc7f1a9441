// FineTuneSpec (wire) → JobSpec (domain): applies every default spec.proto documents and
// reports every invalid field with its proto path. jobs/ receives only complete, valid specs.
import {
  Delivery,
  type FineTuneSpec,
  type MethodSpec as WireMethodSpec,
  type OptimizerSpec as WireOptimizerSpec,
} from '../../client/gen/steadytune/v1/spec.js';
import type { Duration } from '../../client/gen/google/protobuf/duration.js';
import type { MethodSpec, OptimizerSpec } from '../engine/tf-free.js';
import type { ImbalanceSpec, JobSpec } from '../jobs/types.js';
import { FieldViolations } from './field-violations.js';
import { ALPHA_SCHEDULES, DELIVERY_MODES, IMBALANCE_KINDS, LR_SCHEDULES, OPTIMIZER_KINDS } from './spec-enums.js';
import { resolveModel } from './model-spec.js';
import { resolveAutoRemedy } from './auto-remedy.js';
import {
  checkTestIsHeldOut,
  datasetSelection,
  knownClassCount,
  PLACEHOLDER_SELECTION,
  resolveHeldOut,
  resolveValidation,
} from './dataset-selection.js';

/** The paper's ten seeds: 42, 52, ..., 132. */
export const DEFAULT_SEEDS: readonly number[] = Array.from({ length: 10 }, (_, i) => 42 + 10 * i);
export const MAX_SEEDS = 32;

/** Validates and defaults a whole spec; throws INVALID_ARGUMENT listing every bad field. */
export function toJobSpec(spec: FineTuneSpec, path = 'spec'): JobSpec {
  const v = new FieldViolations();
  const jobSpec = resolveSpec(v, spec, path);
  v.throwIfAny('fine-tune spec');
  return jobSpec;
}

/** Collects into `v` instead of throwing, so a request's other fields are reported too. */
export function resolveSpec(v: FieldViolations, spec: FineTuneSpec, path: string): JobSpec {
  const train = spec.train === undefined ? undefined : datasetSelection(v, spec.train, `${path}.train`, 'train');
  if (spec.train === undefined) v.add(`${path}.train`, 'required');
  const validation = resolveValidation(v, spec, train, path);
  const test = spec.test === undefined ? undefined : resolveHeldOut(v, spec.test, train, `${path}.test`, 'test');
  if (test !== undefined) checkTestIsHeldOut(v, test, { train, validation }, `${path}.test`);
  const classCount = knownClassCount(train);
  const seeds = resolveSeeds(v, spec.seeds, `${path}.seeds`);
  return {
    train: train ?? PLACEHOLDER_SELECTION,
    validation,
    imbalance: resolveImbalance(v, spec, path),
    run: {
      model: resolveModel(v, spec.model, `${path}.model`, train),
      method: resolveMethod(v, spec.method, `${path}.method`, classCount),
      optimizer: resolveOptimizer(v, spec.optimizer, `${path}.optimizer`),
      batchSize: v.integer(`${path}.batch_size`, spec.batchSize, 32, 1, 4096),
      gradientAccumulation: v.integer(`${path}.gradient_accumulation`, spec.gradientAccumulation, 1, 1, 64),
      epochs: v.integer(`${path}.epochs`, spec.epochs, 3, 1, 1000),
      fullConflictEvery: spec.fullConflictEvery,
    },
    seeds,
    maxRuntimeMs: resolveMaxRuntime(v, spec.maxRuntime, `${path}.max_runtime`),
    ensemble: spec.ensemble,
    ...withAutoRemedy(resolveAutoRemedy(v, spec.autoRemedy, `${path}.auto_remedy`, MAX_SEEDS)),
    // 0 (unset) stays absent: the summary applies its default, as for specs stored before the field.
    ...(spec.ciWidth === 0 ? {} : { ciWidth: v.real(`${path}.ci_width`, spec.ciWidth, { min: 0, max: 1, openMin: true }) }),
    ...(test === undefined ? {} : { test }),
    ...resolveDelivery(v, spec.delivery, `${path}.delivery`),
  };
}

/** Unset and UNSPECIFIED stay absent: the job applies DEFAULT_DELIVERY, as for specs stored before the field. */
function resolveDelivery(v: FieldViolations, delivery: number | undefined, path: string): Pick<JobSpec, 'delivery'> {
  if (delivery === undefined || delivery === Delivery.DELIVERY_UNSPECIFIED) return {};
  const mode = v.enumValue(path, delivery, DELIVERY_MODES, 'Delivery');
  return mode === undefined ? {} : { delivery: mode };
}

function withAutoRemedy(settings: JobSpec['autoRemedy']): Pick<JobSpec, 'autoRemedy'> {
  return settings === undefined ? {} : { autoRemedy: settings };
}

function resolveSeeds(v: FieldViolations, seeds: readonly number[], path: string): number[] {
  if (seeds.length === 0) return [...DEFAULT_SEEDS];
  if (seeds.length > MAX_SEEDS) v.add(path, `at most ${MAX_SEEDS} seeds (got ${seeds.length})`);
  const seen = new Set<number>();
  seeds.forEach((seed, i) => {
    if (seen.has(seed)) v.add(`${path}[${i}]`, `duplicate seed ${seed}`);
    seen.add(seed);
  });
  return [...seeds];
}

function resolveImbalance(v: FieldViolations, spec: FineTuneSpec, path: string): ImbalanceSpec {
  const imbalance = spec.imbalance;
  if (imbalance === undefined) return { kind: 'none', ratio: 1, seed: 0 };
  const kind = v.enumValue(`${path}.imbalance.kind`, imbalance.kind, IMBALANCE_KINDS, 'ImbalanceKind') ?? 'none';
  if (kind === 'none') return { kind, ratio: 1, seed: imbalance.seed };
  // No documented default for the ratio: an unset (zero) ratio with a real kind is a mistake.
  const ratio = v.real(`${path}.imbalance.ratio`, imbalance.ratio, { min: 1, max: 1e6 });
  return { kind, ratio, seed: imbalance.seed };
}

// No method is the service's reason to exist: DSGD with its documented defaults.
function resolveMethod(v: FieldViolations, method: WireMethodSpec | undefined, path: string, classCount?: number): MethodSpec {
  const chosen = method?.method;
  if (chosen === undefined) return { kind: 'dsgd', lambda: 1, schedule: 'linear' };
  switch (chosen.$case) {
    case 'fft':
    case 'pcgrad':
      return { kind: chosen.$case };
    case 'dsgd':
      return {
        kind: 'dsgd',
        lambda: v.real(`${path}.dsgd.lambda`, chosen.value.lambda ?? 1, { min: 0, max: 1 }),
        schedule: v.enumValue(`${path}.dsgd.schedule`, chosen.value.schedule, ALPHA_SCHEDULES, 'AlphaSchedule') ?? 'linear',
      };
    case 'focal': {
      const weights = chosen.value.classWeights;
      weights.forEach((w, i) => v.real(`${path}.focal.class_weights[${i}]`, w, { min: 0 }));
      if (weights.length > 0 && classCount !== undefined && weights.length !== classCount) {
        v.add(`${path}.focal.class_weights`, `needs one weight per class (${classCount}), got ${weights.length}`);
      }
      return {
        kind: 'focal',
        gamma: v.real(`${path}.focal.gamma`, chosen.value.gamma ?? 2, { min: 0, max: 100 }),
        ...(weights.length > 0 ? { classWeights: [...weights] } : {}),
      };
    }
    case 'noisytune':
      return { kind: 'noisytune', noise: v.real(`${path}.noisytune.noise`, chosen.value.noise ?? 0.15, { min: 0, max: 100 }) };
    case 'lnsr':
      return {
        kind: 'lnsr',
        noiseStd: v.real(`${path}.lnsr.noise_std`, chosen.value.noiseStd ?? 1, { min: 0, max: 100 }),
        weight: v.real(`${path}.lnsr.weight`, chosen.value.weight ?? 0.15, { min: 0, max: 100 }),
      };
    case 'swa':
      return { kind: 'swa', window: v.integer(`${path}.swa.window`, chosen.value.window, 5, 1, 1000) };
  }
}

function resolveOptimizer(v: FieldViolations, optimizer: WireOptimizerSpec | undefined, path: string): OptimizerSpec {
  const o: WireOptimizerSpec = optimizer ?? { kind: 0, learningRate: 0, momentum: 0, lrSchedule: 0 };
  const kind = v.enumValue(`${path}.kind`, o.kind, OPTIMIZER_KINDS, 'OptimizerKind') ?? 'adamw';
  if (o.momentum !== 0 && kind !== 'sgd') v.add(`${path}.momentum`, 'applies to OPTIMIZER_KIND_SGD only');
  return {
    kind,
    learningRate: v.real(`${path}.learning_rate`, o.learningRate === 0 ? 1e-3 : o.learningRate, {
      min: 0,
      max: 10,
      openMin: true,
    }),
    weightDecay: v.real(`${path}.weight_decay`, o.weightDecay ?? (kind === 'adamw' ? 0.01 : 0), { min: 0, max: 10 }),
    beta1: v.real(`${path}.beta1`, o.beta1 ?? 0.9, { min: 0, max: 1, openMax: true }),
    beta2: v.real(`${path}.beta2`, o.beta2 ?? 0.999, { min: 0, max: 1, openMax: true }),
    epsilon: v.real(`${path}.epsilon`, o.epsilon ?? 1e-8, { min: 0, max: 1, openMin: true }),
    momentum: v.real(`${path}.momentum`, o.momentum, { min: 0, max: 1, openMax: true }),
    warmupFraction: v.real(`${path}.warmup_fraction`, o.warmupFraction ?? 0.1, { min: 0, max: 1, openMax: true }),
    lrSchedule: v.enumValue(`${path}.lr_schedule`, o.lrSchedule, LR_SCHEDULES, 'LrSchedule') ?? 'linear',
    clipNorm: v.real(`${path}.clip_norm`, o.clipNorm ?? 1, { min: 0 }),
  };
}

/** Node timers hold at most 2^31-1 ms (~24.8 days); a longer one fires at once instead. */
const MAX_RUNTIME_SECONDS = 24 * 24 * 3600;

function resolveMaxRuntime(v: FieldViolations, duration: Duration | undefined, path: string): number {
  if (duration === undefined) return 0;
  const { seconds, nanos } = duration;
  const ms = seconds * 1000 + Math.floor(nanos / 1e6);
  if (seconds < 0 || nanos < 0 || nanos >= 1e9) v.add(path, 'must be a non-negative google.protobuf.Duration');
  else if (ms <= 0) v.add(path, 'must be at least 1ms when set (leave unset for no limit)');
  else if (seconds >= MAX_RUNTIME_SECONDS) v.add(path, `must be under ${MAX_RUNTIME_SECONDS}s (24 days); leave unset for no limit`);
  return ms;
}
