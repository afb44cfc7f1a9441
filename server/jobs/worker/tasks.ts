// What a worker thread does for each task kind. Runs inside the worker only: this module
// loads TF.js (through the engine) and must never be imported by main-thread code.
import * as tf from '@tensorflow/tfjs';
import { ServiceError } from '../../common/errors.js';
import {
  evaluateWeights,
  plannedOptimizerSteps,
  predict,
  train,
  trainingFallbackFor,
  type BackendName,
  type ExampleSet,
  type TrainerCheckpoint,
} from '../../engine/index.js';
import { applyImbalance } from '../../data/index.js';
import { encodeCheckpoint } from '../checkpoint-codec.js';
import { trainWithRemedies } from './remedy-runner.js';
import { loadEvaluationData, loadTrainingData, predictionInputs } from './task-data.js';
import type {
  EvaluateRequest,
  EvaluateResult,
  ModelCard,
  PredictRequest,
  PredictResult,
  TrainProgress,
  TrainRequest,
  TrainResult,
  WorkerConfig,
} from './protocol.js';

export interface TrainContext {
  readonly backend: BackendName;
  /** What the pool asks of this task now: go on, stop, or checkpoint and stop ('suspend'). */
  readonly stopRequest: () => 'continue' | 'stop' | 'suspend';
  readonly report: (progress: TrainProgress) => void;
  readonly config: WorkerConfig;
}

export async function runTrain(request: TrainRequest, context: TrainContext): Promise<TrainResult> {
  context.report({ kind: 'loading' });
  // A family whose gradient kernels the worker's backend lacks trains on a fallback, this task only.
  const fallback = trainingFallbackFor(request.run.model.family, context.backend);
  if (fallback.note === undefined) return trainOn(request, context);
  context.report({ kind: 'notice', message: fallback.note });
  await tf.setBackend(fallback.backend);
  try {
    return await trainOn(request, { ...context, backend: fallback.backend });
  } finally {
    await tf.setBackend(context.backend);
  }
}

async function trainOn(request: TrainRequest, context: TrainContext): Promise<TrainResult> {
  // Imbalance comes after the backbone's features (cached per dataset) and the selection.
  const data = await loadTrainingData(request, context.config, (message) => context.report({ kind: 'notice', message }));
  const { validation, card } = data;
  const trainSet = imbalanced(data.train.examples, request);
  const totalSteps = plannedOptimizerSteps(request.run, trainSet.labels.length);
  const classCounts = classCountsOf(trainSet);
  context.report({
    kind: 'started',
    backend: context.backend,
    examples: trainSet.labels.length,
    totalSteps,
    classCounts,
  });
  const stoppedEarly = (): TrainResult => ({
    kind: 'train',
    backend: context.backend,
    stopped: true,
    steps: request.resumeFrom?.step ?? 0,
    meanStepSeconds: 0,
    weights: [],
    validationLabels: validation.examples.labels,
    card,
    peakMemoryBytes: 0,
  });
  // Data loading can take seconds: honour a cancel that came meanwhile.
  if (context.stopRequest() !== 'continue') return stoppedEarly();
  const { outcome, peakMemoryBytes } = await trainWithRemedies({
    run: request.run,
    ...(request.resumeFrom === undefined ? {} : { resumeFrom: request.resumeFrom }),
    // Only for a host that stores them: encoding a checkpoint is not free.
    ...(request.checkpointEverySteps === undefined ? {} : { durableEverySteps: request.checkpointEverySteps }),
    ...(request.remedy === undefined ? {} : { remedy: request.remedy }),
    trainClassCounts: classCounts,
    trainPhase: (phase, hooks) =>
      train({ spec: phase.run, train: trainSet, validation: validation.examples, buildModel: data.builder, ...phaseStart(phase) }, hooks),
    report: context.report,
    // The flag is shared memory: it is seen even while cancel messages would sit in a busy queue.
    stopRequest: context.stopRequest,
    now: () => performance.now(),
    memoryBytes: () => tf.memory().numBytes,
    encode: encodeCheckpoint,
  });
  return {
    kind: 'train',
    backend: context.backend,
    stopped: outcome.stopped,
    steps: outcome.steps,
    meanStepSeconds: outcome.meanStepSeconds,
    weights: outcome.weights,
    ...(outcome.validation === undefined ? {} : { validation: outcome.validation }),
    validationLabels: validation.examples.labels,
    card,
    peakMemoryBytes,
  };
}

/** Where an auto-remedy phase starts, as the engine's TrainRequest fields. */
function phaseStart(phase: { readonly resumeFrom?: TrainerCheckpoint; readonly checkpointEverySteps: number }): {
  readonly resumeFrom?: TrainerCheckpoint;
  readonly checkpointEverySteps: number;
} {
  return { ...(phase.resumeFrom === undefined ? {} : { resumeFrom: phase.resumeFrom }), checkpointEverySteps: phase.checkpointEverySteps };
}

export async function runEvaluate(request: EvaluateRequest, config: WorkerConfig): Promise<EvaluateResult> {
  const { dataset, builder } = await loadEvaluationData(request.card, request.dataset, config);
  checkClassCount(dataset.examples.numClasses, request.card);
  const evaluations = [];
  for (const model of request.models) {
    evaluations.push({ seed: model.seed, metrics: await evaluateWeights(request.card.model, model.weights, dataset.examples, builder) });
  }
  return { kind: 'evaluate', evaluations, labels: dataset.examples.labels };
}

export async function runPredict(request: PredictRequest, config: WorkerConfig): Promise<PredictResult> {
  const { inputs, builder } = await predictionInputs(request.card, request.inputs, config);
  const predictions = [];
  for (const model of request.models) {
    predictions.push({ seed: model.seed, predictions: await predict(request.card.model, model.weights, inputs, builder) });
  }
  return { kind: 'predict', predictions };
}

function imbalanced(examples: ExampleSet, request: TrainRequest): ExampleSet {
  const { imbalance } = request;
  if (imbalance.kind === 'none') return examples;
  return applyImbalance(examples, {
    kind: imbalance.kind === 'long_tailed' ? 'long-tailed' : 'step',
    ratio: imbalance.ratio,
    seed: imbalance.seed,
  });
}

function classCountsOf(examples: ExampleSet): number[] {
  const counts = new Array<number>(examples.numClasses).fill(0);
  for (const label of examples.labels) counts[label] = (counts[label] ?? 0) + 1;
  return counts;
}

function checkClassCount(numClasses: number, card: ModelCard): void {
  if (numClasses === card.numClasses) return;
  throw ServiceError.invalidArgument(`the dataset has ${numClasses} classes, the model ${card.numClasses}`, [
    { field: 'dataset.classes', description: `must select ${card.numClasses} classes, as the job's training did` },
  ]);
}
