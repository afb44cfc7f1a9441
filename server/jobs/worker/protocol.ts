// Messages between the pool (main thread) and a worker thread. Plain data only: everything
// crosses by structured clone, typed-array buffers by transfer.
import type { ServiceErrorWire } from '../../common/errors.js';
import type {
  BackendName,
  EpochReport,
  Evaluation,
  ExampleInputs,
  ModelSpec,
  Predictions,
  RunSpec,
  StepTelemetry,
  TrainerCheckpoint,
  Weights,
} from '../../engine/tf-free.js';
import type { SelectedDataset } from './dataset-selection.js';
import type { RemedySettings } from '../remedy-policy.js';
import type { DatasetSelection, ImbalanceSpec, PhaseChange, RemedyGiveUp, RunPhase } from '../types.js';

/** workerData of every pool thread: worker-bootstrap.mjs imports `entry`, which reads `config`. */
export interface WorkerData {
  readonly entry: string;
  readonly config: WorkerConfig;
}

/** The same for every worker of a pool. */
export interface WorkerConfig {
  /** Preferred TF.js backend; the worker falls back (tensorflow > wasm > cpu) and says so. */
  readonly backendPreference?: BackendName;
  /** The server's data directory: backbone feature and vector caches live under it. */
  readonly dataDir?: string;
  /** Where clients' pretrained files (layers_model, hf_encoder paths) are resolved; they may not leave it. */
  readonly dataRoot?: string;
}

/** What a model was trained on: enough to rebuild it for Evaluate/Predict. */
export type ModelInputs =
  | { readonly kind: 'features'; readonly dim: number }
  | { readonly kind: 'tokens'; readonly seqLen: number; readonly vocabSize: number; readonly hasSegments: boolean };

export interface ModelCard {
  readonly model: ModelSpec;
  readonly inputs: ModelInputs;
  readonly numClasses: number;
  readonly classNames: readonly string[];
  /** glove_bag, hf_encoder: the training vocabulary's tokens, to rebuild the pretrained embeddings. */
  readonly vocabulary?: readonly string[];
}

/** A dataset for a worker to use: built-ins it loads itself, registered ones travel along. */
export interface DatasetInput {
  readonly selection: DatasetSelection;
  /** The registry lives on the main thread, so registered datasets are sent as examples. */
  readonly preloaded?: SelectedDataset;
  /** Registered datasets: content hash and split, naming the content in backbone feature caches. */
  readonly contentKey?: string;
  /** Registered text datasets: token strings by id. */
  readonly vocabulary?: readonly string[];
}

export interface TrainRequest {
  readonly kind: 'train';
  readonly train: DatasetInput;
  readonly validation: DatasetInput;
  readonly imbalance: ImbalanceSpec;
  readonly run: RunSpec;
  /** Continue this run from its last stored checkpoint instead of from scratch. */
  readonly resumeFrom?: TrainerCheckpoint;
  /** A 'checkpoint' progress every n optimizer steps and at epoch ends (0: epoch ends only; absent: never). */
  readonly checkpointEverySteps?: number;
  /** Auto-remedy of this run (absent: off). */
  readonly remedy?: RemedyRequest;
}

export interface RemedyRequest {
  readonly settings: RemedySettings;
  /** The job's seeds: a restart under a new seed takes none of them. */
  readonly reservedSeeds: readonly number[];
  /** Phases earlier processes recorded; the run continues in the last one (resumeFrom is of it). */
  readonly phases: readonly RunPhase[];
  /**
   * The escalating policy's job-wide tally (remedy-ledger.ts), shared by every run of the job's
   * execution; absent for the other policies (and then a run keeps its own).
   */
  readonly ledger?: SharedArrayBuffer;
}

export interface SeedWeights {
  readonly seed: number;
  readonly weights: Weights;
}

export interface EvaluateRequest {
  readonly kind: 'evaluate';
  readonly card: ModelCard;
  readonly models: readonly SeedWeights[];
  readonly dataset: DatasetInput;
}

export interface PredictRequest {
  readonly kind: 'predict';
  readonly card: ModelCard;
  readonly models: readonly SeedWeights[];
  readonly inputs: ExampleInputs;
}

export type TaskRequest = TrainRequest | EvaluateRequest | PredictRequest;

export interface TrainResult {
  readonly kind: 'train';
  readonly backend: BackendName;
  readonly stopped: boolean;
  readonly steps: number;
  readonly meanStepSeconds: number;
  readonly weights: Weights;
  readonly validation?: Evaluation;
  /** The validation split's labels, for scoring the seeds' ensemble vote. */
  readonly validationLabels: Int32Array;
  readonly card: ModelCard;
  /** Highest tf.memory().numBytes seen after a step of this task. */
  readonly peakMemoryBytes: number;
}

export interface EvaluateResult {
  readonly kind: 'evaluate';
  readonly evaluations: readonly { readonly seed: number; readonly metrics: Evaluation }[];
  /** The dataset's labels, for scoring the ensemble vote on the main thread. */
  readonly labels: Int32Array;
}

export interface PredictResult {
  readonly kind: 'predict';
  readonly predictions: readonly { readonly seed: number; readonly predictions: Predictions }[];
}

export type TaskResult = TrainResult | EvaluateResult | PredictResult;

export type ResultOf<R extends TaskRequest> = R extends TrainRequest
  ? TrainResult
  : R extends EvaluateRequest
    ? EvaluateResult
    : PredictResult;

/** Progress of a training task, in the order the trainer produced it. */
export type TrainProgress =
  /** The worker took the task and loads its data: what separates queue wait from data load. */
  | { readonly kind: 'loading' }
  /** `classCounts`: the training examples per class it trains on (after selection, cap and imbalance). */
  | {
      readonly kind: 'started';
      readonly backend: BackendName;
      readonly examples: number;
      readonly totalSteps: number;
      readonly classCounts?: readonly number[];
    }
  | { readonly kind: 'step'; readonly telemetry: StepTelemetry }
  | { readonly kind: 'epoch'; readonly report: EpochReport }
  | { readonly kind: 'notice'; readonly message: string }
  /**
   * The state after `step`, encoded here in the worker (checkpoint-codec.ts) for the main thread to
   * store; `phase` is the run's phase it belongs to (0 unless auto-remedy started another).
   */
  | { readonly kind: 'checkpoint'; readonly step: number; readonly phase: number; readonly encoded: Uint8Array }
  /** Auto-remedy ended a collapsed phase and starts `next`; the main thread logs it as it is. */
  | ({ readonly kind: 'phase' } & PhaseChange)
  /** The escalating policy gave up on the run: it trains on in its phase. */
  | ({ readonly kind: 'remedy_gave_up' } & RemedyGiveUp);

/** Values of a task's shared stop flag. 'suspend' = checkpoint, then stop (to resume later). */
export const STOP_FLAG = { none: 0, cancel: 1, suspend: 2 } as const;

export type ToWorker = {
  readonly kind: 'task';
  readonly taskId: number;
  /** Int32[1] holding a STOP_FLAG value: the pool sets it, the task reads it between steps. */
  readonly cancelFlag: SharedArrayBuffer;
  readonly request: TaskRequest;
};

export type FromWorker =
  | { readonly kind: 'ready'; readonly backend: BackendName; readonly notices: readonly string[] }
  | { readonly kind: 'progress'; readonly taskId: number; readonly progress: TrainProgress }
  | { readonly kind: 'result'; readonly taskId: number; readonly result: TaskResult }
  /** A task's error as ServiceError.toWire() wrote it (a clone would keep neither class nor code). */
  | { readonly kind: 'failure'; readonly taskId: number; readonly failure: ServiceErrorWire };

/** Buffers worth transferring instead of copying (each once; shared memory never). */
export function transferablesOf(arrays: Iterable<ArrayBufferView>): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const array of arrays) {
    if (array.buffer instanceof ArrayBuffer && array.byteLength === array.buffer.byteLength) buffers.add(array.buffer);
  }
  return [...buffers];
}

export function weightArrays(models: readonly { weights: Weights }[]): ArrayBufferView[] {
  return models.flatMap((model) => model.weights.map((weight) => weight.values));
}
