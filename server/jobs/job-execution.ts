// One job's life from QUEUED to a terminal state, possibly across server restarts: a training
// task per unfinished seed on the pool, then the summary. The parts: what the job finds when it
// starts (job-resume.ts), its states and moves (job-state-machine.ts), and what each worker
// report becomes in the store, log and checkpoint files (progress-recorder.ts). All writes of a
// job go through one serial chain here, so its events keep the order the workers produced them
// in, a checkpoint is recorded only after its step's event, and a cancel can never slip between
// "last run done" and the end. A write refused as ABORTED means another process has claimed the
// job since this one did (scale-out fencing): the execution then stops its runs and writes
// nothing more, leaving the job to the new holder. A write the storage refuses (full or failing
// disk) stops the runs and ends the job FAILED with that cause (failed-execution-end.ts retries
// the end until the storage takes it: the job never stays RUNNING once space is back).
import { setImmediate as nextTurn } from 'node:timers/promises';
import { hasCode, messageOf, type ServiceError } from '../common/errors.js';
import type { EventLog } from './event-log.js';
import { reportTestSplit, summarizeJob, type TestSplitReport } from './job-summary.js';
import { endFailedExecution } from './failed-execution-end.js';
import { loadStartPoint, newJobStartPoint, NOTHING_LOGGED, resumeRequest, type LoggedProgress } from './job-resume.js';
import { endMoveOf, JobStateMachine, type StopRequest } from './job-state-machine.js';
import type { JobPhaseTracker, JobTraceParent, JobTracer } from './job-tracer.js';
import type { Durability } from './persistence/checkpoint-files.js';
import type { ModelFiles } from './persistence/model-files.js';
import { ProgressRecorder } from './progress-recorder.js';
import { currentPhaseIndex, ledgerFor, remedyRequestFor } from './run-phases.js';
import { SeedRuns } from './seed-runs.js';
import { jobStoppedReason, type StorageFault, storageFaultOf, type StorageFaultListener } from './storage-faults.js';
import type { JobStore } from './store.js';
import type { TaskHandle, WorkerPool } from './worker-pool.js';
import type { DatasetInput, TrainRequest } from './worker/protocol.js';
import type { DatasetSplit } from '../data/index.js';
import { RUN_ENDED_STATES, TERMINAL_STATES, type DatasetSelection, type Job, type JobLogger, type StabilitySummary } from './types.js';

export interface ExecutionContext {
  readonly store: JobStore;
  readonly eventLog: EventLog;
  readonly pool: WorkerPool;
  readonly models: ModelFiles;
  readonly clock: () => number;
  readonly logger: JobLogger;
  readonly tracer: JobTracer;
  /** Resolves a selection for a worker (registered datasets are looked up on the main thread). */
  readonly datasetInput: (selection: DatasetSelection, split: DatasetSplit) => Promise<DatasetInput>;
  /** Absent: no checkpoints are kept and nothing resumes after a restart. */
  readonly durability?: Durability;
  /** Told of every write the storage refused (the metrics). */
  readonly storageFaults: StorageFaultListener;
}

/**
 * Where an execution's job comes from: created by this process a moment ago, claimed from the
 * shared queue (scale-out), or left unfinished by an earlier process (a restart).
 */
export type JobOrigin = 'created' | 'claimed' | 'resumed';

export class JobExecution {
  readonly done: Promise<void>;
  private readonly handles = new Map<number, TaskHandle<TrainRequest>>();
  private readonly runs: SeedRuns;
  private readonly state: JobStateMachine;
  private readonly trace: JobPhaseTracker;
  private chain: Promise<unknown> = Promise.resolve();
  /** Set once a write was refused because another process claimed the job: nothing is written after it. */
  private superseded?: ServiceError;
  /** Set once a write of the job's record failed on the storage: later progress is dropped, not logged with gaps. */
  private recordLost = false;
  /** Aborted at shutdown: a job whose end the storage keeps refusing stays as it is, to resume. */
  private readonly halted = new AbortController();

  /**
   * @param origin where the job comes from (see JobOrigin)
   * @param traceParent the StartFineTune call's span, where the job's phase spans hang (kept in memory only)
   */
  constructor(
    private readonly job: Job,
    private readonly context: ExecutionContext,
    private readonly origin: JobOrigin,
    traceParent?: JobTraceParent,
  ) {
    this.trace = context.tracer.traceJob({ id: job.id, epochs: job.spec.run.epochs }, traceParent, context.logger);
    this.state = new JobStateMachine(job, context, (reason) => void this.interrupt(reason));
    this.runs = new SeedRuns(job.id, job.runs, context.store, context.eventLog, context.clock);
    this.done = this.execute();
  }

  /** CANCELLING now, CANCELLED once every run has stopped at its next step. */
  cancel(reason: string): Promise<Job> {
    return this.serial(async () => {
      const current = await this.state.current();
      if (current.state === 'CANCELLING') {
        // Moved there by another process (an API pod in scale-out): this one stops the runs.
        const { stop } = this.state;
        if (stop === undefined || stop.end === 'SUSPENDED')
          this.requestStop({ end: 'CANCELLED', reason: current.transitions.at(-1)?.reason ?? reason });
        return current;
      }
      const job = await this.state.move('cancel', reason);
      this.requestStop({ end: 'CANCELLED', reason });
      return job;
    });
  }

  /** Ends the job as FAILED with this reason (runtime limit, shutdown without durability) unless it already ends otherwise. */
  interrupt(reason: string): Promise<void> {
    return this.serial(async () => {
      if (this.state.stop !== undefined || TERMINAL_STATES.has((await this.state.current()).state)) return;
      this.requestStop({ end: 'FAILED', reason });
      await this.context.eventLog.append(this.job.id, 0, { kind: 'notice', message: reason });
      await this.context.store.addNotice(this.job.id, reason);
    });
  }

  /** Shutdown with durability: runs checkpoint at their next step and stop; the job stays as it is, to resume. */
  suspend(reason: string): Promise<void> {
    this.halted.abort();
    return this.serial(async () => {
      if (this.state.stop === undefined) this.requestStop({ end: 'SUSPENDED', reason });
    });
  }

  private async execute(): Promise<void> {
    const seedRuns: Promise<void>[] = [];
    try {
      // A burst of StartFineTune calls is answered before the executions it launched do anything.
      await nextTurn();
      // A job created here is as create() returned it, its log holding QUEUED alone: nothing to
      // read back. (A cancel meanwhile stops its runs through the stop request all the same.)
      const created = this.origin === 'created';
      const job = created ? this.job : await this.state.current();
      const start = created ? newJobStartPoint(job) : await loadStartPoint(job, this.context.eventLog);
      const recorder = new ProgressRecorder(job, this.context, this.runs, this.state, this.trace, start.logged, start.succeeded);
      if (this.origin === 'resumed') {
        await this.serial(() => this.context.eventLog.append(job.id, 0, { kind: 'notice', message: 'resumed after a server restart' }));
      }
      if (job.state === 'RUNNING') this.state.startRuntime();
      for (const run of start.unloggedEnds) await this.serial(() => this.runs.finish(run));
      if (job.state === 'CANCELLING') {
        // Cancelled before the restart: its runs stop here, without training another step.
        const stop: StopRequest = { end: 'CANCELLED', reason: job.transitions.at(-1)?.reason ?? 'cancelled' };
        this.state.requestStop(stop);
        await this.serial(async () => {
          for (const seed of start.open) await this.runs.finish({ ...this.runs.get(seed), state: 'CANCELLED', error: stop.reason });
        });
      } else if (start.open.length > 0) {
        const [train, validation] = await Promise.all([
          this.context.datasetInput(job.spec.train, 'train'),
          this.context.datasetInput(job.spec.validation, 'validation'),
        ]);
        const { spec } = job;
        const ledger = ledgerFor(spec, job.runs);
        for (const seed of start.open) {
          seedRuns.push(
            this.runSeed(seed, recorder, start.logged.get(seed) ?? NOTHING_LOGGED, {
              kind: 'train',
              train,
              validation,
              imbalance: spec.imbalance,
              run: { ...spec.run, seed },
              ...remedyRequestFor(spec, this.runs.get(seed), ledger),
            }),
          );
        }
        await Promise.all(seedRuns);
      }
      await this.serial(() => this.finish(recorder));
    } catch (error) {
      if (this.superseded !== undefined) {
        // Not this process's job any more: its new holder ends it.
        this.context.logger.warn('job taken over by another worker; stopped here', { jobId: this.job.id, reason: this.superseded.message });
        return;
      }
      // Dataset resolution failed, or a store/log write did: the job must still end.
      this.context.logger.error('job execution failed', { jobId: this.job.id, error });
      const fault = storageFaultOf(error);
      if (fault !== undefined) this.recordingFailed(fault);
      const { stop } = this.state;
      if (stop === undefined) this.requestStop({ end: 'FAILED', reason: messageOf(error) });
      // No run may still be training when the job ends.
      await Promise.allSettled(seedRuns);
      const ending = {
        ...this.context,
        jobId: this.job.id,
        state: this.state,
        runs: this.runs,
        serial: <T>(work: () => Promise<T>) => this.serial(work),
        halted: this.halted.signal,
      };
      if (stop?.end === 'CANCELLED' || stop?.end === 'FAILED') await endFailedExecution(ending, stop.end, stop.reason);
      else await endFailedExecution(ending, 'FAILED', messageOf(error));
    } finally {
      this.state.dispose();
      this.trace.close();
    }
  }

  private async runSeed(seed: number, recorder: ProgressRecorder, logged: LoggedProgress, base: TrainRequest): Promise<void> {
    const { request, notice } = await resumeRequest(
      base,
      this.context.durability,
      this.job.id,
      logged,
      currentPhaseIndex(this.runs.get(seed)),
    );
    if (notice !== undefined) await this.serial(() => this.context.eventLog.append(this.job.id, seed, { kind: 'notice', message: notice }));
    const handle = this.context.pool.run(request, (progress) => {
      this.trace.onProgress(seed, progress);
      // Once a write was refused, progress is dropped (even what was queued): a log with gaps would mislead.
      void this.serial(async () => (this.recordLost ? undefined : recorder.onProgress(seed, progress))).catch((error: unknown) => {
        if (this.superseded !== undefined) return;
        this.context.logger.error('could not record progress', { jobId: this.job.id, seed, error });
        const fault = storageFaultOf(error);
        if (fault !== undefined) this.recordingFailed(fault);
      });
    });
    this.handles.set(seed, handle);
    const { stop } = this.state;
    if (stop?.end === 'SUSPENDED') handle.suspend();
    else if (stop !== undefined) handle.cancel();
    try {
      const result = await handle.result;
      await this.serial(() => recorder.onResult(seed, result));
    } catch (error) {
      await this.serial(() => recorder.onRunError(seed, error)).catch((recordError: unknown) => {
        // The run's end could not be stored either: the job ends over it, once the storage takes writes.
        const fault = storageFaultOf(recordError);
        if (fault === undefined) throw recordError;
        this.recordingFailed(fault);
      });
    } finally {
      this.trace.runEnded(seed, this.runs.get(seed));
    }
  }

  /** A write of the job's record failed on the storage: the runs stop, and the job is to end FAILED with the cause. */
  private recordingFailed(fault: StorageFault): void {
    this.context.storageFaults.writeFailed('job_store', fault.cause);
    if (this.recordLost) return;
    this.recordLost = true;
    const reason = jobStoppedReason(fault);
    this.context.logger.error('job stopped: its record could not be stored', { jobId: this.job.id, reason });
    if (this.state.stop === undefined) this.requestStop({ end: 'FAILED', reason });
  }

  private async finish(recorder: ProgressRecorder): Promise<void> {
    const job = await this.state.current();
    const stop = this.state.stop;
    if (stop?.end === 'SUSPENDED' && job.runs.some((run) => !RUN_ENDED_STATES.has(run.state))) {
      await this.state.recordRuntime();
      this.context.logger.info('job suspended; it resumes on the next start', { jobId: job.id, state: job.state });
      return;
    }
    const { succeeded } = recorder;
    if (succeeded.size > 0) await this.summarize(job, recorder, stop === undefined);
    if (stop !== undefined && stop.end !== 'SUSPENDED') {
      await this.state.end(endMoveOf(stop.end), stop.reason);
      return;
    }
    if (succeeded.size === 0) {
      const first = job.runs.find((run) => run.error !== undefined);
      const reason = `all ${job.runs.length} runs failed${first === undefined ? '' : `; seed ${first.seed}: ${first.error}`}`;
      await this.state.end('failAllRuns', reason);
      return;
    }
    await this.state.end('succeed', '');
  }

  /**
   * The summary and the delivered model, chosen on validation; then (a job not stopped early)
   * the test split, reported on each trained seed's row and for the delivered model.
   */
  private async summarize(job: Job, recorder: ProgressRecorder, withTestSplit: boolean): Promise<void> {
    const chosen = await summarizeJob(job, recorder.succeeded, recorder.validationLabels, this.context);
    const tested = withTestSplit ? await this.reportTestSplit(job, chosen) : undefined;
    for (const [seed, testMetrics] of tested?.bySeed ?? []) await this.runs.put({ ...this.runs.get(seed), testMetrics });
    const summary = tested?.summary ?? chosen;
    await this.context.store.setSummary(job.id, summary);
    if (summary.delivery !== undefined && summary.delivery.seeds.length === 0) await this.notice(`delivery: ${summary.delivery.note}`);
  }

  /** Test metrics are only reported: a split that cannot be evaluated is a notice, not a failed job. */
  private async reportTestSplit(job: Job, summary: StabilitySummary): Promise<TestSplitReport | undefined> {
    try {
      return await reportTestSplit(job, summary, this.context);
    } catch (error) {
      this.context.logger.warn('test split not evaluated', { jobId: job.id, error: messageOf(error) });
      await this.notice(`test split not evaluated: ${messageOf(error)}`);
      return undefined;
    }
  }

  private async notice(message: string): Promise<void> {
    await this.context.eventLog.append(this.job.id, 0, { kind: 'notice', message });
    await this.context.store.addNotice(this.job.id, message);
  }

  private requestStop(stop: StopRequest): void {
    this.state.requestStop(stop);
    for (const handle of this.handles.values()) {
      if (stop.end === 'SUSPENDED') handle.suspend();
      else handle.cancel();
    }
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.chain
      .then(() => {
        if (this.superseded !== undefined) throw this.superseded;
        return work();
      })
      .catch((error: unknown) => {
        if (hasCode(error, 'ABORTED')) this.stopSuperseded(error);
        throw error;
      });
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Another process claimed the job: its runs stop at their next step, without a checkpoint. */
  private stopSuperseded(error: ServiceError): void {
    if (this.superseded !== undefined) return;
    this.superseded = error;
    this.state.requestStop({ end: 'SUSPENDED', reason: error.message });
    for (const handle of this.handles.values()) handle.cancel();
  }
}
