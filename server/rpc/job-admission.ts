// Caps on active jobs (QUEUED, RUNNING or CANCELLING: each holds a queue slot or a worker),
// per tenant and over the whole server. Over a cap StartFineTune answers RESOURCE_EXHAUSTED
// with a google.rpc.RetryInfo hint.
//
// Counts come from the store (JobService.countActive), so they include jobs resumed after a
// restart, plus the starts admitted here whose jobs are not in the store yet. The checks run one
// at a time, so two concurrent calls cannot both take the last slot; the starts themselves run
// concurrently (a burst's store writes batch). That holds within one API process (a shared store
// across pods needs the check inside its own transaction).
import { ServiceError } from '../common/errors.js';
import type { JobService, StartJobCommand } from '../jobs/types.js';

export interface JobLimits {
  /** 0 = no limit. */
  readonly maxActiveJobsPerTenant: number;
  /** 0 = no limit. */
  readonly maxActiveJobs: number;
}

/** Jobs take minutes; asking again much sooner only adds load. */
export const JOB_LIMIT_RETRY_AFTER_MS = 10_000;

export class JobAdmission {
  private checks: Promise<unknown> = Promise.resolve();
  /**
   * Starts admitted and not yet returned, per tenant: their jobs may not be in the store yet.
   * (Between its job's insert and its return a start counts twice: a check then errs towards
   * refusing. With the embedded store both happen in one turn, so no check falls in between.)
   */
  private readonly admitted = new Map<string, number>();
  private admittedTotal = 0;

  constructor(
    private readonly jobService: JobService,
    private readonly limits: JobLimits,
  ) {}

  /** Runs `start` if the command's tenant and the server are under their caps. */
  admit<T>(command: StartJobCommand, start: () => Promise<T>): Promise<T> {
    const { maxActiveJobsPerTenant, maxActiveJobs } = this.limits;
    if (maxActiveJobsPerTenant === 0 && maxActiveJobs === 0) return start();
    const check = this.checks.then(() => this.reserve(command));
    this.checks = check.catch(() => undefined);
    return check.then(async (release) => {
      try {
        return await start();
      } finally {
        release();
      }
    });
  }

  /** A slot for the command, or RESOURCE_EXHAUSTED; the returned function gives it back. */
  private async reserve(command: StartJobCommand): Promise<() => void> {
    const refusal = await this.refusal(command);
    if (refusal !== undefined && !(await this.isReplay(command))) {
      throw new ServiceError('RESOURCE_EXHAUSTED', refusal, { retryAfterMs: JOB_LIMIT_RETRY_AFTER_MS });
    }
    const { tenant } = command;
    this.admitted.set(tenant, (this.admitted.get(tenant) ?? 0) + 1);
    this.admittedTotal += 1;
    return () => {
      const left = (this.admitted.get(tenant) ?? 1) - 1;
      if (left === 0) this.admitted.delete(tenant);
      else this.admitted.set(tenant, left);
      this.admittedTotal -= 1;
    };
  }

  private async refusal({ tenant }: StartJobCommand): Promise<string | undefined> {
    const { maxActiveJobsPerTenant: perTenant, maxActiveJobs: overall } = this.limits;
    if (perTenant > 0 && (await this.jobService.countActive(tenant)) + (this.admitted.get(tenant) ?? 0) >= perTenant) {
      return `tenant has ${perTenant} active jobs, the most allowed; retry when one finishes (or cancel one)`;
    }
    if (overall > 0 && (await this.jobService.countActive()) + this.admittedTotal >= overall) {
      return `the server has ${overall} active jobs, the most it takes; retry later`;
    }
    return undefined;
  }

  /**
   * A retried StartFineTune whose idempotency key already names a job is not a new job: it must
   * get that job back (or ALREADY_EXISTS) whatever the caps say. Only looked up when refusing,
   * with one indexed lookup (the SDK sends a key with every call).
   */
  private async isReplay({ tenant, idempotencyKey }: StartJobCommand): Promise<boolean> {
    if (idempotencyKey === '') return false;
    return (await this.jobService.findByIdempotencyKey(tenant, idempotencyKey)) !== undefined;
  }
}
