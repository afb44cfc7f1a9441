// Caps on active jobs (QUEUED, RUNNING or CANCELLING: each holds a queue slot or a worker),
// per tenant and over the whole server. Over a cap StartFineTune answers RESOURCE_EXHAUSTED
// with a google.rpc.RetryInfo hint.
//
// Counts come from JobService.list, so they include jobs resumed after a restart. Admissions
// run one at a time, so two concurrent calls cannot both take the last slot; that holds within
// one API process (a shared store across pods needs the check inside its own transaction).
import { ServiceError } from '../common/errors.js';
import type { Job, JobService, JobState, StartJobCommand } from '../jobs/types.js';

export interface JobLimits {
  /** 0 = no limit. */
  readonly maxActiveJobsPerTenant: number;
  /** 0 = no limit. */
  readonly maxActiveJobs: number;
}

/** Jobs take minutes; asking again much sooner only adds load. */
export const JOB_LIMIT_RETRY_AFTER_MS = 10_000;
const ACTIVE_STATES: readonly JobState[] = ['QUEUED', 'RUNNING', 'CANCELLING'];
const PAGE_SIZE = 200;

export class JobAdmission {
  private queue: Promise<unknown> = Promise.resolve();

  /** `tenants` lists every tenant that can hold jobs (the configured ones), for the overall cap. */
  constructor(
    private readonly jobService: JobService,
    private readonly limits: JobLimits,
    private readonly tenants: () => readonly string[],
  ) {}

  /** Runs `start` if the command's tenant and the server are under their caps. */
  admit<T>(command: StartJobCommand, start: () => Promise<T>): Promise<T> {
    const { maxActiveJobsPerTenant, maxActiveJobs } = this.limits;
    if (maxActiveJobsPerTenant === 0 && maxActiveJobs === 0) return start();
    const turn = this.queue.then(async () => {
      const refusal = await this.refusal(command);
      if (refusal !== undefined && !(await this.isReplay(command))) {
        throw new ServiceError('RESOURCE_EXHAUSTED', refusal, { retryAfterMs: JOB_LIMIT_RETRY_AFTER_MS });
      }
      return start();
    });
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async refusal({ tenant }: StartJobCommand): Promise<string | undefined> {
    const { maxActiveJobsPerTenant: perTenant, maxActiveJobs: overall } = this.limits;
    if (perTenant > 0 && (await this.activeJobs(tenant, perTenant)) >= perTenant) {
      return `tenant has ${perTenant} active jobs, the most allowed; retry when one finishes (or cancel one)`;
    }
    if (overall === 0) return undefined;
    let active = 0;
    for (const other of this.tenants()) {
      active += await this.activeJobs(other, overall - active);
      if (active >= overall) return `the server has ${overall} active jobs, the most it takes; retry later`;
    }
    return undefined;
  }

  /** Active jobs of a tenant, counted up to `enough` (the answer is only compared with a cap). */
  private async activeJobs(tenant: string, enough: number): Promise<number> {
    let count = 0;
    for (const state of ACTIVE_STATES) {
      for await (const _job of this.jobsOf(tenant, state)) {
        count += 1;
        if (count >= enough) return count;
      }
    }
    return count;
  }

  /**
   * A retried StartFineTune whose idempotency key already names a job is not a new job: it must
   * get that job back (or ALREADY_EXISTS) whatever the caps say. Only looked up when refusing.
   */
  private async isReplay({ tenant, idempotencyKey }: StartJobCommand): Promise<boolean> {
    if (idempotencyKey === '') return false;
    for await (const job of this.jobsOf(tenant)) {
      if (job.idempotencyKey === idempotencyKey) return true;
    }
    return false;
  }

  private async *jobsOf(tenant: string, state?: JobState): AsyncGenerator<Job> {
    let pageToken = '';
    do {
      const page = await this.jobService.list({
        tenant,
        pageSize: PAGE_SIZE,
        pageToken,
        labelSelector: {},
        ...(state === undefined ? {} : { state }),
      });
      yield* page.jobs;
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
  }
}
