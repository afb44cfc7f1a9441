// Fencing of scale-out workers by claim generation. Every claim of a job (the first, and each
// takeover after a worker died, stalled or handed the job back) increments the job's
// claim_generation in PostgreSQL and raises the job's fence in Redis to it. A worker writes a job
// only while it holds the newest generation: the store's UPDATEs carry the generation in their
// WHERE clause and the event log's append script compares it with the fence, so a worker that
// stalled past its queue lock, while another claimed the job, has its next write refused
// (ABORTED) instead of training on beside the new holder, and stops. Generations are held per
// process here, so the store and the log fence every write of a claimed job without the
// execution that writes knowing about claims; writes of jobs this process has not claimed (an
// API pod's cancel) are not fenced.
import { ServiceError } from '../../common/errors.js';

interface HeldClaim {
  readonly generation: number;
  superseded: boolean;
}

/** One claim of a job by this process, from its claim to its release. */
export interface JobClaim {
  readonly jobId: string;
  readonly generation: number;
  /** True once a write of this claim was refused: another process claimed the job since. */
  readonly superseded: boolean;
  /** The job's writes from this process are no longer fenced (a newer claim of its own keeps its own). */
  release(): void;
}

export class HeldClaims {
  private readonly held = new Map<string, HeldClaim>();

  /** This process claimed the job with this generation (its newer claim replaces an older one). */
  hold(jobId: string, generation: number): JobClaim {
    const claim: HeldClaim = { generation, superseded: false };
    const current = this.held.get(jobId);
    if (current === undefined || current.generation < generation) this.held.set(jobId, claim);
    return {
      jobId,
      generation,
      get superseded() {
        return claim.superseded;
      },
      release: () => {
        if (this.held.get(jobId) === claim) this.held.delete(jobId);
      },
    };
  }

  /** The generation this process's writes of the job must still hold; undefined: not fenced. */
  generationOf(jobId: string): number | undefined {
    return this.held.get(jobId)?.generation;
  }

  /** A write with this generation was refused: the error to throw, and the claim marked superseded. */
  refused(jobId: string, generation: number, newest: number | undefined): ServiceError {
    const claim = this.held.get(jobId);
    if (claim?.generation === generation) claim.superseded = true;
    const since = newest === undefined ? '' : ` (claim ${newest} > ${generation})`;
    return new ServiceError('ABORTED', `job ${jobId} was claimed by another worker since this one claimed it${since}: write refused`);
  }
}
