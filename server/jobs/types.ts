// The jobs layer's domain model and the service interface the rpc layer calls.
// Plain data, no gRPC types: rpc/ maps these to and from the wire.
import type { BackendName, Evaluation, FullConflict, MethodSpec, RunSpec, StepTelemetry, Verdict } from '../engine/tf-free.js';
import type { DatasetSplit } from '../data/index.js';
import type { EscalationDecision, RemedyPolicy, RemedySettings } from './remedy-policy.js';

export type JobState = 'QUEUED' | 'RUNNING' | 'CANCELLING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
export const TERMINAL_STATES: ReadonlySet<JobState> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

export type RunState = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
/** A run in one of these has ended: nothing trains it again. */
export const RUN_ENDED_STATES: ReadonlySet<RunState> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

/** Where a job's examples come from, already validated by rpc/. */
export type DatasetSource =
  | { readonly kind: 'builtin'; readonly name: 'mnist' | 'fashion-mnist'; readonly split: 'train' | 'validation' }
  /** `split` absent: the split the selection's place names (train, validation, test). */
  | { readonly kind: 'registered'; readonly datasetId: string; readonly split?: DatasetSplit };

export interface DatasetSelection {
  readonly source: DatasetSource;
  /** Keep only these class ids, relabelled 0..k-1 in this order; empty keeps all. */
  readonly classes: readonly number[];
  /** Keep at most this many examples (deterministic prefix); 0 keeps all. */
  readonly maxExamples: number;
}

export interface ImbalanceSpec {
  readonly kind: 'none' | 'long_tailed' | 'step';
  readonly ratio: number;
  readonly seed: number;
}

/** A fully defaulted, validated fine-tune: one RunSpec per seed is derived from it. */
export interface JobSpec {
  readonly train: DatasetSelection;
  readonly validation: DatasetSelection;
  readonly imbalance: ImbalanceSpec;
  /** Everything of a RunSpec but the seed. */
  readonly run: Omit<RunSpec, 'seed'>;
  readonly seeds: readonly number[];
  /** 0 = no limit. */
  readonly maxRuntimeMs: number;
  readonly ensemble: boolean;
  /** Absent: runs are left as they train (auto-remedy is opt-in). */
  readonly autoRemedy?: RemedySettings;
  /** Interval width the summary's seeds-needed figures aim at; absent: DEFAULT_CI_WIDTH. */
  readonly ciWidth?: number;
  /** Examples only reported on once the job ends (never trained or chosen on); absent: none. */
  readonly test?: DatasetSelection;
  /** Which model the job delivers; absent (specs stored before it existed too): 'ensemble'. */
  readonly delivery?: DeliveryMode;
}

/** ENSEMBLE: the vote of the healthy seeds; BEST_VALIDATION: the best of them on validation; ALL: each of them. */
export type DeliveryMode = 'ensemble' | 'best_validation' | 'all';

/** Why a seed is not part of the delivered model. */
export type ExclusionReason = 'collapsed' | 'degenerate' | 'failed' | 'cancelled' | 'not the best';

/** The model a job delivers, chosen on validation only (jobs/delivery.ts). */
export interface Delivery {
  readonly mode: DeliveryMode;
  /** In the spec's seed order; empty when no seed is healthy. */
  readonly seeds: readonly number[];
  readonly excluded: readonly { readonly seed: number; readonly reason: ExclusionReason }[];
  /** The delivered model on validation: the seeds' vote (ensemble, all) or the one seed's metrics. */
  readonly validation?: Evaluation;
  /** The same on the test split; reported only. */
  readonly test?: Evaluation;
  /** The choice in words. */
  readonly note: string;
}

export interface StateTransition {
  readonly state: JobState;
  /** Epoch milliseconds. */
  readonly time: number;
  readonly reason: string;
}

export interface SeedRun {
  readonly seed: number;
  readonly state: RunState;
  readonly steps: number;
  readonly totalSteps: number;
  readonly meanStepSeconds: number;
  readonly durationMs: number;
  readonly metrics?: Evaluation;
  readonly error?: string;
  /** Step of the run's newest durable checkpoint (absent: none yet); a restart resumes there. */
  readonly checkpointStep?: number;
  /** Highest TF.js tensor memory its worker held at a step, over every process that trained it. */
  readonly peakMemoryBytes?: number;
  /** Its stretches under one seed and method, oldest first; the last one is open while it trains. */
  readonly phases?: readonly RunPhase[];
  /** Training examples per class after selection, cap and imbalance: what it trains on. */
  readonly trainClassCounts?: readonly number[];
  /** Its final weights on the job's test split, recorded when the job ends; reported only. */
  readonly testMetrics?: Evaluation;
}

/** One stretch of a run: auto-remedy ends a collapsed phase and starts the next. */
export interface RunPhase {
  readonly seed: number;
  readonly method: MethodSpec;
  readonly startStep: number;
  readonly endStep: number;
  /** Validation verdict when the phase ended; absent while it trains. */
  readonly verdict?: Verdict;
  /** Why it ended (the remedy's trigger); empty for the run's last phase. */
  readonly reason: string;
  /** The escalating policy's decision that started it (absent for a run's first phase). */
  readonly startedBy?: EscalationDecision;
  /** Set when the escalating policy gave up remedying during it (it trained on as it was). */
  readonly gaveUp?: EscalationDecision;
}

/** Auto-remedy ended a run's phase and started the next: what the log records of it. */
export interface PhaseChange {
  /** Position of the phase that starts in SeedRun.phases (1 for the run's first remedy). */
  readonly index: number;
  /** The policy that chose the next phase. */
  readonly policy: RemedyPolicy;
  /** The phase that ended, with its end step, verdict and reason. */
  readonly ended: RunPhase;
  /** The phase that starts, open: endStep = startStep, no verdict, no reason. */
  readonly next: RunPhase;
  /** The change in words; also logged as a notice, for clients that do not know this event. */
  readonly notice: string;
  /** The escalating policy's decision (also next.startedBy); absent for the other policies. */
  readonly decision?: EscalationDecision;
}

/** The escalating policy stopped remedying a run: what the log records of it. */
export interface RemedyGiveUp {
  /** Position in SeedRun.phases of the phase the run trains on in. */
  readonly index: number;
  /** Its kind is 'give_up'. */
  readonly decision: EscalationDecision;
  /** The same in words; also logged as a notice. */
  readonly notice: string;
}

export interface Stat {
  readonly mean: number;
  /** Sample standard deviation (n - 1); 0 for one run. */
  readonly std: number;
  readonly min: number;
  readonly max: number;
}

export interface StabilitySummary {
  readonly runs: number;
  readonly accuracy: Stat;
  readonly balancedAccuracy: Stat;
  readonly macroF1: Stat;
  readonly collapsed: number;
  readonly degenerate: number;
  readonly ensemble?: Evaluation;
  /** Absent in summaries stored before it existed. */
  readonly uncertainty?: StabilityUncertainty;
  /** A job's summary only (not Evaluate's); absent in summaries stored before it existed. */
  readonly delivery?: Delivery;
}

export interface Interval {
  readonly low: number;
  readonly high: number;
}

/** How far a summary's figures can be trusted (server/jobs/uncertainty.ts has the math). */
export interface StabilityUncertainty {
  /** Of every bound and interval below: 0.95. */
  readonly confidence: number;
  /** Runs judged collapsed or degenerate (the engine's verdict), out of the summary's runs. */
  readonly failed: number;
  /** Exact (Clopper–Pearson) one-sided upper bound on the failure rate. */
  readonly failureRateUpper: number;
  /** Percentile bootstrap over seeds; absent with fewer than two runs. */
  readonly balancedAccuracyMean?: Interval;
  readonly balancedAccuracyStd?: Interval;
  readonly bootstrapResamples: number;
  readonly bootstrapSeed: number;
  /** The interval width the seed counts below aim at. */
  readonly requestedWidth: number;
  /** Seeds in all for the mean's interval to reach requestedWidth; absent with fewer than two runs. */
  readonly seedsForMeanWidth?: number;
  /** The same for the standard deviation's interval. */
  readonly seedsForStdWidth?: number;
}

export interface Job {
  readonly id: string;
  readonly tenant: string;
  readonly displayName: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly spec: JobSpec;
  /** The caller's original request spec, opaque to jobs/ (rpc/ echoes it back on the wire). */
  readonly requestSpec: unknown;
  readonly idempotencyKey: string;
  readonly state: JobState;
  readonly transitions: readonly StateTransition[];
  readonly reason: string;
  readonly createTime: number;
  readonly backend: BackendName | '';
  readonly notices: readonly string[];
  readonly runs: readonly SeedRun[];
  readonly summary?: StabilitySummary;
  readonly lastSequence: number;
  /** Time spent RUNNING, summed over server restarts: what maxRuntimeMs is checked against. */
  readonly runtimeMs: number;
}

/** One entry of a job's event log. Sequences are dense, start at 1, strictly increasing. */
export type JobEventBody =
  | { readonly kind: 'step'; readonly step: StepTelemetry }
  | { readonly kind: 'epoch'; readonly epoch: number; readonly step: number; readonly validation: Evaluation }
  | { readonly kind: 'run_started'; readonly totalSteps: number; readonly backend: BackendName }
  | { readonly kind: 'run_finished'; readonly run: SeedRun }
  | { readonly kind: 'state_changed'; readonly state: JobState; readonly reason: string }
  | { readonly kind: 'notice'; readonly message: string }
  | ({ readonly kind: 'phase_started' } & PhaseChange)
  | ({ readonly kind: 'remedy_gave_up' } & RemedyGiveUp);

export interface JobEvent {
  readonly sequence: number;
  /** Epoch milliseconds. */
  readonly time: number;
  /** 0 for job-level events. */
  readonly seed: number;
  readonly body: JobEventBody;
}

export interface ListJobsQuery {
  readonly tenant: string;
  readonly pageSize: number;
  readonly pageToken: string;
  readonly state?: JobState;
  readonly labelSelector: Readonly<Record<string, string>>;
}

export interface StartJobCommand {
  readonly tenant: string;
  readonly spec: JobSpec;
  readonly requestSpec: unknown;
  readonly idempotencyKey: string;
  readonly displayName: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface SeedEvaluation {
  readonly seed: number;
  readonly metrics: Evaluation;
}

export interface EvaluationReport {
  readonly evaluations: readonly SeedEvaluation[];
  readonly summary: StabilitySummary;
  readonly ensemble?: Evaluation;
  /** Seed 0: the delivered model on the dataset; absent when the job delivers nothing. */
  readonly delivered?: { readonly seeds: readonly number[]; readonly metrics: Evaluation };
}

export interface PredictionRow {
  readonly label: number;
  readonly labelName: string;
  readonly probabilities: readonly number[];
}

/** What one example looks like to Predict: features or token ids. */
export interface PredictInput {
  readonly features: readonly number[];
  readonly tokenIds: readonly number[];
  readonly segmentIds: readonly number[];
}

/** A piece of one exported bundle file; a file's chunks come in order, files one after another. */
export interface BundleChunk {
  /** Relative to the bundle directory, '/'-separated. */
  readonly path: string;
  readonly offset: number;
  readonly data: Uint8Array;
  /** True on the file's last chunk (an empty file is a single empty chunk). */
  readonly last: boolean;
}

/** The jobs layer as the rpc layer sees it. All methods are tenant-scoped. */
export interface JobService {
  start(command: StartJobCommand): Promise<{ job: Job; created: boolean }>;
  get(tenant: string, jobId: string): Promise<Job>;
  list(query: ListJobsQuery): Promise<{ jobs: Job[]; nextPageToken: string }>;
  /** Jobs not yet terminal (QUEUED, RUNNING, CANCELLING): the tenant's, or every tenant's when absent. */
  countActive(tenant?: string): Promise<number>;
  /** The tenant's job started under this idempotency key, if any. */
  findByIdempotencyKey(tenant: string, key: string): Promise<Job | undefined>;
  cancel(tenant: string, jobId: string): Promise<Job>;
  /** Replays from fromSequence (inclusive; 0 = start) then follows live; ends when the job is terminal. */
  events(tenant: string, jobId: string, fromSequence: number, signal: AbortSignal): AsyncIterable<JobEvent>;
  evaluate(
    tenant: string,
    jobId: string,
    options: { dataset?: DatasetSelection; seed: number; ensemble: boolean },
  ): Promise<EvaluationReport>;
  predict(tenant: string, jobId: string, seed: number, inputs: readonly PredictInput[]): Promise<PredictionRow[]>;
  /** A SUCCEEDED job's model bundle (docs/MODEL-BUNDLE.md) as file chunks, in order. */
  exportModel(tenant: string, jobId: string): AsyncIterable<BundleChunk>;
  /** True once the service can take work (used by the health check). */
  ready(): boolean;
  /**
   * Stops taking work and stops running jobs at their next step, then waits for workers to
   * exit. A durable service leaves them checkpointed and resumable; otherwise they end FAILED.
   */
  shutdown(): Promise<void>;
}

export type { FullConflict, Verdict };

/** Structured logging as jobs/ uses it; main.ts adapts its logger to this. */
export interface JobLogger {
  info(message: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void;
  error(message: string, fields?: Readonly<Record<string, unknown>>): void;
}
