// Caps on open StreamMetrics calls, per job and over the server. Each open stream holds an
// HTTP/2 stream, a follower on the event log and its send buffer; without a cap one client
// could open them until the process runs out of memory. Slots live in this process, as the
// streams do.
import { ServiceError } from '../common/errors.js';

export interface StreamLimits {
  /** 0 = no limit. */
  readonly maxStreamsPerJob: number;
  /** 0 = no limit. */
  readonly maxStreams: number;
}

const STREAM_LIMIT_RETRY_AFTER_MS = 1_000;

export class StreamSlots {
  private readonly perJob = new Map<string, number>();
  private total = 0;

  constructor(private readonly limits: StreamLimits) {}

  /** Takes a slot for one stream of the tenant's job; the returned function gives it back (once). */
  acquire(tenant: string, jobId: string): () => void {
    const { maxStreamsPerJob, maxStreams } = this.limits;
    // Keyed by tenant too: another tenant's streams never count against this tenant's job.
    const key = `${tenant}\u0000${jobId}`;
    const open = this.perJob.get(key) ?? 0;
    if (maxStreamsPerJob > 0 && open >= maxStreamsPerJob) {
      throw exhausted(`job ${jobId} already has ${maxStreamsPerJob} open metric streams; close one or retry later`);
    }
    if (maxStreams > 0 && this.total >= maxStreams) {
      throw exhausted(`the server has ${maxStreams} open metric streams, the most it takes; retry later`);
    }
    this.perJob.set(key, open + 1);
    this.total += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total -= 1;
      const left = (this.perJob.get(key) ?? 1) - 1;
      if (left === 0) this.perJob.delete(key);
      else this.perJob.set(key, left);
    };
  }

  /** Open streams in all (for tests and metrics). */
  get open(): number {
    return this.total;
  }
}

function exhausted(message: string): ServiceError {
  return new ServiceError('RESOURCE_EXHAUSTED', message, { retryAfterMs: STREAM_LIMIT_RETRY_AFTER_MS });
}
