// The spec whose learning rate collapses plain fine-tuning for half the paper's seeds: digits
// 3 vs 8, a 32-unit MLP, full-batch SGD at learning rate 5 (gradient clipped to norm 1), 30
// epochs of one step. A collapsed run predicts one class and its gradient norm falls to ~0
// (full batch: no mini-batch noise keeps it up). Shared by the benchmark and its test.
import {
  BuiltinName,
  BuiltinSplit,
  builtinDataset,
  OptimizerKind,
  specDefaults,
  type AutoRemedy,
  type FineTuneSpec,
} from '../../client/index.js';

/**
 * Collapse = a one-class validation at an epoch end and a gradient norm below 0.02 for 4 steps.
 * The escalating policy's limits are left at the server's defaults.
 */
export const COLLAPSE_DETECTION: Omit<AutoRemedy, 'policy'> = {
  windowSteps: 4,
  minGradientNorm: 0.02,
  maxRestarts: 3,
  maxExtraCompute: 0,
  escalateAfterRunFailures: 0,
  escalateAfterFailedSeeds: 0,
};

export function collapsingSpec(seeds: readonly number[], policy?: AutoRemedy['policy']): FineTuneSpec {
  const defaults = specDefaults();
  return {
    ...defaults,
    train: { ...builtinDataset(BuiltinName.BUILTIN_NAME_MNIST, BuiltinSplit.BUILTIN_SPLIT_TRAIN, [3, 8]), maxExamples: 400 },
    validation: { ...builtinDataset(BuiltinName.BUILTIN_NAME_MNIST, BuiltinSplit.BUILTIN_SPLIT_VALIDATION, [3, 8]), maxExamples: 200 },
    model: { family: { $case: 'mlp', value: { hiddenUnits: [32], dropout: 0 } } },
    method: { method: { $case: 'fft', value: {} } },
    optimizer: { kind: OptimizerKind.OPTIMIZER_KIND_SGD, learningRate: 5, momentum: 0, lrSchedule: 0 },
    batchSize: 400,
    epochs: 30,
    seeds: [...seeds],
    ...(policy === undefined ? {} : { autoRemedy: { ...COLLAPSE_DETECTION, policy } }),
  };
}
