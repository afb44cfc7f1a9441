// The service's Prometheus metrics: main.ts makes one SteadytuneMetrics (one registry) per
// process, fed on the main thread from the job event log (worker threads post their telemetry
// there), so no worker ever needs a registry. In scale-out each process counts the events it
// appends (a worker its runs' steps and ends), and steadytune_jobs comes from the shared store,
// exported by one API process (see countJobStatesFrom).
// Prometheus practice: base units, `_total` counters, bounded labels. Job ids never become
// labels (every job would be a new series forever); per-job detail is what StreamMetrics is for.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BackendName, MethodKind, ModelFamily } from '../engine/tf-free.js';
import type { StorageFaultCause, StorageFaultListener, StorageTarget } from '../jobs/storage-faults.js';
import { TERMINAL_STATES, type JobEvent, type JobState } from '../jobs/types.js';

/** What a job's series are labelled with; all three have a small, fixed set of values. */
export interface JobMetricLabels {
  readonly method: MethodKind;
  readonly modelFamily: ModelFamily;
  /** 'unknown' before a run has reported which backend it trains on. */
  readonly backend: BackendName | 'unknown';
}

/** Read at scrape time, so the gauges are never stale between pool changes. */
export interface WorkerPoolGaugeSource {
  readonly size: number;
  queuedTasks(): number;
  busyWorkers(): number;
}

/** Where steadytune_jobs comes from in scale-out: the shared store, read at scrape time. */
export interface JobStateCountSource {
  /**
   * Jobs per live state over the whole deployment, or undefined while another process exports
   * them (one exporter per deployment, so sum() over processes counts each job once).
   */
  liveJobCounts(): Promise<ReadonlyMap<JobState, number> | undefined>;
}

/**
 * How this process exports steadytune_jobs: 'events' (embedded: it sees every job's every
 * state change), from a JobStateCountSource (scale-out API), or 'elsewhere' (scale-out worker:
 * no series; the API's export covers its jobs).
 */
export type JobStateCounting = 'events' | 'elsewhere' | JobStateCountSource;

/** A notice whose message starts with this counts as an automatic remedy (engine or jobs). */
export const AUTO_REMEDY_NOTICE_PREFIX = 'auto-remedy:';

/** The states a job is counted in by steadytune_jobs; finished jobs go to jobs_finished_total. */
export const LIVE_JOB_STATES: readonly JobState[] = ['QUEUED', 'RUNNING', 'CANCELLING'];

/**
 * The Node default metrics that `promtool check metrics` rejects: gauges named `_total`.
 * Each is the sum over the `type` label of the metric without the suffix, so nothing is lost.
 */
const REJECTED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

const JOB_OUTCOMES = ['succeeded', 'failed', 'cancelled'];
const STORAGE_TARGETS: readonly StorageTarget[] = ['job_store', 'checkpoint', 'model'];
const STORAGE_FAULT_CAUSES: readonly (StorageFaultCause | 'other')[] = ['no_space', 'io_error', 'other'];
const RUN_LABELS = ['method', 'model_family', 'backend'] as const;
type RunLabel = (typeof RUN_LABELS)[number];
const JOB_LABELS = ['method', 'model_family'] as const;

// Cosines live in [-1, 1]; the paper's failed runs sit below -0.5, so the negative half is finer.
const COSINE_BUCKETS = [-0.9, -0.75, -0.5, -0.25, -0.1, 0, 0.1, 0.25, 0.5, 0.75, 0.9, 1];
// Gradient norms span many decades, and "vanished" (1e-6 and below) must be its own bucket.
const NORM_BUCKETS = [1e-8, 1e-6, 1e-4, 1e-3, 1e-2, 0.1, 0.3, 1, 3, 10, 30, 100, 1000];
const STEP_SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
// Streaming RPCs (StreamMetrics, health Watch) live for minutes: the top buckets are for them.
const RPC_SECONDS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800];

export class SteadytuneMetrics {
  readonly registry = new Registry();
  readonly conflictCosine: Histogram<RunLabel | 'scope'>;
  readonly gradientNorm: Histogram<RunLabel>;
  readonly correctFraction: Gauge<RunLabel>;
  readonly dsgdAlpha: Gauge<RunLabel>;
  readonly trainLoss: Gauge<RunLabel>;
  readonly trainAccuracy: Gauge<RunLabel>;
  readonly trainSteps: Counter<RunLabel>;
  readonly stepDuration: Histogram<RunLabel>;
  readonly runsFinished: Counter<RunLabel | 'outcome'>;
  readonly collapsedRuns: Counter<RunLabel>;
  readonly degenerateRuns: Counter<RunLabel>;
  readonly autoRemedies: Counter<RunLabel>;
  readonly jobsFinished: Counter<'method' | 'model_family' | 'outcome'>;
  readonly jobs: Gauge<'state'>;
  readonly queueDepth: Gauge;
  readonly workerUtilization: Gauge;
  readonly rpcDuration: Histogram<'rpc_method' | 'code'>;
  readonly storageWriteFailures: Counter<'target' | 'cause'>;
  private workerPool?: WorkerPoolGaugeSource;
  private jobStateCounting: JobStateCounting = 'events';

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const runGauge = (name: string, help: string): Gauge<RunLabel> => new Gauge({ name, help, labelNames: RUN_LABELS, registers });
    const runCounter = (name: string, help: string): Counter<RunLabel> => new Counter({ name, help, labelNames: RUN_LABELS, registers });

    this.conflictCosine = new Histogram({
      name: 'steadytune_gradient_conflict_cosine',
      help: "cos(g_W, g_C) between the misclassified and the correct examples' gradients; scope=head every step, scope=full on sampled steps.",
      labelNames: [...RUN_LABELS, 'scope'],
      buckets: COSINE_BUCKETS,
      registers,
    });
    this.gradientNorm = new Histogram({
      name: 'steadytune_gradient_norm',
      help: 'Global L2 norm of the gradient fed to the optimizer, before clipping.',
      labelNames: RUN_LABELS,
      buckets: NORM_BUCKETS,
      registers,
    });
    // Gauges hold the last step's value: with several runs on the same labels, the latest wins.
    this.correctFraction = runGauge('steadytune_correct_fraction', "Share of the last step's examples classified correctly (|C| / |B|).");
    this.dsgdAlpha = runGauge('steadytune_dsgd_alpha', 'alpha_t of the last step (1 for methods that do not scale).');
    this.trainLoss = runGauge('steadytune_train_loss', "Unweighted mean cross-entropy of the last step's examples.");
    this.trainAccuracy = runGauge('steadytune_train_accuracy', "Accuracy of the last step's examples before the update.");
    this.trainSteps = runCounter('steadytune_train_steps_total', 'Optimizer steps taken.');
    this.stepDuration = new Histogram({
      name: 'steadytune_step_duration_seconds',
      help: 'Wall time of one optimizer step in the worker.',
      labelNames: RUN_LABELS,
      buckets: STEP_SECONDS_BUCKETS,
      registers,
    });
    this.runsFinished = new Counter({
      name: 'steadytune_runs_finished_total',
      help: 'Seed runs that ended, by outcome (succeeded, failed, cancelled).',
      labelNames: [...RUN_LABELS, 'outcome'],
      registers,
    });
    this.collapsedRuns = runCounter(
      'steadytune_collapsed_runs_total',
      'Seed runs whose validation verdict was collapsed (one class predicted far beyond its share of the set, the others almost never recalled).',
    );
    this.degenerateRuns = runCounter(
      'steadytune_degenerate_runs_total',
      'Seed runs whose validation verdict was degenerate (near-chance balanced accuracy).',
    );
    this.autoRemedies = runCounter('steadytune_auto_remedies_total', 'Automatic remedies applied during training.');
    this.jobsFinished = new Counter({
      name: 'steadytune_jobs_finished_total',
      help: 'Jobs that reached a terminal state, by outcome (succeeded, failed, cancelled).',
      labelNames: [...JOB_LABELS, 'outcome'],
      registers,
    });
    this.jobs = new Gauge({
      name: 'steadytune_jobs',
      help: 'Jobs in each live state (QUEUED, RUNNING, CANCELLING). Scale-out: over the deployment, exported by one API process.',
      labelNames: ['state'],
      registers,
      collect: () => this.collectJobStates(),
    });
    for (const state of LIVE_JOB_STATES) this.jobs.set({ state }, 0);
    this.queueDepth = new Gauge({
      name: 'steadytune_queue_depth',
      help: 'Tasks (seed runs, evaluations, predictions) waiting for a worker thread.',
      registers,
      collect: () => this.queueDepth.set(this.workerPool?.queuedTasks() ?? 0),
    });
    this.workerUtilization = new Gauge({
      name: 'steadytune_worker_utilization_ratio',
      help: 'Share of worker threads running a task.',
      registers,
      collect: () => {
        const pool = this.workerPool;
        this.workerUtilization.set(pool === undefined || pool.size === 0 ? 0 : pool.busyWorkers() / pool.size);
      },
    });
    this.rpcDuration = new Histogram({
      name: 'steadytune_rpc_duration_seconds',
      help: "gRPC server call duration, from the call's start to its status, by method and status code.",
      labelNames: ['rpc_method', 'code'],
      buckets: RPC_SECONDS_BUCKETS,
      registers,
    });
    this.storageWriteFailures = new Counter({
      name: 'steadytune_storage_write_failures_total',
      help: 'Writes of jobs to the data directory that failed, by what was written (job_store, checkpoint, model) and why (no_space, io_error, other).',
      labelNames: ['target', 'cause'],
      registers,
    });
    // Every series exists from the start at 0, so increase() in an alert sees the first failure.
    for (const target of STORAGE_TARGETS) for (const cause of STORAGE_FAULT_CAUSES) this.storageWriteFailures.inc({ target, cause }, 0);
    if (options.defaultMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry });
      for (const name of REJECTED_DEFAULT_METRICS) this.registry.removeSingleMetric(name);
    }
  }

  /** The jobs layer's storage-fault port, counting into steadytune_storage_write_failures_total. */
  storageFaultListener(): StorageFaultListener {
    return { writeFailed: (target, cause) => this.storageWriteFailures.inc({ target, cause }) };
  }

  /** Queue depth and worker utilisation are read from this pool at every scrape. */
  bindWorkerPool(pool: WorkerPoolGaugeSource): void {
    this.workerPool = pool;
  }

  /** Where steadytune_jobs comes from; 'events' until told otherwise. */
  countJobStatesFrom(counting: JobStateCounting): void {
    this.jobStateCounting = counting;
    if (counting !== 'events') this.jobs.reset();
  }

  /**
   * A process learned a job's labels (it created or writes the job): its jobs_finished_total
   * series exist at 0 from now on, since alerts use increase(), which cannot see a series'
   * first sample, and in scale-out the process that ends a job is not the one that queued it.
   */
  jobTracked(labels: Pick<JobMetricLabels, 'method' | 'modelFamily'>): void {
    for (const outcome of JOB_OUTCOMES) this.jobsFinished.inc({ method: labels.method, model_family: labels.modelFamily, outcome }, 0);
  }

  /**
   * Feeds the metrics from one event of a job's log. steadytune_jobs needs each job's previous
   * state, so it is JobMetricsRecorder's (which sees job ids); everything else is here.
   */
  observeJobEvent(event: JobEvent, labels: JobMetricLabels): void {
    const run = runLabels(labels);
    const { body } = event;
    switch (body.kind) {
      case 'step': {
        const step = body.step;
        this.trainSteps.inc(run);
        this.stepDuration.observe(run, step.stepSeconds);
        this.gradientNorm.observe(run, step.gradientNorm);
        this.correctFraction.set(run, step.correctFraction);
        this.dsgdAlpha.set(run, step.alpha);
        this.trainLoss.set(run, step.loss);
        this.trainAccuracy.set(run, step.accuracy);
        // null means W or C was empty: there is no angle to record, and 0 would bias the histogram.
        if (step.headConflictCosine !== null) this.conflictCosine.observe({ ...run, scope: 'head' }, step.headConflictCosine);
        const full = step.fullConflict?.cosine;
        if (full !== undefined && full !== null) this.conflictCosine.observe({ ...run, scope: 'full' }, full);
        return;
      }
      case 'run_finished': {
        this.runsFinished.inc({ ...run, outcome: body.run.state.toLowerCase() });
        const verdict = body.run.metrics?.verdict;
        if (verdict === 'collapsed') this.collapsedRuns.inc(run);
        if (verdict === 'degenerate') this.degenerateRuns.inc(run);
        return;
      }
      case 'notice':
        if (body.message.startsWith(AUTO_REMEDY_NOTICE_PREFIX)) this.autoRemedies.inc(run);
        return;
      case 'run_started':
        // Alerts use increase(), which cannot see a series' first sample: create them at 0 first.
        this.collapsedRuns.inc(run, 0);
        this.degenerateRuns.inc(run, 0);
        return;
      case 'state_changed': {
        const job = { method: labels.method, model_family: labels.modelFamily };
        if (body.state === 'QUEUED') {
          for (const outcome of JOB_OUTCOMES) this.jobsFinished.inc({ ...job, outcome }, 0);
        }
        if (TERMINAL_STATES.has(body.state)) this.jobsFinished.inc({ ...job, outcome: body.state.toLowerCase() });
        return;
      }
      case 'epoch':
      // Remedies are counted by their notice, which follows these events and also counts give-ups.
      case 'phase_started':
      case 'remedy_gave_up':
        return;
    }
  }

  private async collectJobStates(): Promise<void> {
    const counting = this.jobStateCounting;
    if (typeof counting === 'string') return;
    const counts = await counting.liveJobCounts();
    this.jobs.reset();
    if (counts === undefined) return;
    for (const state of LIVE_JOB_STATES) this.jobs.set({ state }, counts.get(state) ?? 0);
  }

  /** Text exposition of every metric, as /metrics serves it. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }
}

function runLabels(labels: JobMetricLabels): Record<RunLabel, string> {
  return { method: labels.method, model_family: labels.modelFamily, backend: labels.backend };
}
