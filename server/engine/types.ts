// The engine's contract with the rest of the service. Everything here is plain data
// (no tensors, no classes) so it crosses worker-thread boundaries by structured clone
// and can be persisted by jobs/ without the engine knowing where.

import type { PretrainedModelSpec } from './models/pretrained/specs.js';

/** Dense feature vectors, row-major: values.length === count * dim. */
export interface FeatureInputs {
  readonly kind: 'features';
  readonly values: Float32Array;
  readonly dim: number;
}

/** Token ids, row-major and padded to seqLen with id 0: ids.length === count * seqLen. */
export interface TokenInputs {
  readonly kind: 'tokens';
  readonly ids: Int32Array;
  /** Sentence-pair inputs: 0 for the first segment, 1 for the second; absent for single sentences. */
  readonly segmentIds?: Int32Array;
  readonly seqLen: number;
  readonly vocabSize: number;
}

export type ExampleInputs = FeatureInputs | TokenInputs;

/** A labelled set of examples as the engine trains on it. */
export interface ExampleSet {
  readonly inputs: ExampleInputs;
  /** Class ids in [0, numClasses). */
  readonly labels: Int32Array;
  readonly numClasses: number;
  readonly classNames?: readonly string[];
}

export type AlphaScheduleKind = 'linear' | 'cosine' | 'linear_descending' | 'static';

export type MethodSpec =
  | { readonly kind: 'fft' }
  | { readonly kind: 'dsgd'; readonly lambda: number; readonly schedule: AlphaScheduleKind }
  | { readonly kind: 'focal'; readonly gamma: number; readonly classWeights?: readonly number[] }
  | { readonly kind: 'pcgrad' }
  | { readonly kind: 'noisytune'; readonly noise: number }
  | { readonly kind: 'lnsr'; readonly noiseStd: number; readonly weight: number }
  | { readonly kind: 'swa'; readonly window: number };

export type MethodKind = MethodSpec['kind'];

export interface OptimizerSpec {
  readonly kind: 'adamw' | 'adam' | 'sgd';
  readonly learningRate: number;
  /** Decoupled for adamw, L2-in-gradient for adam/sgd. */
  readonly weightDecay: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  /** SGD momentum; ignored by Adam variants. */
  readonly momentum: number;
  /** Share of total optimizer steps spent in linear warmup, in [0, 1). */
  readonly warmupFraction: number;
  /** 'linear': warmup then linear decay to 0; 'constant': warmup then flat. */
  readonly lrSchedule: 'linear' | 'constant';
  /** Clip the global gradient norm to this; 0 disables clipping. */
  readonly clipNorm: number;
}

export interface MlpModelSpec {
  readonly family: 'mlp';
  readonly hiddenUnits: readonly number[];
  readonly dropout: number;
}

export interface TransformerModelSpec {
  readonly family: 'transformer';
  readonly dModel: number;
  readonly heads: number;
  readonly layers: number;
  readonly ffDim: number;
  readonly pooling: 'cls' | 'mean';
  readonly dropout: number;
}

/** Pretrained backbones with a new head; their artifacts reach the model through a ModelBuilder closure. */
export type {
  FeatureHeadSpec,
  GloveBagModelSpec,
  HfEncoderModelSpec,
  LayersModelModelSpec,
  MobileNetV2ModelSpec,
  PretrainedFamily,
  PretrainedModelSpec,
} from './models/pretrained/specs.js';

export type ModelSpec = MlpModelSpec | TransformerModelSpec | PretrainedModelSpec;
export type ModelFamily = ModelSpec['family'];

/** Everything that determines one seeded training run. */
export interface RunSpec {
  readonly model: ModelSpec;
  readonly method: MethodSpec;
  readonly optimizer: OptimizerSpec;
  readonly batchSize: number;
  /** Micro-batches per optimizer step (>= 1); each micro-batch is split by its own predictions. */
  readonly gradientAccumulation: number;
  readonly epochs: number;
  readonly seed: number;
  /** Compute the full-model conflict (two backward passes) every k optimizer steps; 0 = never. */
  readonly fullConflictEvery: number;
}

/** One named parameter tensor as plain data. */
export interface NamedWeight {
  readonly name: string;
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

export type Weights = readonly NamedWeight[];

/** Emitted after every optimizer step. */
export interface StepTelemetry {
  /** 1-based optimizer step. */
  readonly step: number;
  readonly totalSteps: number;
  /** 0-based epoch. */
  readonly epoch: number;
  /** Unweighted mean cross-entropy of the step's examples (what FFT would report). */
  readonly loss: number;
  /** Share of the step's examples the model got right before the update. */
  readonly accuracy: number;
  /** alpha_t used this step (1 for methods that do not scale). */
  readonly alpha: number;
  /** Same as accuracy; kept separate because it is the DSGD split's |C| / |B|. */
  readonly correctFraction: number;
  /** Global L2 norm of the gradient fed to the optimizer (before clipping). */
  readonly gradientNorm: number;
  readonly learningRate: number;
  /** cos(g_W, g_C) restricted to the classifier head, closed form; null when W or C is empty. */
  readonly headConflictCosine: number | null;
  /** Present on sampled steps: cos(g_W, g_C) over all parameters from two backward passes. */
  readonly fullConflict?: FullConflict;
  readonly stepSeconds: number;
}

export interface FullConflict {
  /** null when W or C is empty. */
  readonly cosine: number | null;
  readonly normWrong: number;
  readonly normCorrect: number;
}

export type Verdict = 'ok' | 'degenerate' | 'collapsed';

export interface Evaluation {
  readonly examples: number;
  readonly loss: number;
  readonly accuracy: number;
  readonly balancedAccuracy: number;
  readonly macroF1: number;
  readonly perClassRecall: readonly number[];
  /** Row = true class, column = predicted class, row-major numClasses x numClasses. */
  readonly confusion: readonly number[];
  readonly numClasses: number;
  /** How many examples were predicted as each class. */
  readonly predictionCounts: readonly number[];
  /** Mean pairwise cosine of pooled features on a sample; near 1 means representation collapse. */
  readonly representationCosine: number;
  readonly verdict: Verdict;
  /** Predicted class per example, in input order (used for ensemble votes). */
  readonly predictions: Int32Array;
}

export interface EpochReport {
  readonly epoch: number;
  readonly step: number;
  readonly validation: Evaluation;
}

/** Host-side services the trainer may use; the engine owns no clock or I/O of its own. */
export interface TrainHooks {
  onStep(telemetry: StepTelemetry): void;
  onEpochEnd(report: EpochReport): void;
  /** Monotonic milliseconds, for step timing only. */
  now(): number;
  /**
   * Awaited between optimizer steps: lets a worker thread deliver cancel messages.
   * Resolve 'stop' to end training early (the outcome is marked stopped); 'suspend' stops the
   * same way after handing onCheckpoint the state at this step, so the run can resume later.
   */
  betweenSteps?(): Promise<'continue' | 'stop' | 'suspend'>;
  /**
   * Receives the full training state every TrainRequest.checkpointEverySteps optimizer steps,
   * at every epoch end and on 'suspend'. The engine only hands it over: storing it is the host's.
   */
  onCheckpoint?(checkpoint: TrainerCheckpoint): void;
  /** Informational notes (backend fallbacks, remedies): jobs/ logs them and puts them on the job. */
  onNotice?(message: string): void;
}

export interface TrainOutcome {
  readonly stopped: boolean;
  readonly steps: number;
  readonly meanStepSeconds: number;
  /** Final weights (for swa: the averaged ones). */
  readonly weights: Weights;
  /** Validation evaluation of the final weights; absent when stopped early. */
  readonly validation?: Evaluation;
}

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

/** Optimizer state as plain data, for checkpoints: slot tensors are named '<parameter>/<slot>'. */
export interface OptimizerState {
  readonly kind: OptimizerSpec['kind'];
  /** Optimizer updates applied so far (Adam's bias correction depends on it). */
  readonly updates: number;
  readonly slots: Weights;
}

/** State a training method keeps across steps (swa: its weight snapshots, oldest first). */
export interface MethodState {
  readonly kind: MethodKind;
  readonly snapshots: readonly Weights[];
}

/**
 * Everything a run needs to continue bitwise as if never stopped. Data order depends only on
 * (seed, epoch) and dropout/noise seeds only on the run-wide micro-batch counter, so the cursor
 * below replaces any RNG state: nothing is drawn from a generator whose calls could be lost.
 */
export interface TrainerCheckpoint {
  /** Optimizer steps completed (the next step is step + 1). */
  readonly step: number;
  readonly totalSteps: number;
  /** Data-order cursor: the epoch and the step within it that come next. */
  readonly epoch: number;
  readonly stepInEpoch: number;
  /** Micro-batches consumed so far: seeds the next micro-batch's dropout and noise. */
  readonly microBatch: number;
  readonly weights: Weights;
  readonly optimizer: OptimizerState;
  readonly method?: MethodState;
  /** Sum of step durations so far, for the outcome's meanStepSeconds. */
  readonly secondsTotal: number;
  /** Latest metrics: the last step's telemetry and the last epoch-end validation. */
  readonly lastStep?: StepTelemetry;
  readonly lastEvaluation?: Evaluation;
}

/** Class probabilities for a set of inputs (the Predict RPC). */
export interface Predictions {
  readonly numClasses: number;
  /** Row-major [count, numClasses]. */
  readonly probabilities: Float32Array;
  /** argmax per example. */
  readonly predictions: Int32Array;
}
