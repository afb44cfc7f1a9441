// Checkpoints as the trainer takes and restores them: plain data in, plain data out. Where they
// are stored (and whether) is the host's business; the engine never touches files.
import { stepsPerEpoch } from './batching.js';
import type { TrainingMethod } from './methods/method.js';
import type { ClassifierModel } from './models/classifier.js';
import { exportWeights, loadWeights } from './models/weight-transfer.js';
import type { ParameterOptimizer } from './optimizer.js';
import type { Evaluation, RunSpec, StepTelemetry, TrainerCheckpoint } from './types.js';

/** Where the loop stands: everything of a checkpoint that is not a tensor. */
export interface TrainingCursor {
  readonly step: number;
  readonly epoch: number;
  readonly stepInEpoch: number;
  readonly microBatch: number;
  readonly secondsTotal: number;
  readonly lastStep?: StepTelemetry;
  readonly lastEvaluation?: Evaluation;
}

export const START_CURSOR: TrainingCursor = { step: 0, epoch: 0, stepInEpoch: 0, microBatch: 0, secondsTotal: 0 };

export interface TrainingState {
  readonly model: ClassifierModel;
  readonly optimizer: ParameterOptimizer;
  readonly method: TrainingMethod;
}

export function captureCheckpoint(state: TrainingState, cursor: TrainingCursor, totalSteps: number): TrainerCheckpoint {
  const method = state.method.exportState?.();
  return {
    ...cursor,
    totalSteps,
    weights: exportWeights(state.model.trainable),
    optimizer: state.optimizer.exportState(),
    ...(method === undefined ? {} : { method }),
  };
}

/**
 * Loads a checkpoint into a freshly built run and returns its cursor. Refuses one taken from
 * another run's shape (other data size, batch size or epochs), which would resume at a
 * meaningless cursor rather than fail.
 */
export function restoreCheckpoint(
  checkpoint: TrainerCheckpoint,
  state: TrainingState,
  run: { readonly spec: RunSpec; readonly examples: number; readonly totalSteps: number },
): TrainingCursor {
  const perEpoch = stepsPerEpoch(run.examples, run.spec.batchSize, run.spec.gradientAccumulation);
  const problems: string[] = [];
  if (checkpoint.totalSteps !== run.totalSteps) problems.push(`it plans ${checkpoint.totalSteps} steps, this run ${run.totalSteps}`);
  if (checkpoint.step !== checkpoint.epoch * perEpoch + checkpoint.stepInEpoch) problems.push('its cursor does not match its step');
  if (checkpoint.step < 0 || checkpoint.step > run.totalSteps) problems.push(`step ${checkpoint.step} is outside the run`);
  if (checkpoint.stepInEpoch < 0 || checkpoint.stepInEpoch >= perEpoch) problems.push('its step within the epoch is out of range');
  const methodKind = checkpoint.method?.kind;
  if (methodKind !== undefined && methodKind !== run.spec.method.kind) problems.push(`it is of method ${methodKind}`);
  if (methodKind !== undefined && state.method.importState === undefined) problems.push('this method keeps no state');
  if (problems.length > 0) throw new Error(`cannot resume from this checkpoint: ${problems.join('; ')}`);

  loadWeights(state.model, checkpoint.weights, 'exact');
  state.optimizer.importState(checkpoint.optimizer);
  if (checkpoint.method !== undefined) state.method.importState?.(checkpoint.method);
  return {
    step: checkpoint.step,
    epoch: checkpoint.epoch,
    stepInEpoch: checkpoint.stepInEpoch,
    microBatch: checkpoint.microBatch,
    secondsTotal: checkpoint.secondsTotal,
    ...(checkpoint.lastStep === undefined ? {} : { lastStep: checkpoint.lastStep }),
    ...(checkpoint.lastEvaluation === undefined ? {} : { lastEvaluation: checkpoint.lastEvaluation }),
  };
}
