// The embedded JobService: store, event log and worker pool in one process. Every TF.js call
// happens in the pool's worker threads; this module only moves plain data around.
import { ServiceError } from '../common/errors.js';
import type { DatasetRegistry, DatasetSplit } from '../data/index.js';
import { datasetInputFor, withJobClasses } from './dataset-inputs.js';
import { deliveredMetrics, deliveredSeeds } from './delivery.js';
import type { Durability } from './persistence/checkpoint-files.js';
import type { EventLog } from './event-log.js';
import { JobExecution, type JobOrigin } from './job-execution.js';
import { closeLogOf } from './job-state-machine.js';
import { NO_JOB_TRACING, type JobTraceParent, type JobTracer } from './job-tracer.js';
import { DirectoryModelFiles, type ModelFiles } from './persistence/model-files.js';
import { exportModelBundle } from './model-export.js';
import { toExampleInputs } from './predict-inputs.js';
import { evaluatePredictions, majorityVote, summarizeRuns, voteShares } from './stability.js';
import { IGNORE_STORAGE_FAULTS, storageFaultOf, type StorageFaultListener } from './storage-faults.js';
import type { JobStore } from './store.js';
import type { WorkerPool } from './worker-pool.js';
import type { DatasetInput, ModelCard, SeedWeights } from './worker/protocol.js';
import {
  TERMINAL_STATES,
  type BundleChunk,
  type DatasetSelection,
  type EvaluationReport,
  type Job,
  type JobEvent,
  type JobLogger,
  type JobService,
  type ListJobsQuery,
  type PredictInput,
  type PredictionRow,
  type SeedRun,
  type StartJobCommand,
} from './types.js';

export interface EmbeddedJobServiceOptions {
  readonly store: JobStore;
  readonly eventLog: EventLog;
  /** Started or not: the service starts it (and waits for its workers) in start(). */
  readonly pool: WorkerPool;
  /** Seed models go to <modelDir>/<jobId>/seed-<seed>/ (model.json + weights.bin). */
  readonly modelDir: string;
  /** Defaults to files under modelDir; tests may substitute. */
  readonly models?: ModelFiles;
  /** Epoch milliseconds. */
  readonly clock: () => number;
  readonly logger: JobLogger;
  /** Needed for jobs on registered datasets (they are looked up here and sent to the worker). */
  readonly datasets?: DatasetRegistry;
  /**
   * Set when the store and event log outlive this process: runs checkpoint, startWorkers()
   * resumes the jobs an earlier process left unfinished, and shutdown suspends running jobs
   * (checkpoint, stop, stay RUNNING) instead of failing them.
   */
  readonly durability?: Durability;
  /**
   * false in scale-out workers: the store is shared, so its unfinished jobs are other workers'
   * and come back through the queue (runClaimed), not through startWorkers(). Default true.
   */
  readonly resumeUnfinishedOnStart?: boolean;
  /** Traces each job's phases (the composition root passes OpenTelemetry's). Absent: untraced. */
  readonly tracer?: JobTracer;
  /** Told of every write the storage refused (the composition root passes the metrics). */
  readonly storageFaults?: StorageFaultListener;
}

const SHUTDOWN_REASON = 'interrupted: the server shut down';
const SUSPEND_REASON = 'the server shut down; the job resumes from its checkpoints on the next start';

export class EmbeddedJobService implements JobService {
  private readonly executions = new Map<string, JobExecution>();
  private readonly models: ModelFiles;
  private readonly tracer: JobTracer;
  private readonly storageFaults: StorageFaultListener;
  private accepting = true;
  private started = false;

  constructor(private readonly options: EmbeddedJobServiceOptions) {
    this.models = options.models ?? new DirectoryModelFiles(options.modelDir);
    this.tracer = options.tracer ?? NO_JOB_TRACING;
    this.storageFaults = options.storageFaults ?? IGNORE_STORAGE_FAULTS;
  }

  /**
   * Picks up the jobs an earlier process left unfinished (with durability), then starts the
   * worker threads; ready() turns true once they are up.
   */
  async startWorkers(): Promise<void> {
    if (this.options.durability !== undefined && this.options.resumeUnfinishedOnStart !== false) await this.resumeUnfinished();
    await this.options.pool.start();
    this.started = true;
  }

  private async resumeUnfinished(): Promise<void> {
    for (const job of await this.options.store.unfinished()) {
      // A job started through the API meanwhile already has its execution.
      if (this.executions.has(job.id)) continue;
      this.launch(job, 'resumed');
      this.options.logger.info('job resumed', { jobId: job.id, state: job.state, runtimeMs: job.runtimeMs });
    }
  }

  /**
   * Scale-out workers: runs a job claimed from the shared queue as a restart would resume it
   * (checkpoints, no step logged twice). Resolves once it ended, or was suspended by shutdown().
   */
  async runClaimed(job: Job): Promise<void> {
    if (!this.accepting) throw new ServiceError('FAILED_PRECONDITION', 'the service is shutting down and takes no new jobs');
    // A duplicate delivery while this process still runs the job joins the running execution.
    if (!this.executions.has(job.id)) this.launch(job, 'claimed');
    await this.executions.get(job.id)?.done;
  }

  private launch(job: Job, origin: JobOrigin, traceParent?: JobTraceParent): void {
    const execution = new JobExecution(
      job,
      {
        ...this.options,
        models: this.models,
        tracer: this.tracer,
        storageFaults: this.storageFaults,
        datasetInput: (selection, split) => this.datasetInput(job.tenant, selection, split),
      },
      origin,
      traceParent,
    );
    this.executions.set(job.id, execution);
    void execution.done.finally(() => this.executions.delete(job.id));
  }

  async start(command: StartJobCommand): Promise<{ job: Job; created: boolean }> {
    if (!this.accepting) throw new ServiceError('FAILED_PRECONDITION', 'the service is shutting down and takes no new jobs');
    // Called inside the StartFineTune handler: its server span is the active one here.
    const traceParent = this.tracer.currentParent();
    let created: { job: Job; created: boolean };
    try {
      created = await this.options.store.create(command, this.options.clock());
    } catch (error) {
      this.reportStorageFault(error);
      throw error;
    }
    const { job } = created;
    if (!created.created) return { job: await this.withLastSequence(job), created: false };
    let lastSequence = 0;
    try {
      lastSequence = (await this.options.eventLog.append(job.id, 0, { kind: 'state_changed', state: 'QUEUED', reason: '' })).sequence;
    } catch (error) {
      // The job exists: launched all the same, it runs, or ends FAILED naming the storage fault.
      this.reportStorageFault(error);
      this.options.logger.error('could not log a new job as QUEUED', { jobId: job.id, error });
    }
    this.launch(job, 'created', traceParent);
    this.options.logger.info('job queued', { jobId: job.id, tenant: job.tenant, seeds: job.spec.seeds.length });
    return { job: { ...job, lastSequence }, created: true };
  }

  async get(tenant: string, jobId: string): Promise<Job> {
    return this.withLastSequence(await this.mustGet(tenant, jobId));
  }

  async list(query: ListJobsQuery): Promise<{ jobs: Job[]; nextPageToken: string }> {
    const page = await this.options.store.list(query);
    return { jobs: await Promise.all(page.jobs.map((job) => this.withLastSequence(job))), nextPageToken: page.nextPageToken };
  }

  countActive(tenant?: string): Promise<number> {
    return this.options.store.countActive(tenant);
  }

  findByIdempotencyKey(tenant: string, key: string): Promise<Job | undefined> {
    return this.options.store.findByIdempotencyKey(tenant, key);
  }

  async cancel(tenant: string, jobId: string): Promise<Job> {
    const job = await this.mustGet(tenant, jobId);
    const execution = this.executions.get(jobId);
    if (TERMINAL_STATES.has(job.state) || execution === undefined) {
      throw new ServiceError('FAILED_PRECONDITION', `job ${jobId} is ${job.state} and cannot be cancelled`);
    }
    return this.withLastSequence(await execution.cancel('cancelled by request'));
  }

  async *events(tenant: string, jobId: string, fromSequence: number, signal: AbortSignal): AsyncIterable<JobEvent> {
    const job = await this.mustGet(tenant, jobId);
    if (TERMINAL_STATES.has(job.state) && !this.executions.has(jobId)) await this.closeLog(job);
    yield* this.options.eventLog.follow(jobId, fromSequence, signal);
  }

  /**
   * A crash between a job's terminal transition and its state_changed event leaves a log that
   * never closes, and followers that never end: the missing event is appended here, once no
   * execution of this process could still be about to append it.
   */
  private async closeLog(job: Job): Promise<void> {
    await closeLogOf(this.options.eventLog, job).catch(() => {});
  }

  async evaluate(
    tenant: string,
    jobId: string,
    options: { dataset?: DatasetSelection; seed: number; ensemble: boolean },
  ): Promise<EvaluationReport> {
    const job = await this.mustGet(tenant, jobId);
    const { card, models } = await this.loadModels(job, options.seed);
    const selection = options.dataset === undefined ? job.spec.validation : withJobClasses(options.dataset, job);
    const dataset = await this.datasetInput(tenant, selection, 'validation');
    const result = await this.options.pool.run({ kind: 'evaluate', card, models, dataset }).result;
    const metrics = result.evaluations.map((e) => e.metrics);
    const ensemble = options.ensemble
      ? evaluatePredictions(
          result.labels,
          majorityVote(
            metrics.map((m) => m.predictions),
            card.numClasses,
          ),
          card.numClasses,
        )
      : undefined;
    const delivery = deliveredSeeds(job);
    const delivered =
      options.seed === 0
        ? deliveredMetrics(delivery, new Map(result.evaluations.map((e) => [e.seed, e.metrics])), result.labels)
        : undefined;
    return {
      evaluations: result.evaluations.map((e) => ({ seed: e.seed, metrics: e.metrics })),
      summary: summarizeRuns(metrics, ensemble, job.spec.ciWidth),
      ...(ensemble === undefined ? {} : { ensemble }),
      ...(delivered === undefined ? {} : { delivered: { seeds: delivery.seeds, metrics: delivered } }),
    };
  }

  async predict(tenant: string, jobId: string, seed: number, inputs: readonly PredictInput[]): Promise<PredictionRow[]> {
    const job = await this.mustGet(tenant, jobId);
    const delivery = seed === 0 ? deliveredSeeds(job) : undefined;
    if (delivery !== undefined && delivery.seeds.length === 0) {
      throw new ServiceError(
        'FAILED_PRECONDITION',
        `job ${job.id} delivers no model (${delivery.note}); name a seed to use one of its models`,
      );
    }
    const { card, models } = await this.loadModels(job, seed, delivery?.seeds);
    if (inputs.length === 0) return [];
    const result = await this.options.pool.run({ kind: 'predict', card, models, inputs: toExampleInputs(card.inputs, inputs) }).result;
    const labelName = (label: number): string => card.classNames[label] ?? String(label);
    const single = result.predictions[0];
    // One seed's model (asked for, or the one BEST_VALIDATION delivers): its own probabilities.
    if ((seed !== 0 || delivery?.mode === 'best_validation') && single !== undefined) {
      const { numClasses, probabilities, predictions } = single.predictions;
      return Array.from(predictions, (label, i) => ({
        label,
        labelName: labelName(label),
        probabilities: Array.from(probabilities.subarray(i * numClasses, (i + 1) * numClasses)),
      }));
    }
    // The delivered seeds' vote (ENSEMBLE, ALL). "Probabilities" are their vote shares; ties go to the lowest class id.
    const votes = result.predictions.map((p) => p.predictions.predictions);
    const shares = voteShares(votes, card.numClasses);
    return Array.from(majorityVote(votes, card.numClasses), (label, i) => ({
      label,
      labelName: labelName(label),
      probabilities: shares[i] ?? [],
    }));
  }

  async *exportModel(tenant: string, jobId: string): AsyncIterable<BundleChunk> {
    const job = await this.mustGet(tenant, jobId);
    const { datasets } = this.options;
    yield* exportModelBundle(job, { models: this.models, ...(datasets === undefined ? {} : { datasets }) });
  }

  ready(): boolean {
    return this.started && this.accepting && this.options.pool.ready();
  }

  /**
   * Scale-out workers: stops a job running here as shutdown would (runs checkpoint at their next
   * step and stop; the job stays as it is, for whichever worker claims it next).
   */
  async suspendJob(jobId: string, reason: string): Promise<void> {
    await this.executions.get(jobId)?.suspend(reason);
  }

  async shutdown(): Promise<void> {
    this.accepting = false;
    const running = [...this.executions.values()];
    const durable = this.options.durability !== undefined;
    await Promise.all(
      running.map((execution) => (durable ? execution.suspend(SUSPEND_REASON) : execution.interrupt(SHUTDOWN_REASON)).catch(() => {})),
    );
    await Promise.all(running.map((execution) => execution.done));
    await this.options.pool.close();
  }

  private reportStorageFault(error: unknown): void {
    const fault = storageFaultOf(error);
    if (fault !== undefined) this.storageFaults.writeFailed('job_store', fault.cause);
  }

  private async mustGet(tenant: string, jobId: string): Promise<Job> {
    const job = await this.options.store.get(tenant, jobId);
    if (job === undefined) throw new ServiceError('NOT_FOUND', `job ${jobId} not found`);
    return job;
  }

  private async withLastSequence(job: Job): Promise<Job> {
    return { ...job, lastSequence: await this.options.eventLog.lastSequence(job.id) };
  }

  /**
   * The models Evaluate/Predict use: one seed's, or (seed 0) those of `among` (the delivered
   * seeds), or of every seed that finished training.
   */
  private async loadModels(job: Job, seed: number, among?: readonly number[]): Promise<{ card: ModelCard; models: SeedWeights[] }> {
    if (seed !== 0 && !job.spec.seeds.includes(seed)) {
      throw ServiceError.invalidArgument(`job ${job.id} has no seed ${seed}`, [
        { field: 'seed', description: `must be 0 or one of the job's seeds (${job.spec.seeds.join(', ')})` },
      ]);
    }
    const wanted = (run: SeedRun): boolean => (seed === 0 ? among === undefined || among.includes(run.seed) : run.seed === seed);
    const trained = job.runs.filter((run) => run.state === 'SUCCEEDED' && wanted(run));
    if (trained.length === 0) {
      const what = seed === 0 ? 'no trained model yet' : `no trained model for seed ${seed}`;
      throw new ServiceError('FAILED_PRECONDITION', `job ${job.id} (${job.state}) has ${what}`);
    }
    const loaded = await Promise.all(trained.map((run) => this.models.load(job.id, run.seed)));
    const card = loaded[0]?.card;
    if (card === undefined) throw new Error('unreachable: at least one model was loaded');
    return { card, models: loaded.map((model, i) => ({ seed: trained[i]?.seed ?? 0, weights: model.weights })) };
  }

  private datasetInput(tenant: string, selection: DatasetSelection, role: DatasetSplit): Promise<DatasetInput> {
    return datasetInputFor(this.options.datasets, tenant, selection, role);
  }
}
