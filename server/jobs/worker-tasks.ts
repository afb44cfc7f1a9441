// What a worker thread does for each task kind. Runs inside the worker only: this module
// loads TF.js (through the engine) and must never be imported by main-thread code.
import * as tf from '@tensorflow/tfjs';
import { trainingFallbackFor } from '../engine/backend.js';
import { evaluateWeights, plannedOptimizerSteps, predict, train } from '../engine/index.js';
import type { BackendName, ExampleSet, RunSpec, TrainerCheckpoint } from '../engine/types.js';
import { applyImbalance, loadDataset } from '../data/index.js';
import { encodeCheckpoint } from './checkpoint-codec.js';
import { applySelection, type SelectedDataset } from './dataset-selection.js';
import type {
  DatasetInput,
  EvaluateRequest,
  EvaluateResult,
  ModelCard,
  ModelInputs,
  PredictRequest,
  PredictResult,
  TrainProgress,
  TrainRequest,
  TrainResult,
} from './worker-protocol.js';

export interface TrainContext {
  readonly backend: BackendName;
  /** What the pool asks of this task now: go on, stop, or checkpoint and stop ('suspend'). */
  readonly stopRequest: () => 'continue' | 'stop' | 'suspend';
  readonly report: (progress: TrainProgress) => void;
}

export async function runTrain(request: TrainRequest, context: TrainContext): Promise<TrainResult> {
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
  const loadedTrain = await loadInput(request.train, 'train');
  const validation = await loadInput(request.validation, 'validation');
  const trainSet = imbalanced(loadedTrain.examples, request);
  const card = modelCard(request.run, trainSet, loadedTrain.classNames);
  const totalSteps = plannedOptimizerSteps(request.run, trainSet.labels.length);
  context.report({ kind: 'started', backend: context.backend, examples: trainSet.labels.length, totalSteps });
  const stoppedEarly = (): TrainResult => ({
    kind: 'train', backend: context.backend, stopped: true, steps: request.resumeFrom?.step ?? 0, meanStepSeconds: 0, weights: [],
    validationLabels: validation.examples.labels, card,
  });
  // Data loading can take seconds: honour a cancel that came meanwhile.
  if (context.stopRequest() !== 'continue') return stoppedEarly();
  const outcome = await train(
    {
      spec: request.run, train: trainSet, validation: validation.examples,
      ...(request.resumeFrom === undefined ? {} : { resumeFrom: request.resumeFrom }),
      checkpointEverySteps: request.checkpointEverySteps ?? 0,
    },
    {
      onStep: (telemetry) => context.report({ kind: 'step', telemetry }),
      onEpochEnd: (report) => context.report({ kind: 'epoch', report }),
      onNotice: (message) => context.report({ kind: 'notice', message }),
      now: () => performance.now(),
      // Only for a host that stores them: encoding a checkpoint is not free.
      ...(request.checkpointEverySteps === undefined
        ? {}
        : { onCheckpoint: (checkpoint: TrainerCheckpoint) => context.report({ kind: 'checkpoint', step: checkpoint.step, encoded: encodeCheckpoint(checkpoint) }) }),
      // The flag is shared memory: it is seen even while cancel messages would sit in a busy queue.
      betweenSteps: async () => context.stopRequest(),
    },
  );
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
  };
}

export async function runEvaluate(request: EvaluateRequest): Promise<EvaluateResult> {
  const dataset = await loadInput(request.dataset, 'dataset');
  checkClassCount(dataset.examples.numClasses, request.card);
  const evaluations = [];
  for (const model of request.models) {
    evaluations.push({ seed: model.seed, metrics: await evaluateWeights(request.card.model, model.weights, dataset.examples) });
  }
  return { kind: 'evaluate', evaluations, labels: dataset.examples.labels };
}

export async function runPredict(request: PredictRequest): Promise<PredictResult> {
  const predictions = [];
  for (const model of request.models) {
    predictions.push({ seed: model.seed, predictions: await predict(request.card.model, model.weights, request.inputs) });
  }
  return { kind: 'predict', predictions };
}

async function loadInput(input: DatasetInput, field: string): Promise<SelectedDataset> {
  if (input.preloaded !== undefined) return applySelection(input.preloaded, input.selection, field);
  const { source } = input.selection;
  if (source.kind !== 'builtin') {
    throw new Error(`registered dataset ${source.datasetId} must be resolved on the main thread and sent along`);
  }
  const loaded = await loadDataset({ builtin: source.name, split: source.split });
  return applySelection({ examples: loaded.examples, classNames: loaded.classNames }, input.selection, field);
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

function modelCard(run: RunSpec, trainSet: ExampleSet, classNames: readonly string[]): ModelCard {
  const { inputs } = trainSet;
  const modelInputs: ModelInputs = inputs.kind === 'features'
    ? { kind: 'features', dim: inputs.dim }
    : { kind: 'tokens', seqLen: inputs.seqLen, vocabSize: inputs.vocabSize, hasSegments: inputs.segmentIds !== undefined };
  return { model: run.model, inputs: modelInputs, numClasses: trainSet.numClasses, classNames };
}

function checkClassCount(numClasses: number, card: ModelCard): void {
  if (numClasses === card.numClasses) return;
  const error = new Error(`the dataset has ${numClasses} classes, the model ${card.numClasses}`);
  Object.assign(error, {
    name: 'DatasetValidationError',
    code: 'DATASET_INVALID',
    violations: [{ field: 'dataset.classes', description: `must select ${card.numClasses} classes, as the job's training did` }],
  });
  throw error;
}
