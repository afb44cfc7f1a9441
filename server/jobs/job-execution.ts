// One job's life from QUEUED to a terminal state: a training task per seed on the pool,
// every worker report turned into store updates and log events, then the summary.
// All writes of a job go through one serial chain, so its events keep the order the
// workers produced them in and a cancel can never slip between "last run done" and the end.
import type { Evaluation } from '../engine/types.js';
import type { EventLog } from './event-log.js';
import type { ModelFiles } from './model-files.js';
import { evaluatePredictions, majorityVote, summarizeRuns } from './stability.js';
import type { JobStore } from './store.js';
import { TaskCancelledError, type TaskHandle, type WorkerPool } from './worker-pool.js';
import type { DatasetInput, TrainProgress, TrainRequest, TrainResult } from './worker-protocol.js';
import {
  JobError,
  TERMINAL_STATES,
  type DatasetSelection,
  type Job,
  type JobLogger,
  type JobState,
  type SeedRun,
  type StabilitySummary,
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
}

interface StopRequest {
  readonly end: 'CANCELLED' | 'FAILED';
  readonly reason: string;
}

interface FinishedRun {
  readonly validation: Evaluation;
  readonly labels: Int32Array;
}

export class JobExecution {
  readonly done: Promise<void>;
  private readonly handles = new Map<number, TaskHandle<TrainRequest>>();
  private readonly runStarts = new Map<number, number>();
  private readonly finished = new Map<number, FinishedRun>();
  private chain: Promise<unknown> = Promise.resolve();
  private stop?: StopRequest;
  private deadline?: NodeJS.Timeout;

  constructor(private readonly job: Job, private readonly context: ExecutionContext) {
    this.done = this.execute();
  }

  /** CANCELLING now, CANCELLED once every run has stopped at its next step. */
  cancel(reason: string): Promise<Job> {
    return this.serial(async () => {
      const current = await this.current();
      if (current.state === 'CANCELLING') return current;
      const job = await this.moveTo(['QUEUED', 'RUNNING'], 'CANCELLING', reason);
      this.requestStop({ end: 'CANCELLED', reason });
      return job;
    });
  }

  /** Ends the job as FAILED with this reason (shutdown, runtime limit) unless it already ends otherwise. */
  interrupt(reason: string): Promise<void> {
    return this.serial(async () => {
      if (this.stop !== undefined || TERMINAL_STATES.has((await this.current()).state)) return;
      this.requestStop({ end: 'FAILED', reason });
      await this.context.eventLog.append(this.job.id, 0, { kind: 'notice', message: reason });
      await this.context.store.addNotice(this.job.id, reason);
    });
  }

  private async execute(): Promise<void> {
    try {
      const [train, validation] = await Promise.all([
        this.context.datasetInput(this.job.spec.train, 'train'),
        this.context.datasetInput(this.job.spec.validation, 'validation'),
      ]);
      const { spec } = this.job;
      await Promise.all(
        spec.seeds.map((seed) =>
          this.runSeed(seed, { kind: 'train', train, validation, imbalance: spec.imbalance, run: { ...spec.run, seed } }),
        ),
      );
      await this.serial(() => this.finish());
    } catch (error) {
      // Dataset resolution failed, or a store/log write did: the job must still end.
      this.context.logger.error('job execution failed', { jobId: this.job.id, error });
      await this.serial(() => this.end(['QUEUED', 'RUNNING', 'CANCELLING'], 'FAILED', messageOf(error))).catch(() => {});
    } finally {
      clearTimeout(this.deadline);
    }
  }

  private async runSeed(seed: number, request: TrainRequest): Promise<void> {
    const handle = this.context.pool.run(request, (progress) => {
      void this.serial(() => this.onProgress(seed, progress)).catch((error: unknown) =>
        this.context.logger.error('could not record progress', { jobId: this.job.id, seed, error }),
      );
    });
    this.handles.set(seed, handle);
    if (this.stop !== undefined) handle.cancel();
    try {
      const result = await handle.result;
      await this.serial(() => this.onResult(seed, result));
    } catch (error) {
      await this.serial(() => this.onRunError(seed, error));
    }
  }

  private async onProgress(seed: number, progress: TrainProgress): Promise<void> {
    const { store, eventLog, clock } = this.context;
    const jobId = this.job.id;
    switch (progress.kind) {
      case 'started': {
        if ((await this.current()).state === 'QUEUED') {
          await this.moveTo(['QUEUED'], 'RUNNING', '');
          this.armDeadline();
        }
        await store.setBackend(jobId, progress.backend);
        this.runStarts.set(seed, clock());
        await store.putRun(jobId, { ...(await this.run(seed)), state: 'RUNNING', totalSteps: progress.totalSteps });
        await eventLog.append(jobId, seed, { kind: 'run_started', totalSteps: progress.totalSteps, backend: progress.backend });
        return;
      }
      case 'step':
        await eventLog.append(jobId, seed, { kind: 'step', step: progress.telemetry });
        await store.putRun(jobId, { ...(await this.run(seed)), steps: progress.telemetry.step, totalSteps: progress.telemetry.totalSteps });
        return;
      case 'epoch':
        await eventLog.append(jobId, seed, { kind: 'epoch', ...progress.report });
        return;
      case 'notice':
        await eventLog.append(jobId, seed, { kind: 'notice', message: progress.message });
        await store.addNotice(jobId, progress.message);
        return;
    }
  }

  private async onResult(seed: number, result: TrainResult): Promise<void> {
    const base = { ...(await this.run(seed)), steps: result.steps, meanStepSeconds: result.meanStepSeconds, durationMs: this.elapsed(seed) };
    if (result.stopped || result.validation === undefined) {
      await this.recordRun({ ...base, state: 'CANCELLED', error: this.stop?.reason ?? 'stopped' });
      return;
    }
    try {
      await this.context.models.save(this.job.id, seed, result.weights, result.card);
    } catch (error) {
      await this.recordRun({ ...base, state: 'FAILED', error: `could not save the model: ${messageOf(error)}` });
      return;
    }
    this.finished.set(seed, { validation: result.validation, labels: result.validationLabels });
    await this.recordRun({ ...base, state: 'SUCCEEDED', metrics: result.validation });
  }

  private async onRunError(seed: number, error: unknown): Promise<void> {
    const base = { ...(await this.run(seed)), durationMs: this.elapsed(seed) };
    if (error instanceof TaskCancelledError) {
      await this.recordRun({ ...base, state: 'CANCELLED', error: this.stop?.reason ?? 'cancelled' });
      return;
    }
    this.context.logger.warn('seed run failed', { jobId: this.job.id, seed, error: messageOf(error) });
    await this.recordRun({ ...base, state: 'FAILED', error: messageOf(error) });
  }

  private async recordRun(run: SeedRun): Promise<void> {
    await this.context.store.putRun(this.job.id, run);
    await this.context.eventLog.append(this.job.id, run.seed, { kind: 'run_finished', run });
  }

  private async finish(): Promise<void> {
    const seeds = this.job.spec.seeds.filter((seed) => this.finished.has(seed));
    if (seeds.length > 0) await this.context.store.setSummary(this.job.id, this.summarize(seeds));
    if (this.stop !== undefined) {
      await this.end(['QUEUED', 'RUNNING', 'CANCELLING'], this.stop.end, this.stop.reason);
      return;
    }
    if (seeds.length === 0) {
      const runs = (await this.current()).runs;
      const first = runs.find((run) => run.error !== undefined);
      const reason = `all ${runs.length} runs failed${first === undefined ? '' : `; seed ${first.seed}: ${first.error}`}`;
      await this.end(['QUEUED', 'RUNNING'], 'FAILED', reason);
      return;
    }
    await this.end(['RUNNING'], 'SUCCEEDED', '');
  }

  private summarize(seeds: readonly number[]): StabilitySummary {
    const runs = seeds.flatMap((seed) => {
      const run = this.finished.get(seed);
      return run === undefined ? [] : [run];
    });
    const first = runs[0];
    if (!this.job.spec.ensemble || first === undefined) return summarizeRuns(runs.map((r) => r.validation));
    const vote = majorityVote(runs.map((r) => r.validation.predictions), first.validation.numClasses);
    return summarizeRuns(runs.map((r) => r.validation), evaluatePredictions(first.labels, vote, first.validation.numClasses));
  }

  private async end(from: readonly JobState[], to: JobState, reason: string): Promise<void> {
    await this.moveTo(from, to, reason);
    this.context.logger.info('job ended', { jobId: this.job.id, state: to, reason });
  }

  /** The store transition and its state_changed event, together. */
  private async moveTo(from: readonly JobState[], to: JobState, reason: string): Promise<Job> {
    const job = await this.context.store.transition(this.job.id, { from, to, time: this.context.clock(), reason });
    await this.context.eventLog.append(this.job.id, 0, { kind: 'state_changed', state: to, reason });
    return job;
  }

  private requestStop(stop: StopRequest): void {
    this.stop = stop;
    for (const handle of this.handles.values()) handle.cancel();
  }

  private armDeadline(): void {
    const limit = this.job.spec.maxRuntimeMs;
    if (limit <= 0) return;
    this.deadline = setTimeout(() => {
      void this.interrupt(`exceeded the maximum runtime of ${limit / 1000} s`);
    }, limit);
    this.deadline.unref();
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.chain.then(work);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async current(): Promise<Job> {
    const job = await this.context.store.get(this.job.tenant, this.job.id);
    if (job === undefined) throw new JobError('not_found', `job ${this.job.id} not found`);
    return job;
  }

  private async run(seed: number): Promise<SeedRun> {
    const run = (await this.current()).runs.find((r) => r.seed === seed);
    if (run === undefined) throw new Error(`job ${this.job.id} has no run for seed ${seed}`);
    return run;
  }

  private elapsed(seed: number): number {
    const started = this.runStarts.get(seed);
    return started === undefined ? 0 : this.context.clock() - started;
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
