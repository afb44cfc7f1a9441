import {
  AlphaSchedule,
  BuiltinName,
  BuiltinSplit,
  OptimizerKind,
  LrSchedule,
  type DatasetRef,
  type FineTuneSpec,
} from '../gen/steadytune/v1/spec.js';

/** The ten seeds of the paper: 42, 52, ..., 132. */
export const PAPER_SEEDS: readonly number[] = Object.freeze(Array.from({ length: 10 }, (_, index) => 42 + 10 * index));

/** The first `count` paper seeds (all ten by default). */
export function paperSeeds(count = PAPER_SEEDS.length): number[] {
  if (!Number.isInteger(count) || count < 1 || count > PAPER_SEEDS.length) {
    throw new RangeError(`paperSeeds: count must be 1..${PAPER_SEEDS.length}, got ${count}`);
  }
  return PAPER_SEEDS.slice(0, count);
}

export function builtinDataset(name: BuiltinName, split: BuiltinSplit, classes: number[] = []): DatasetRef {
  return { source: { $case: 'builtin', value: { name, split } }, classes: [...classes], maxExamples: 0 };
}

/**
 * A complete spec with every documented default written out (DSGD, lambda 1, linear schedule,
 * MLP 256-128, AdamW 1e-3, batch 32, 3 epochs, the ten paper seeds, CI width 0.05) on built-in MNIST.
 * Explicit values rather than zeros so that a printed or stored spec says what actually ran.
 */
export function specDefaults(): FineTuneSpec {
  return {
    train: builtinDataset(BuiltinName.BUILTIN_NAME_MNIST, BuiltinSplit.BUILTIN_SPLIT_TRAIN),
    validation: builtinDataset(BuiltinName.BUILTIN_NAME_MNIST, BuiltinSplit.BUILTIN_SPLIT_VALIDATION),
    imbalance: undefined,
    model: { family: { $case: 'mlp', value: { hiddenUnits: [256, 128], dropout: 0 } } },
    method: { method: { $case: 'dsgd', value: { lambda: 1, schedule: AlphaSchedule.ALPHA_SCHEDULE_LINEAR } } },
    optimizer: {
      kind: OptimizerKind.OPTIMIZER_KIND_ADAMW,
      learningRate: 1e-3,
      momentum: 0,
      lrSchedule: LrSchedule.LR_SCHEDULE_LINEAR,
    },
    batchSize: 32,
    gradientAccumulation: 1,
    epochs: 3,
    seeds: paperSeeds(),
    fullConflictEvery: 0,
    maxRuntime: undefined,
    ensemble: false,
    ciWidth: 0.05,
  };
}
