// One job's life from QUEUED to a terminal state, possibly across server restarts: a training
// task per unfinished seed on the pool, every worker report turned into store updates, log
// events and checkpoint files, then the summary. All writes of a job go through one serial
// chain, so its events keep the order the workers produced them in, a checkpoint is recorded
// only after its step's event, and a cancel can never slip between "last run done" and the end.
import { hasCode, ServiceError } from '../common/errors.js';
import type { Evaluation } from '../engine/types.js';
import type { Durability } from './persistence/checkpoint-files.js';
import type { EventLog } from './event-log.js';
import {
  afterPhaseStart, checkpointSlot, isNewProgress, loggedProgress, NOTHING_LOGGED, resumePoint, RuntimeMeter, type LoggedProgress,
} from './job-resume.js';
import {
  currentPhaseIndex, phaseStartedEvent, remedyRequestFor, withLastPhaseClosed, withPeakMemory, withPhaseChange,
} from './run-phases.js';
import type { ModelFiles } from './persistence/model-files.js';
import { summarizeJob } from './job-summary.js';
import { SeedRuns } from './seed-runs.js';
import { JobPhaseTrace } from './job-phase-trace.js';
import type { JobTraceParent } from '../observability/index.js';
import type { JobStore } from './store.js';
import type { TaskHandle, WorkerPool } from './worker-pool.js';
import type { DatasetInput, TrainProgress, TrainRequest, TrainResult } from './worker/protocol.js';
import {
  TERMINAL_STATES,
  type DatasetSelection,
  type Job,
  type JobLogger,
  type JobState,
  type RunState,
} from './types.js';

export interface ExecutionContext {
  readonly store: JobStore;
  readonly eventLog: EventLog;
  readonly pool: WorkerPool;
  readonly models: ModelFiles;
  readonly clock: () => number;
  readonly logger: JobLogger;
  /** Resolves a selection for a worker (registered datasets are looked up on the main thread). */
  readonly datasetInput: (selection: DatasetSelection, split: 'train' | 'validation') => Promise<DatasetInput>;
  /** Absent: no checkpoints are kept and nothing resumes after a restart. */
  readonly durability?: Durability;
}

interface StopRequest {
  /** SUSPENDED: the server shuts down; runs checkpoint, stop and stay resumable. */
  readonly end: 'CANCELLED' | 'FAILED' | 'SUSPENDED';
  readonly reason: string;
}

const RUN_DONE: ReadonlySet<RunState> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);
/** Runtime is recorded at least this often while steps come in. */
const RUNTIME_RECORD_MS = 1000;

export class JobExecution {
  readonly done: Promise<void>;
  private readonly handles = new Map<number, TaskHandle<TrainRequest>>();
  private readonly finished = new Map<number, Evaluation>();
  private readonly runs: SeedRuns;
  private readonly runtime: RuntimeMeter;
  private readonly trace: JobPhaseTrace;
  private logged = new Map<number, LoggedProgress>();
  private validationLabels?: Int32Array;
  private runtimeRecordedAt = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private stop?: StopRequest;
  private deadline?: NodeJS.Timeout;

  /**
   * @param resumed the job was left unfinished by an earlier process
   * @param traceParent the StartFineTune call's span, where the job's phase spans hang (kept in memory only)
   */
  constructor(private readonly job: Job, private readonly context: ExecutionContext, private readonly resumed = false, traceParent?: JobTraceParent) {
    this.trace = new JobPhaseTrace(job.id, traceParent, job.spec.run.epochs, context.logger);
    this.runtime = new RuntimeMeter(job.runtimeMs, context.clock);
    this.runs = new SeedRuns(job.id, job.runs, context.store, context.eventLog, context.clock);
    this.done = this.execute();
  }

  /** CANCELLING now, CANCELLED once every run has stopped at its next step. */
  cancel(reason: string): Promise<Job> {
    return this.serial(async () => {
      const current = await this.current();
      if (current.state === 'CANCELLING') {
        // Moved there by another process (an API pod in scale-out): this one stops the runs.
        if (this.stop === undefined || this.stop.end === 'SUSPENDED') this.requestStop({ end: 'CANCELLED', reason: current.transitions.at(-1)?.reason ?? reason });
        return current;
      }
      const job = await this.moveTo(['QUEUED', 'RUNNING'], 'CANCELLING', reason);
      this.requestStop({ end: 'CANCELLED', reason });
      return job;
    });
  }

  /** Ends the job as FAILED with this reason (runtime limit, shutdown without durability) unless it already ends otherwise. */
  interrupt(reason: string): Promise<void> {
    return this.serial(async () => {
      if (this.stop !== undefined || TERMINAL_STATES.has((await this.current()).state)) return;
      this.requestStop({ end: 'FAILED', reason });
      await this.context.eventLog.append(this.job.id, 0, { kind: 'notice', message: reason });
      await this.context.store.addNotice(this.job.id, reason);
    });
  }

  /** Shutdown with durability: runs checkpoint at their next step and stop; the job stays as it is, to resume. */
  suspend(reason: string): Promise<void> {
    return this.serial(async () => {
      if (this.stop === undefined) this.requestStop({ end: 'SUSPENDED', reason });
    });
  }

  private async execute(): Promise<void> {
    try {
      const job = await this.current();
      this.logged = await loggedProgress(this.context.eventLog, job.id);
      if (this.resumed) {
        await this.serial(() => this.context.eventLog.append(job.id, 0, { kind: 'notice', message: 'resumed after a server restart' }));
      }
      if (job.state === 'RUNNING') this.startRuntime();
      for (const run of job.runs.filter((r) => RUN_DONE.has(r.state))) {
        if (run.state === 'SUCCEEDED' && run.metrics !== undefined) this.finished.set(run.seed, run.metrics);
        // Ended in the store, but the process died before logging it: log it now.
        if (!(this.logged.get(run.seed) ?? NOTHING_LOGGED).finished) await this.serial(() => this.runs.finish(run));
      }
      const open = job.runs.filter((run) => !RUN_DONE.has(run.state)).map((run) => run.seed);
      if (job.state === 'CANCELLING') {
        // Cancelled before the restart: its runs stop here, without training another step.
        this.stop = { end: 'CANCELLED', reason: job.transitions.at(-1)?.reason ?? 'cancelled' };
        await this.serial(async () => {
          for (const seed of open) await this.runs.finish({ ...this.runs.get(seed), state: 'CANCELLED', error: this.stop?.reason ?? '' });
        });
      } else if (open.length > 0) {
        const [train, validation] = await Promise.all([
          this.context.datasetInput(job.spec.train, 'train'),
          this.context.datasetInput(job.spec.validation, 'validation'),
        ]);
        const { spec } = job;
        await Promise.all(open.map((seed) => this.runSeed(seed, {
          kind: 'train', train, validation, imbalance: spec.imbalance, run: { ...spec.run, seed }, ...remedyRequestFor(spec, this.runs.get(seed)),
        })));
      }
      await this.serial(() => this.finish());
    } catch (error) {
      // Dataset resolution failed, or a store/log write did: the job must still end.
      this.context.logger.error('job execution failed', { jobId: this.job.id, error });
      await this.serial(() => this.end(['QUEUED', 'RUNNING', 'CANCELLING'], 'FAILED', messageOf(error))).catch(() => {});
    } finally {
      clearTimeout(this.deadline);
      this.trace.close();
    }
  }

  private async runSeed(seed: number, base: TrainRequest): Promise<void> {
    const request = await this.withCheckpoint(seed, base);
    const handle = this.context.pool.run(request, (progress) => {
      this.trace.onProgress(seed, progress);
      void this.serial(() => this.onProgress(seed, progress)).catch((error: unknown) =>
        this.context.logger.error('could not record progress', { jobId: this.job.id, seed, error }),
      );
    });
    this.handles.set(seed, handle);
    if (this.stop?.end === 'SUSPENDED') handle.suspend();
    else if (this.stop !== undefined) handle.cancel();
    try {
      const result = await handle.result;
      await this.serial(() => this.onResult(seed, result));
    } catch (error) {
      await this.serial(() => this.onRunError(seed, error));
    } finally {
      this.trace.runEnded(seed, this.runs.get(seed));
    }
  }

  /** The run's request with its checkpoint settings, and where a resumed run continues from. */
  private async withCheckpoint(seed: number, request: TrainRequest): Promise<TrainRequest> {
    const { durability } = this.context;
    if (durability === undefined) return request;
    const phase = currentPhaseIndex(this.runs.get(seed));
    const { checkpoint, notice } = await resumePoint(durability.checkpoints, this.job.id, seed, this.logged.get(seed) ?? NOTHING_LOGGED, phase);
    if (notice !== undefined) await this.serial(() => this.context.eventLog.append(this.job.id, seed, { kind: 'notice', message: notice }));
    return { ...request, checkpointEverySteps: durability.checkpointEverySteps, ...(checkpoint === undefined ? {} : { resumeFrom: checkpoint }) };
  }

  private async onProgress(seed: number, progress: TrainProgress): Promise<void> {
    const { store, eventLog, clock } = this.context;
    const jobId = this.job.id;
    const isNew = isNewProgress(this.logged.get(seed) ?? NOTHING_LOGGED, progress);
    switch (progress.kind) {
      case 'started': {
        if ((await this.current()).state === 'QUEUED') {
          await this.moveTo(['QUEUED'], 'RUNNING', '');
          this.startRuntime();
        }
        await store.setBackend(jobId, progress.backend);
        this.runs.started(seed);
        await this.runs.put({ ...this.runs.get(seed), state: 'RUNNING', totalSteps: progress.totalSteps });
        if (isNew) await eventLog.append(jobId, seed, { kind: 'run_started', totalSteps: progress.totalSteps, backend: progress.backend });
        return;
      }
      case 'step': {
        if (!isNew) return;
        await eventLog.append(jobId, seed, { kind: 'step', step: progress.telemetry });
        const { step, totalSteps } = progress.telemetry;
        await this.runs.put({ ...this.runs.get(seed), steps: step, totalSteps, durationMs: this.runs.durationMs(seed) });
        if (clock() - this.runtimeRecordedAt >= RUNTIME_RECORD_MS) await this.recordRuntime();
        return;
      }
      case 'epoch':
        if (isNew) await eventLog.append(jobId, seed, { kind: 'epoch', ...progress.report });
        return;
      case 'notice':
        await eventLog.append(jobId, seed, { kind: 'notice', message: progress.message });
        await store.addNotice(jobId, progress.message);
        return;
      case 'checkpoint': {
        const { durability } = this.context;
        if (durability === undefined) return;
        const slot = checkpointSlot(seed, progress.phase);
        await this.trace.checkpoint(seed, progress.step, () => durability.checkpoints.save(jobId, slot, progress.step, progress.encoded));
        await this.runs.put({ ...this.runs.get(seed), checkpointStep: progress.step });
        await this.recordRuntime();
        return;
      }
      case 'phase':
        // The structured event, then its words as a notice for clients that predate the event.
        await eventLog.append(jobId, seed, phaseStartedEvent(progress));
        await eventLog.append(jobId, seed, { kind: 'notice', message: progress.notice });
        await store.addNotice(jobId, progress.notice);
        await this.runs.put(withPhaseChange(this.runs.get(seed), progress));
        // The new phase logs its steps from its start again.
        this.logged.set(seed, afterPhaseStart(this.logged.get(seed) ?? NOTHING_LOGGED, progress.next.startStep));
        return;
    }
  }

  private async onResult(seed: number, result: TrainResult): Promise<void> {
    if (result.validationLabels.length > 0) this.validationLabels = result.validationLabels;
    const row = withPeakMemory(this.runs.get(seed), result.peakMemoryBytes);
    const base = { ...row, meanStepSeconds: result.meanStepSeconds, durationMs: this.runs.durationMs(seed) };
    if (result.stopped && this.stop?.end === 'SUSPENDED') {
      // Stays RUNNING with its checkpoint: the next start continues it.
      await this.runs.put({ ...base, steps: Math.max(base.steps, result.steps) });
      return;
    }
    if (result.stopped || result.validation === undefined) {
      await this.runs.finish({ ...base, steps: result.steps, state: 'CANCELLED', error: this.stop?.reason ?? 'stopped' });
      return;
    }
    try {
      await this.context.models.save(this.job.id, seed, result.weights, result.card);
    } catch (error) {
      await this.runs.finish({ ...base, steps: result.steps, state: 'FAILED', error: `could not save the model: ${messageOf(error)}` });
      return;
    }
    this.finished.set(seed, result.validation);
    const closed = withLastPhaseClosed(base, this.job.spec, result.steps, result.validation.verdict);
    await this.runs.finish({ ...closed, steps: result.steps, state: 'SUCCEEDED', metrics: result.validation });
  }

  private async onRunError(seed: number, error: unknown): Promise<void> {
    if (this.stop?.end === 'SUSPENDED') {
      // Dropped from the queue or its worker ended at shutdown: resumable like a suspended run.
      this.context.logger.info('seed run left to resume', { jobId: this.job.id, seed, error: messageOf(error) });
      return;
    }
    const base = { ...this.runs.get(seed), durationMs: this.runs.durationMs(seed) };
    if (hasCode(error, 'CANCELLED')) {
      await this.runs.finish({ ...base, state: 'CANCELLED', error: this.stop?.reason ?? 'cancelled' });
      return;
    }
    this.context.logger.warn('seed run failed', { jobId: this.job.id, seed, error: messageOf(error) });
    await this.runs.finish({ ...base, state: 'FAILED', error: messageOf(error) });
  }

  private async finish(): Promise<void> {
    const job = await this.current();
    if (this.stop?.end === 'SUSPENDED' && job.runs.some((run) => !RUN_DONE.has(run.state))) {
      await this.recordRuntime();
      this.context.logger.info('job suspended; it resumes on the next start', { jobId: job.id, state: job.state });
      return;
    }
    const stop = this.stop?.end === 'SUSPENDED' ? undefined : this.stop;
    if (this.finished.size > 0) {
      await this.context.store.setSummary(this.job.id, await summarizeJob(job, this.finished, this.validationLabels, this.context));
    }
    if (stop !== undefined && stop.end !== 'SUSPENDED') {
      await this.end(['QUEUED', 'RUNNING', 'CANCELLING'], stop.end, stop.reason);
      return;
    }
    if (this.finished.size === 0) {
      const first = job.runs.find((run) => run.error !== undefined);
      const reason = `all ${job.runs.length} runs failed${first === undefined ? '' : `; seed ${first.seed}: ${first.error}`}`;
      await this.end(['QUEUED', 'RUNNING'], 'FAILED', reason);
      return;
    }
    await this.end(['RUNNING'], 'SUCCEEDED', '');
  }

  private async end(from: readonly JobState[], to: JobState, reason: string): Promise<void> {
    await this.recordRuntime();
    await this.moveTo(from, to, reason);
    this.context.logger.info('job ended', { jobId: this.job.id, state: to, reason });
    // Terminal: nothing will resume it.
    await this.context.durability?.checkpoints.remove(this.job.id).catch((error: unknown) =>
      this.context.logger.warn('could not remove checkpoints', { jobId: this.job.id, error: messageOf(error) }),
    );
  }

  /** The store transition and its state_changed event, together. */
  private async moveTo(from: readonly JobState[], to: JobState, reason: string): Promise<Job> {
    const job = await this.context.store.transition(this.job.id, { from, to, time: this.context.clock(), reason });
    await this.context.eventLog.append(this.job.id, 0, { kind: 'state_changed', state: to, reason });
    return job;
  }

  private requestStop(stop: StopRequest): void {
    this.stop = stop;
    for (const handle of this.handles.values()) {
      if (stop.end === 'SUSPENDED') handle.suspend();
      else handle.cancel();
    }
  }

  /** Counts RUNNING time from now and arms the limit with what earlier processes left of it. */
  private startRuntime(): void {
    if (this.runtime.running) return;
    this.runtime.start();
    const limit = this.job.spec.maxRuntimeMs;
    if (limit <= 0) return;
    this.deadline = setTimeout(() => {
      void this.interrupt(`exceeded the maximum runtime of ${limit / 1000} s`);
    }, Math.max(0, limit - this.runtime.totalMs()));
    this.deadline.unref();
  }

  private async recordRuntime(): Promise<void> {
    this.runtimeRecordedAt = this.context.clock();
    await this.context.store.setRuntime(this.job.id, this.runtime.totalMs());
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.chain.then(work);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async current(): Promise<Job> {
    const job = await this.context.store.get(this.job.tenant, this.job.id);
    if (job === undefined) throw new ServiceError('NOT_FOUND', `job ${this.job.id} not found`);
    return job;
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
