import type { Evaluation, ExampleSet, RunSpec, StepTelemetry, TrainHooks, TrainOutcome, Weights } from './types.js';
import { epochPlan, exampleCount, plannedOptimizerSteps } from './batching.js';
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
}

function checkRequest({ spec, train, validation }: TrainRequest): void {
  const problems: string[] = [];
  if (!Number.isInteger(spec.batchSize) || spec.batchSize < 1) problems.push('batchSize must be an integer >= 1');
  if (!Number.isInteger(spec.gradientAccumulation) || spec.gradientAccumulation < 1) problems.push('gradientAccumulation must be an integer >= 1');
  if (!Number.isInteger(spec.epochs) || spec.epochs < 1) problems.push('epochs must be an integer >= 1');
  if (train.labels.length === 0) problems.push('the training set is empty');
  if (validation.labels.length === 0) problems.push('the validation set is empty');
  for (const [name, set] of [['training', train], ['validation', validation]] as const) {
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
  values: Float32Array, result: StepResult, base: Omit<StepTelemetry, 'loss' | 'accuracy' | 'alpha' | 'correctFraction' | 'gradientNorm' | 'headConflictCosine' | 'fullConflict'>,
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
    method.prepare?.(model, deriveSeed(spec.seed, 'method'));
    optimizer = createOptimizer(spec.optimizer, model.trainable);

    const totalSteps = plannedOptimizerSteps(spec, trainSet.labels.length);
    let step = 0;
    let microBatch = 0;
    let secondsTotal = 0;
    let stopped = false;
    let lastEvaluation: Evaluation | undefined;
    for (let epoch = 0; epoch < spec.epochs && !stopped; epoch++) {
      const groups = epochPlan(trainSet, spec.batchSize, spec.gradientAccumulation, spec.seed, epoch);
      for (let inEpoch = 0; inEpoch < groups.length; inEpoch++) {
        const started = hooks.now();
        const learningRate = learningRateAt(spec.optimizer, step, totalSteps);
        const result = optimizerStep({
          model, method, optimizer, spec, train: trainSet,
          microBatches: groups[inEpoch], firstMicroBatch: microBatch, step, totalSteps, learningRate,
          withFullConflict: spec.fullConflictEvery > 0 && (step + 1) % spec.fullConflictEvery === 0,
        });
        const values = (await result.readout.data()) as Float32Array;
        result.readout.dispose();
        step += 1;
        microBatch += groups[inEpoch].length;
        const isEpochEnd = inEpoch === groups.length - 1;
        method.afterStep?.(model, { step, totalSteps, epoch, isEpochEnd });
        const stepSeconds = (hooks.now() - started) / 1000;
        secondsTotal += stepSeconds;
        hooks.onStep(stepTelemetry(values, result, { step, totalSteps, epoch, learningRate, stepSeconds }));
        if (isEpochEnd) {
          lastEvaluation = await evaluateModel(model, validation);
          hooks.onEpochEnd({ epoch, step, validation: lastEvaluation });
        }
        if (step < totalSteps && (await hooks.betweenSteps?.()) === 'stop') {
          stopped = true;
          break;
        }
      }
    }
    let finalEvaluation: Evaluation | undefined;
    if (!stopped) {
      if (method.finalize) {
        method.finalize(model);
        finalEvaluation = await evaluateModel(model, validation);
      } else {
        finalEvaluation = lastEvaluation ?? (await evaluateModel(model, validation));
      }
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
