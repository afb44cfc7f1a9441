// The JobService of an API pod (STEADYTUNE_MODE=api): jobs go into the shared store and queue,
// and worker pods train them. Reads, Evaluate and Predict are the embedded service's own (the
// same store, the shared event log, models on the shared volume, this pod's threads for
// inference); only what needs a worker differs: start enqueues, cancel reaches the worker
// through the queue, and streams follow the shared log.
import { hasCode, ServiceError } from '../../common/errors.js';
import type { EmbeddedJobService } from '../job-service.js';
import type { EventLog } from '../event-log.js';
import type { JobStore } from '../store.js';
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
  type StartJobCommand,
} from '../types.js';
import type { JobQueue } from './job-queue.js';

export interface ApiJobServiceOptions {
  readonly store: JobStore;
  readonly eventLog: EventLog;
  readonly queue: JobQueue;
  /** Built on the same store and log, never given a job to run: reads, Evaluate, Predict, readiness. */
  readonly embedded: EmbeddedJobService;
  readonly clock: () => number;
  readonly logger: JobLogger;
}

const CANCEL_REASON = 'cancelled by request';
/**
 * A job terminal for this long without the closing event in its log lost its worker between
 * the two writes; sooner, the worker may still be about to append it.
 */
const UNCLOSED_LOG_GRACE_MS = 30_000;

export class ApiJobService implements JobService {
  private accepting = true;

  constructor(private readonly options: ApiJobServiceOptions) {}

  async start(command: StartJobCommand): Promise<{ job: Job; created: boolean }> {
    if (!this.accepting) throw new ServiceError('FAILED_PRECONDITION', 'the service is shutting down and takes no new jobs');
    const { store, eventLog, queue, logger } = this.options;
    const { job, created } = await store.create(command, this.options.clock());
    if (created) await eventLog.append(job.id, 0, { kind: 'state_changed', state: 'QUEUED', reason: '' });
    // Also on a retry: a pod that died between the insert and the enqueue left the job unqueued.
    if (job.state === 'QUEUED') await queue.enqueue({ jobId: job.id, tenant: job.tenant });
    if (created) logger.info('job queued', { jobId: job.id, tenant: job.tenant, seeds: job.spec.seeds.length });
    return { job: await this.withLastSequence(job), created };
  }

  get(tenant: string, jobId: string): Promise<Job> {
    return this.options.embedded.get(tenant, jobId);
  }

  list(query: ListJobsQuery): Promise<{ jobs: Job[]; nextPageToken: string }> {
    return this.options.embedded.list(query);
  }

  countActive(tenant?: string): Promise<number> {
    return this.options.store.countActive(tenant);
  }

  findByIdempotencyKey(tenant: string, key: string): Promise<Job | undefined> {
    return this.options.store.findByIdempotencyKey(tenant, key);
  }

  /**
   * CANCELLING in the store (compare-and-set, so a job that just ended stays ended), then: a job
   * still waiting in the queue is withdrawn and ended here; a claimed one is stopped by its worker.
   */
  async cancel(tenant: string, jobId: string): Promise<Job> {
    const { store, eventLog, queue, clock } = this.options;
    const job = await this.mustGet(tenant, jobId);
    if (job.state === 'CANCELLING') return this.withLastSequence(job);
    if (TERMINAL_STATES.has(job.state)) throw cannotCancel(job);
    let cancelling: Job;
    try {
      cancelling = await store.transition(jobId, { from: ['QUEUED', 'RUNNING'], to: 'CANCELLING', time: clock(), reason: CANCEL_REASON });
    } catch (error) {
      if (!hasCode(error, 'FAILED_PRECONDITION')) throw error;
      const now = await this.mustGet(tenant, jobId);
      if (now.state === 'CANCELLING') return this.withLastSequence(now);
      throw cannotCancel(now);
    }
    await eventLog.append(jobId, 0, { kind: 'state_changed', state: 'CANCELLING', reason: CANCEL_REASON });
    if (await queue.withdraw(jobId)) {
      await this.endWithdrawn(cancelling);
    } else {
      await queue.requestCancel(jobId);
    }
    return this.withLastSequence(await this.mustGet(tenant, jobId));
  }

  async *events(tenant: string, jobId: string, fromSequence: number, signal: AbortSignal): AsyncIterable<JobEvent> {
    const job = await this.mustGet(tenant, jobId);
    if (TERMINAL_STATES.has(job.state)) await this.closeAbandonedLog(job);
    yield* this.options.eventLog.follow(jobId, fromSequence, signal);
  }

  evaluate(
    tenant: string,
    jobId: string,
    options: { dataset?: DatasetSelection; seed: number; ensemble: boolean },
  ): Promise<EvaluationReport> {
    return this.options.embedded.evaluate(tenant, jobId, options);
  }

  predict(tenant: string, jobId: string, seed: number, inputs: readonly PredictInput[]): Promise<PredictionRow[]> {
    return this.options.embedded.predict(tenant, jobId, seed, inputs);
  }

  exportModel(tenant: string, jobId: string): AsyncIterable<BundleChunk> {
    return this.options.embedded.exportModel(tenant, jobId);
  }

  ready(): boolean {
    return this.accepting && this.options.embedded.ready();
  }

  async shutdown(): Promise<void> {
    this.accepting = false;
    await this.options.embedded.shutdown();
  }

  /** No worker ever claimed it: its runs and the job end CANCELLED here, as a worker would end them. */
  private async endWithdrawn(job: Job): Promise<void> {
    const { store, eventLog, clock, logger } = this.options;
    for (const run of job.runs) {
      const cancelled = { ...run, state: 'CANCELLED' as const, error: CANCEL_REASON };
      await store.putRun(job.id, cancelled);
      await eventLog.append(job.id, run.seed, { kind: 'run_finished', run: cancelled });
    }
    await store.transition(job.id, { from: ['CANCELLING'], to: 'CANCELLED', time: clock(), reason: CANCEL_REASON });
    await eventLog.append(job.id, 0, { kind: 'state_changed', state: 'CANCELLED', reason: CANCEL_REASON });
    logger.info('job ended', { jobId: job.id, state: 'CANCELLED', reason: 'withdrawn from the queue' });
  }

  /** The closing event of a job whose writer died after its terminal transition (see UNCLOSED_LOG_GRACE_MS). */
  private async closeAbandonedLog(job: Job): Promise<void> {
    const endedAt = job.transitions.at(-1)?.time ?? job.createTime;
    if (this.options.clock() - endedAt < UNCLOSED_LOG_GRACE_MS) return;
    const { eventLog } = this.options;
    const [last] = await eventLog.read(job.id, await eventLog.lastSequence(job.id));
    if (last?.body.kind === 'state_changed' && last.body.state === job.state) return;
    // Refused if someone closed it meanwhile: then it is closed, which is all this wants.
    await eventLog.append(job.id, 0, { kind: 'state_changed', state: job.state, reason: job.reason }).catch(() => {});
  }

  private async mustGet(tenant: string, jobId: string): Promise<Job> {
    const job = await this.options.store.get(tenant, jobId);
    if (job === undefined) throw new ServiceError('NOT_FOUND', `job ${jobId} not found`);
    return job;
  }

  private async withLastSequence(job: Job): Promise<Job> {
    return { ...job, lastSequence: await this.options.eventLog.lastSequence(job.id) };
  }
}

function cannotCancel(job: Job): ServiceError {
  return new ServiceError('FAILED_PRECONDITION', `job ${job.id} is ${job.state} and cannot be cancelled`);
}
