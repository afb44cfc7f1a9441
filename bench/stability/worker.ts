// A benchmark worker thread: picks the wasm backend, then trains one seeded run per message
// on the setting data and pretrained body it was started with.
import { parentPort, workerData } from 'node:worker_threads';
import { selectBackend } from '../../server/engine/backend.js';
import { modelBuilderWith, train, type StepTelemetry, type TrainRequest, type Weights } from '../../server/engine/index.js';
import type { EmbeddingTable } from '../../server/engine/models/pretrained/index.js';
import type { SettingData } from './datasets.js';
import { backboneOf, runSpecOf, type RunJob, type SettingId } from './protocol.js';
import type { RunResult } from './run-result.js';

export interface StabilityWorkerData {
  readonly entry: string;
  readonly settings: Readonly<Partial<Record<SettingId, SettingData>>>;
  readonly bodyWeights: Weights;
  /** The GloVe-initialised embedding table of the SpamAssassin setting (absent when it is not run). */
  readonly gloveTable?: EmbeddingTable;
  /** Pretrained weights of MobileNetV2's trainable tail (absent when its setting is not run). */
  readonly mobileNetTail?: Weights;
}

/**
 * The MLP settings start from the pretrained body's weights; the GloVe and MobileNet settings'
 * builders close over the table or the tail's pretrained weights.
 */
function backboneStart(job: RunJob, data: StabilityWorkerData): Pick<TrainRequest, 'initialWeights' | 'buildModel'> {
  switch (backboneOf(job.settingId)) {
    case 'mnist-mlp':
      return { initialWeights: data.bodyWeights };
    case 'glove-bag':
      if (data.gloveTable === undefined) throw new Error(`worker has no GloVe table for setting ${job.settingId}`);
      return { buildModel: modelBuilderWith({ family: 'glove_bag', table: data.gloveTable }) };
    case 'mobilenet-v2':
      if (data.mobileNetTail === undefined) throw new Error(`worker has no MobileNetV2 tail for setting ${job.settingId}`);
      return { buildModel: modelBuilderWith({ family: 'mobilenet_v2', tail: data.mobileNetTail }) };
  }
}

export type ToWorker = { readonly kind: 'run'; readonly index: number; readonly job: RunJob };
export type FromWorker =
  | { readonly kind: 'ready'; readonly backend: string }
  | { readonly kind: 'result'; readonly index: number; readonly result: RunResult }
  | { readonly kind: 'failure'; readonly index: number; readonly message: string };

const STRONG_CONFLICT = -0.5;

async function runJob(job: RunJob, data: StabilityWorkerData): Promise<RunResult> {
  const setting = data.settings[job.settingId];
  if (setting === undefined) throw new Error(`worker has no data for setting ${job.settingId}`);
  const steps: StepTelemetry[] = [];
  const started = performance.now();
  const outcome = await train(
    { spec: runSpecOf(job), train: setting.train, validation: setting.test, ...backboneStart(job, data) },
    { onStep: (telemetry) => steps.push(telemetry), onEpochEnd: () => undefined, now: () => performance.now() },
  );
  const evaluation = outcome.validation;
  if (evaluation === undefined) throw new Error('run ended without a final evaluation');
  const cosines = steps.flatMap((step) => (step.headConflictCosine === null ? [] : [step.headConflictCosine]));
  const tail = steps.slice(Math.floor(steps.length * 0.9));
  return {
    job,
    accuracy: evaluation.accuracy,
    balancedAccuracy: evaluation.balancedAccuracy,
    macroF1: evaluation.macroF1,
    verdict: evaluation.verdict,
    topPredictionShare: Math.max(...evaluation.predictionCounts) / evaluation.examples,
    representationCosine: evaluation.representationCosine,
    steps: outcome.steps,
    meanStepMs: outcome.meanStepSeconds * 1000,
    meanHeadConflictCosine: cosines.length > 0 ? cosines.reduce((sum, c) => sum + c, 0) / cosines.length : null,
    strongConflictShare: cosines.length > 0 ? cosines.filter((c) => c < STRONG_CONFLICT).length / cosines.length : null,
    finalTrainLoss: tail.reduce((sum, step) => sum + step.loss, 0) / Math.max(tail.length, 1),
    wallSeconds: (performance.now() - started) / 1000,
  };
}

const port = parentPort;
if (port === null) throw new Error('worker.ts must run as a worker thread');
const data = workerData as StabilityWorkerData;
const backend = await selectBackend('wasm');
port.postMessage({ kind: 'ready', backend: backend.name } satisfies FromWorker);

// One run at a time: the pool sends the next job only after a result.
port.on('message', (message: ToWorker) => {
  runJob(message.job, data).then(
    (result) => port.postMessage({ kind: 'result', index: message.index, result } satisfies FromWorker),
    (error: unknown) =>
      port.postMessage({
        kind: 'failure',
        index: message.index,
        message: error instanceof Error ? error.message : String(error),
      } satisfies FromWorker),
  );
});
