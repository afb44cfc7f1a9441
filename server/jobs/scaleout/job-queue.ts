// The shared queue between API and worker pods: one BullMQ job per steadytune job, its BullMQ
// id the steadytune job id. Per job, not per seed run: a job's runs share one dataset load, one
// serial write chain (event order, cancel atomicity) and the summary and ensemble vote at the
// end, which JobExecution already does in one process; a worker pod owns one GPU, so a job's
// seeds queue on that pod's training threads, and scale-out spreads jobs, not seeds, over pods.
// Using the job id as the BullMQ id makes every enqueue idempotent (a second add is a no-op).
import { Queue, type ConnectionOptions, type JobState as QueueJobState } from 'bullmq';
import type { Redis } from 'ioredis';

export const QUEUE_NAME = 'jobs';

/** What a queued entry carries: enough for the worker to read the job (store reads are tenant-scoped). */
export interface QueuedJob {
  readonly jobId: string;
  readonly tenant: string;
}

/** Retries of a claim that failed on infrastructure (store unreachable), not of a failed training. */
export const CLAIM_ATTEMPTS = 3;
const CLAIM_RETRY_DELAY_MS = 5_000;
/** Finished queue entries are kept this long for inspection (the store keeps the job itself). */
const KEEP_FINISHED_S = 24 * 3600;

export class JobQueue {
  private readonly queue: Queue<QueuedJob>;

  /**
   * @param connection BullMQ's connection options (it opens its own connections)
   * @param publisher a command connection, for cancel requests
   */
  constructor(
    connection: ConnectionOptions,
    private readonly prefix: string,
    private readonly publisher: Redis,
  ) {
    this.queue = new Queue<QueuedJob>(QUEUE_NAME, { connection, prefix });
  }

  /** Idempotent: an entry with this job's id already there (waiting, active, finished) is kept. */
  async enqueue(job: QueuedJob): Promise<void> {
    await this.queue.add('train', job, {
      jobId: job.jobId,
      attempts: CLAIM_ATTEMPTS,
      backoff: { type: 'exponential', delay: CLAIM_RETRY_DELAY_MS },
      removeOnComplete: { age: KEEP_FINISHED_S },
      removeOnFail: { age: 7 * KEEP_FINISHED_S },
    });
  }

  /** Takes a job no worker has claimed out of the queue; false when one has (or it is gone). */
  async withdraw(jobId: string): Promise<boolean> {
    if ((await this.queue.getJobState(jobId)) !== 'waiting') return false;
    return (await this.queue.remove(jobId)) === 1;
  }

  async state(jobId: string): Promise<QueueJobState | 'unknown'> {
    return this.queue.getJobState(jobId);
  }

  /** Tells whichever worker runs the job to stop it (it also notices within its poll interval). */
  async requestCancel(jobId: string): Promise<void> {
    await this.publisher.publish(cancelChannel(this.prefix), jobId);
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}

export function cancelChannel(prefix: string): string {
  return `${prefix}:cancel`;
}
