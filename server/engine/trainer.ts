import type { ExampleSet, RunSpec, StepTelemetry, TrainerCheckpoint, TrainHooks, TrainOutcome, Weights } from './types.js';
import { epochPlan, exampleCount, plannedOptimizerSteps } from './batching.js';
import { captureCheckpoint, restoreCheckpoint, START_CURSOR, type TrainingCursor } from './checkpoint.js';
import { evaluateModel } from './evaluation.js';
import { createMethod } from './methods/index.js';
import type { TrainingMethod } from './methods/method.js';
import { buildModel, describeInputs, type ModelBuilder } from './models/index.js';
import { exportWeights, loadWeights } from './models/weight-transfer.js';
import { createOptimizer, learningRateAt, type ParameterOptimizer } from './optimizer.js';
import { deriveSeed } from './random.js';
import { optimizerStep, READOUT, type StepResult } from './step.js';
import { conflictCosine, fullConflict } from './telemetry.js';

export interface TrainRequest {
  readonly spec: RunSpec;
  readonly train: ExampleSet;
  readonly validation: ExampleSet;
  /** Pretrained start: matched by name; a head of another class count is re-initialised. */
  readonly initialWeights?: Weights;
  /** Overrides the family factory (tests, pretrained backbones). */
  readonly buildModel?: ModelBuilder;
  /** Continue from this state instead of step 0 (takes precedence over initialWeights). */
  readonly resumeFrom?: TrainerCheckpoint;
  /** hooks.onCheckpoint every n optimizer steps, besides epoch ends; 0 or absent = epoch ends only. */
  readonly checkpointEverySteps?: number;
}

function checkRequest(request: TrainRequest): void {
  const { spec, train, validation } = request;
  const problems: string[] = [];
  if (!Number.isInteger(spec.batchSize) || spec.batchSize < 1) problems.push('batchSize must be an integer >= 1');
  if (!Number.isInteger(spec.gradientAccumulation) || spec.gradientAccumulation < 1)
    problems.push('gradientAccumulation must be an integer >= 1');
  if (!Number.isInteger(spec.epochs) || spec.epochs < 1) problems.push('epochs must be an integer >= 1');
  const every = request.checkpointEverySteps ?? 0;
  if (!Number.isInteger(every) || every < 0) problems.push('checkpointEverySteps must be an integer >= 0');
  if (train.labels.length === 0) problems.push('the training set is empty');
  if (validation.labels.length === 0) problems.push('the validation set is empty');
  for (const [name, set] of [
    ['training', train],
    ['validation', validation],
  ] as const) {
    if (exampleCount(set.inputs) !== set.labels.length) problems.push(`${name} inputs and labels differ in count`);
  }
  if (validation.numClasses !== train.numClasses) problems.push('training and validation sets differ in numClasses');
  for (const set of [train, validation]) {
    if (set.labels.some((label) => label < 0 || label >= set.numClasses)) problems.push('a label is outside [0, numClasses)');
  }
  if (problems.length > 0) throw new Error(`invalid training request: ${problems.join('; ')}`);
}

/** Host-side StepTelemetry from the step's one readout. */
function stepTelemetry(
  values: Float32Array,
  result: StepResult,
  base: Omit<StepTelemetry, 'loss' | 'accuracy' | 'alpha' | 'correctFraction' | 'gradientNorm' | 'headConflictCosine' | 'fullConflict'>,
): StepTelemetry {
  const correct = Math.round(values[READOUT.correctCount]);
  const wrong = result.examples - correct;
  const sumsAt = (offset: number) => ({ dot: values[offset], wrongSquared: values[offset + 1], correctSquared: values[offset + 2] });
  return {
    ...base,
    loss: values[READOUT.lossSum] / result.examples,
    accuracy: correct / result.examples,
    alpha: result.alpha,
    correctFraction: correct / result.examples,
    gradientNorm: values[READOUT.gradientNorm],
    headConflictCosine: conflictCosine(sumsAt(READOUT.head), wrong, correct),
    ...(values.length > READOUT.full ? { fullConflict: fullConflict(sumsAt(READOUT.full), wrong, correct) } : {}),
  };
}

/**
 * One seeded fine-tuning run: epochs of shuffled micro-batches, one optimizer step per
 * accumulation group, telemetry every step, validation at every epoch end and at the end.
 * From a checkpoint it continues at the checkpoint's cursor and ends bitwise where an
 * uninterrupted run would (same backend): nothing it draws depends on how it got there.
 */
export async function train(request: TrainRequest, hooks: TrainHooks): Promise<TrainOutcome> {
  checkRequest(request);
  const { spec, train: trainSet, validation } = request;
  const build = request.buildModel ?? buildModel;
  const model = build(spec.model, describeInputs(trainSet.inputs), trainSet.numClasses, deriveSeed(spec.seed, 'init'));
  let method: TrainingMethod | undefined;
  let optimizer: ParameterOptimizer | undefined;
  try {
    if (request.initialWeights) loadWeights(model, request.initialWeights, 'initial', hooks.onNotice);
    method = createMethod(spec.method);
    // Also on resume: the checkpoint's weights then overwrite what prepare did, as in the first run.
    method.prepare?.(model, deriveSeed(spec.seed, 'method'));
    optimizer = createOptimizer(spec.optimizer, model.trainable);
    const state = { model, method, optimizer };

    const totalSteps = plannedOptimizerSteps(spec, trainSet.labels.length);
    let cursor: TrainingCursor =
      request.resumeFrom === undefined
        ? START_CURSOR
        : restoreCheckpoint(request.resumeFrom, state, { spec, examples: trainSet.labels.length, totalSteps });
    const every = request.checkpointEverySteps ?? 0;
    let checkpointedAt = cursor.step;
    const checkpoint = (): void => {
      if (hooks.onCheckpoint === undefined || checkpointedAt === cursor.step) return;
      checkpointedAt = cursor.step;
      hooks.onCheckpoint(captureCheckpoint(state, cursor, totalSteps));
    };
    let stopped = false;
    while (cursor.epoch < spec.epochs && !stopped) {
      const { epoch } = cursor;
      const groups = epochPlan(trainSet, spec.batchSize, spec.gradientAccumulation, spec.seed, epoch);
      for (let inEpoch = cursor.stepInEpoch; inEpoch < groups.length; inEpoch++) {
        const started = hooks.now();
        const { step, microBatch } = cursor;
        const learningRate = learningRateAt(spec.optimizer, step, totalSteps);
        const result = optimizerStep({
          model,
          method,
          optimizer,
          spec,
          train: trainSet,
          microBatches: groups[inEpoch],
          firstMicroBatch: microBatch,
          step,
          totalSteps,
          learningRate,
          withFullConflict: spec.fullConflictEvery > 0 && (step + 1) % spec.fullConflictEvery === 0,
        });
        const values = (await result.readout.data()) as Float32Array;
        result.readout.dispose();
        const isEpochEnd = inEpoch === groups.length - 1;
        method.afterStep?.(model, { step: step + 1, totalSteps, epoch, isEpochEnd });
        const stepSeconds = (hooks.now() - started) / 1000;
        const telemetry = stepTelemetry(values, result, { step: step + 1, totalSteps, epoch, learningRate, stepSeconds });
        cursor = {
          ...cursor,
          step: step + 1,
          epoch: isEpochEnd ? epoch + 1 : epoch,
          stepInEpoch: isEpochEnd ? 0 : inEpoch + 1,
          microBatch: microBatch + groups[inEpoch].length,
          secondsTotal: cursor.secondsTotal + stepSeconds,
          lastStep: telemetry,
        };
        hooks.onStep(telemetry);
        if (isEpochEnd) {
          const evaluation = await evaluateModel(model, validation);
          cursor = { ...cursor, lastEvaluation: evaluation };
          hooks.onEpochEnd({ epoch, step: cursor.step, validation: evaluation });
        }
        if (isEpochEnd || (every > 0 && cursor.step % every === 0)) checkpoint();
        const next = cursor.step < totalSteps ? await hooks.betweenSteps?.() : undefined;
        if (next === 'suspend') checkpoint();
        if (next === 'stop' || next === 'suspend') {
          stopped = true;
          break;
        }
      }
    }
    const { step, secondsTotal, lastEvaluation } = cursor;
    let finalEvaluation = stopped ? undefined : lastEvaluation;
    if (!stopped && (method.finalize || finalEvaluation === undefined)) {
      method.finalize?.(model);
      finalEvaluation = await evaluateModel(model, validation);
    }
    return {
      stopped,
      steps: step,
      meanStepSeconds: step > 0 ? secondsTotal / step : 0,
      weights: exportWeights(model.trainable),
      ...(finalEvaluation ? { validation: finalEvaluation } : {}),
    };
  } finally {
    method?.dispose?.();
    optimizer?.dispose();
    model.dispose();
  }
}
