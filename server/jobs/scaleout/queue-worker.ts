// A worker pod (STEADYTUNE_MODE=worker): claims jobs from the shared BullMQ queue and trains
// them on this process's threads through the embedded service, which checkpoints to the shared
// volume and writes to the shared store and log. Liveness is BullMQ's: the worker renews each
// claimed job's lock; a worker that dies (kill -9, node loss) stops renewing, another worker's
// stalled check puts the job back in the queue, and whoever claims it next resumes it from its
// newest checkpoint (JobExecution skips the steps the log already holds). A worker shutting
// down checkpoints its jobs and hands them back to the queue at once instead, and so does one
// that finds it could not renew a job's lock (it stalled, and another worker may hold the job).
// Each claim takes a new claim generation (job-claims.ts): should a stalled worker not notice in
// time, its next write of the job is refused and it stops training it.
import { WaitingError, Worker, type ConnectionOptions, type Job as QueueEntry } from 'bullmq';
import type { Redis } from 'ioredis';
import { hasCode, messageOf } from '../../common/errors.js';
import type { EventLog } from '../event-log.js';
import type { EmbeddedJobService } from '../job-service.js';
import type { JobStore } from '../store.js';
import { TERMINAL_STATES, type Job, type JobLogger } from '../types.js';
import type { JobClaim } from './job-claims.js';
import { cancelChannel, QUEUE_NAME, type JobQueue, type QueuedJob } from './job-queue.js';

export interface QueueWorkerOptions {
  /** Durable (checkpoints), with resumeUnfinishedOnStart false: jobs arrive through the queue only. */
  readonly service: EmbeddedJobService;
  readonly store: JobStore;
  readonly eventLog: EventLog;
  readonly queue: JobQueue;
  /** Takes a new claim generation for a job, fencing off the writes of every earlier claim. */
  readonly claim: (jobId: string) => Promise<JobClaim>;
  /** BullMQ opens its own connections (one blocks waiting for jobs). */
  readonly connection: ConnectionOptions;
  readonly prefix: string;
  /** A connection of its own, for the cancel channel. */
  readonly subscriber: Redis;
  /** Jobs claimed at once; their runs share the pool's threads. */
  readonly concurrency: number;
  /** A claimed job whose lock is not renewed for this long goes back to the queue. */
  readonly lockMs: number;
  /** How often this worker looks for jobs whose lock expired. */
  readonly stalledCheckMs: number;
  /** Claims of one job (worker losses, hand-overs, retries included) before it fails. */
  readonly maxJobStarts: number;
  /** Shown in the job's log when it resumes here, and on the queue entry. */
  readonly name: string;
  readonly clock: () => number;
  readonly logger: JobLogger;
}

/** How often the jobs running here are checked for a cancel whose message was lost. */
const CANCEL_POLL_MS = 2_000;

export class QueueWorker {
  private worker?: Worker<QueuedJob>;
  /** Jobs training here: id → tenant. */
  private readonly running = new Map<string, string>();
  /** Jobs training here whose queue lock could not be renewed: handed back when they stop. */
  private readonly lostLocks = new Set<string>();
  private stopping = false;
  private cancelPoll?: NodeJS.Timeout;

  constructor(private readonly options: QueueWorkerOptions) {}

  /** Threads first, then claims: a job is taken only by a worker that can train it. */
  async start(): Promise<void> {
    const { options } = this;
    await options.service.startWorkers();
    const channel = cancelChannel(options.prefix);
    options.subscriber.on('message', (from: string, jobId: string) => {
      if (from === channel) void this.stopIfCancelling(jobId);
    });
    await options.subscriber.subscribe(channel);
    await this.requeueUnqueued();
    const worker = new Worker<QueuedJob>(QUEUE_NAME, (entry, token) => this.process(entry, token), {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrency,
      name: options.name,
      lockDuration: options.lockMs,
      stalledInterval: options.stalledCheckMs,
      // Losing a worker never fails a job by itself; the start count below is the one limit.
      maxStalledCount: Number.MAX_SAFE_INTEGER,
      maxStartedAttempts: options.maxJobStarts,
    });
    worker.on('failed', (entry, error) => void this.onQueueFailure(entry, error));
    worker.on('stalled', (jobId) => options.logger.warn('a job lost its worker; it is back in the queue', { jobId }));
    worker.on('lockRenewalFailed', (jobIds) => this.onLocksLost(jobIds));
    worker.on('error', (error) => options.logger.warn('queue worker error', { error: error.message }));
    this.worker = worker;
    await worker.waitUntilReady();
    this.cancelPoll = setInterval(() => void this.pollCancels(), CANCEL_POLL_MS);
    this.cancelPoll.unref();
  }

  ready(): boolean {
    return !this.stopping && this.worker?.isRunning() === true && this.options.service.ready();
  }

  /** Stops claiming, checkpoints the jobs running here and hands them back to the queue. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.cancelPoll);
    const closing = this.worker?.close();
    await this.options.service.shutdown();
    await closing;
    await this.options.subscriber.unsubscribe().catch(() => {});
  }

  private async process(entry: QueueEntry<QueuedJob>, token?: string): Promise<void> {
    const { store } = this.options;
    const { jobId, tenant } = entry.data;
    const found = await store.get(tenant, jobId);
    if (found === undefined) return;
    if (TERMINAL_STATES.has(found.state)) {
      // Its last worker died between the job's end and the queue's: only the log may lack its end.
      await this.closeLog(found);
      return;
    }
    const claim = await this.options.claim(jobId);
    try {
      // Read again under the claim: an earlier holder may have written until the claim fenced it off.
      const job = await store.get(tenant, jobId);
      if (job !== undefined) await this.train(entry, job, claim, token);
    } finally {
      claim.release();
    }
  }

  private async train(entry: QueueEntry<QueuedJob>, job: Job, claim: JobClaim, token?: string): Promise<void> {
    const { store, eventLog, service, name, logger } = this.options;
    const { jobId, tenant } = entry.data;
    const resumed = entry.attemptsStarted > 1 || job.state !== 'QUEUED';
    if (resumed)
      await eventLog.append(jobId, 0, { kind: 'notice', message: `claimed by worker ${name} after its previous worker stopped` });
    logger.info('job claimed', { jobId, starts: entry.attemptsStarted, resumed, claim: claim.generation });
    this.running.set(jobId, tenant);
    try {
      await service.runClaimed(job);
    } finally {
      this.running.delete(jobId);
    }
    const lostLock = this.lostLocks.delete(jobId);
    if (claim.superseded)
      logger.warn('another worker claimed this job since; stopped training it here', { jobId, claim: claim.generation });
    if (!this.stopping && !lostLock && !claim.superseded) return;
    const now = await store.get(tenant, jobId);
    if (now !== undefined && !TERMINAL_STATES.has(now.state)) {
      // Suspended by this worker's shutdown or lost lock: back in the queue now, for another
      // worker to resume. With the lock gone this fails, and the stalled check requeues it.
      await entry.moveToWait(token);
      throw new WaitingError();
    }
  }

  /**
   * Another worker may already have claimed these jobs (a stalled check saw their lock expire,
   * e.g. after this process stalled): the ones training here checkpoint and stop at their next
   * step instead of training on beside the new claim, and go back to the queue.
   */
  private onLocksLost(jobIds: readonly string[]): void {
    const { service, logger } = this.options;
    logger.warn('could not renew job locks; another worker may take them over', { jobIds });
    for (const jobId of jobIds) {
      if (!this.running.has(jobId) || this.lostLocks.has(jobId)) continue;
      this.lostLocks.add(jobId);
      logger.warn('lost the queue lock of a job training here; suspending it', { jobId });
      void service
        .suspendJob(jobId, `worker ${this.options.name} lost the job's queue lock; another worker resumes it`)
        .catch((error: unknown) => logger.warn('could not suspend the job', { jobId, error: String(error) }));
    }
  }

  /** A job the queue gave up on (too many starts, or claims failing on the store) ends FAILED. */
  private async onQueueFailure(entry: QueueEntry<QueuedJob> | undefined, error: Error): Promise<void> {
    if (entry === undefined) return;
    const { store, eventLog, queue, clock, logger } = this.options;
    const { jobId, tenant } = entry.data;
    try {
      if ((await queue.state(jobId)) !== 'failed') return; // a retry is scheduled
      const job = await store.get(tenant, jobId);
      if (job === undefined || TERMINAL_STATES.has(job.state)) return;
      const reason = `the job queue gave up on it after ${entry.attemptsStarted} starts: ${error.message}`;
      await store.transition(jobId, { from: ['QUEUED', 'RUNNING', 'CANCELLING'], to: 'FAILED', time: clock(), reason });
      await eventLog.append(jobId, 0, { kind: 'state_changed', state: 'FAILED', reason });
      logger.warn('job ended', { jobId, state: 'FAILED', reason });
    } catch (failure) {
      if (hasCode(failure, 'FAILED_PRECONDITION')) return; // ended meanwhile
      logger.error('could not record a job the queue gave up on', { jobId, error: messageOf(failure) });
    }
  }

  /** Cancel messages are at-most-once: the store is asked now and then as well. */
  private async pollCancels(): Promise<void> {
    for (const jobId of [...this.running.keys()]) await this.stopIfCancelling(jobId);
  }

  private async stopIfCancelling(jobId: string): Promise<void> {
    const tenant = this.running.get(jobId);
    if (tenant === undefined) return;
    try {
      const job = await this.options.store.get(tenant, jobId);
      // The execution sees CANCELLING in the store and stops its runs (they end CANCELLED).
      if (job?.state === 'CANCELLING') await this.options.service.cancel(tenant, jobId);
    } catch (error) {
      this.options.logger.warn('could not pass a cancel on to a running job', { jobId, error: messageOf(error) });
    }
  }

  /** Appends the terminal state_changed a dead worker did not get to (the embedded service's closeLog). */
  private async closeLog(job: Job): Promise<void> {
    const { eventLog } = this.options;
    const [last] = await eventLog.read(job.id, await eventLog.lastSequence(job.id));
    if (last?.body.kind === 'state_changed' && last.body.state === job.state) return;
    await eventLog.append(job.id, 0, { kind: 'state_changed', state: job.state, reason: job.reason }).catch(() => {});
  }

  /** Unfinished jobs the queue does not know (an API pod died between insert and enqueue). */
  private async requeueUnqueued(): Promise<void> {
    for (const job of await this.options.store.unfinished()) {
      if ((await this.options.queue.state(job.id)) === 'unknown') await this.options.queue.enqueue({ jobId: job.id, tenant: job.tenant });
    }
  }
}
