// Where job rows live. An interface so the durable store (SQLite, later a shared database)
// can replace the in-memory one without the service noticing. Every method is async for the
// same reason, even though the in-memory store answers synchronously.
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { ServiceError } from '../common/errors.js';
import type { BackendName } from '../engine/tf-free.js';
import {
  TERMINAL_STATES,
  type Job,
  type JobState,
  type ListJobsQuery,
  type SeedRun,
  type StabilitySummary,
  type StartJobCommand,
} from './types.js';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

export interface StateChange {
  /** The change applies only while the job is in one of these states (compare-and-set). */
  readonly from: readonly JobState[];
  readonly to: JobState;
  readonly time: number;
  readonly reason: string;
}

export interface JobStore {
  /**
   * Inserts a QUEUED job, or returns the tenant's job with the same idempotency key when its
   * spec is deep-equal (created = false). A different spec under a used key is 'already_exists'.
   */
  create(command: StartJobCommand, now: number): Promise<{ job: Job; created: boolean }>;
  /** undefined for unknown ids and for other tenants' jobs alike. */
  get(tenant: string, jobId: string): Promise<Job | undefined>;
  /** Newest first; the page token is opaque and bound to the query's filters. */
  list(query: ListJobsQuery): Promise<{ jobs: Job[]; nextPageToken: string }>;
  /** Appends a time-stamped transition; 'failed_precondition' when the job is not in `from`. */
  transition(jobId: string, change: StateChange): Promise<Job>;
  /** Replaces the run with the same seed, or adds it. */
  putRun(jobId: string, run: SeedRun): Promise<Job>;
  setSummary(jobId: string, summary: StabilitySummary): Promise<Job>;
  setBackend(jobId: string, backend: BackendName): Promise<Job>;
  addNotice(jobId: string, message: string): Promise<Job>;
  setRuntime(jobId: string, runtimeMs: number): Promise<Job>;
  /** Every tenant's jobs not yet terminal (QUEUED, RUNNING, CANCELLING), oldest first: what a restart resumes. */
  unfinished(): Promise<Job[]>;
  /** How many jobs are not yet terminal: the tenant's, or every tenant's when absent (admission caps). */
  countActive(tenant?: string): Promise<number>;
  /** The tenant's job created under this idempotency key, if any (one indexed lookup). */
  findByIdempotencyKey(tenant: string, key: string): Promise<Job | undefined>;
}

/** Keyset cursor: robust to jobs created between pages (offsets are not). */
export interface PageCursor {
  readonly createTime: number;
  readonly id: string;
  /** Fingerprint of the filters the token was issued for. */
  readonly filter: string;
}

export class InMemoryJobStore implements JobStore {
  private readonly jobs = new Map<string, Job>();
  /** `${tenant}\u0000${idempotencyKey}` → job id. */
  private readonly idempotency = new Map<string, string>();

  async create(command: StartJobCommand, now: number): Promise<{ job: Job; created: boolean }> {
    const key = command.idempotencyKey === '' ? undefined : `${command.tenant}\u0000${command.idempotencyKey}`;
    const existingId = key === undefined ? undefined : this.idempotency.get(key);
    if (existingId !== undefined) {
      const existing = this.mustGet(existingId);
      if (!isDeepStrictEqual(existing.spec, command.spec)) {
        throw new ServiceError(
          'ALREADY_EXISTS',
          `idempotency key "${command.idempotencyKey}" was already used with a different spec (job ${existing.id})`,
        );
      }
      return { job: existing, created: false };
    }
    const job = newJob(randomUUID(), command, now);
    this.jobs.set(job.id, job);
    if (key !== undefined) this.idempotency.set(key, job.id);
    return { job, created: true };
  }

  async get(tenant: string, jobId: string): Promise<Job | undefined> {
    const job = this.jobs.get(jobId);
    return job !== undefined && job.tenant === tenant ? job : undefined;
  }

  async list(query: ListJobsQuery): Promise<{ jobs: Job[]; nextPageToken: string }> {
    const pageSize = query.pageSize <= 0 ? DEFAULT_PAGE_SIZE : Math.min(query.pageSize, MAX_PAGE_SIZE);
    const filter = filterFingerprint(query);
    const cursor = query.pageToken === '' ? undefined : decodeCursor(query.pageToken, filter);
    const matching = [...this.jobs.values()]
      .filter((job) => job.tenant === query.tenant)
      .filter((job) => query.state === undefined || job.state === query.state)
      .filter((job) => Object.entries(query.labelSelector).every(([k, v]) => job.labels[k] === v))
      .sort(newestFirst)
      .filter((job) => cursor === undefined || newestFirst(job, cursor) > 0);
    const page = matching.slice(0, pageSize);
    const last = page.at(-1);
    const nextPageToken =
      matching.length > pageSize && last !== undefined ? encodeCursor({ createTime: last.createTime, id: last.id, filter }) : '';
    return { jobs: page, nextPageToken };
  }

  async transition(jobId: string, change: StateChange): Promise<Job> {
    const job = this.mustGet(jobId);
    if (!change.from.includes(job.state)) {
      throw new ServiceError('FAILED_PRECONDITION', `job ${jobId} is ${job.state}, not ${change.from.join(' or ')}`);
    }
    const explainsEnd = change.to === 'FAILED' || change.to === 'CANCELLED';
    return this.replace({
      ...job,
      state: change.to,
      transitions: [...job.transitions, { state: change.to, time: change.time, reason: change.reason }],
      reason: explainsEnd ? change.reason : job.reason,
    });
  }

  async putRun(jobId: string, run: SeedRun): Promise<Job> {
    const job = this.mustGet(jobId);
    const known = job.runs.some((r) => r.seed === run.seed);
    const runs = known ? job.runs.map((r) => (r.seed === run.seed ? run : r)) : [...job.runs, run];
    return this.replace({ ...job, runs });
  }

  async setSummary(jobId: string, summary: StabilitySummary): Promise<Job> {
    return this.replace({ ...this.mustGet(jobId), summary });
  }

  async setBackend(jobId: string, backend: BackendName): Promise<Job> {
    return this.replace({ ...this.mustGet(jobId), backend });
  }

  async addNotice(jobId: string, message: string): Promise<Job> {
    const job = this.mustGet(jobId);
    // Every seed reports the same fallback notes; keep each once.
    if (job.notices.includes(message)) return job;
    return this.replace({ ...job, notices: [...job.notices, message] });
  }

  async setRuntime(jobId: string, runtimeMs: number): Promise<Job> {
    return this.replace({ ...this.mustGet(jobId), runtimeMs });
  }

  async unfinished(): Promise<Job[]> {
    return [...this.jobs.values()].filter((job) => !TERMINAL_STATES.has(job.state)).sort((a, b) => -newestFirst(a, b));
  }

  async findByIdempotencyKey(tenant: string, key: string): Promise<Job | undefined> {
    const id = this.idempotency.get(`${tenant}\u0000${key}`);
    return id === undefined ? undefined : this.jobs.get(id);
  }

  async countActive(tenant?: string): Promise<number> {
    let count = 0;
    for (const job of this.jobs.values())
      if (!TERMINAL_STATES.has(job.state) && (tenant === undefined || job.tenant === tenant)) count += 1;
    return count;
  }

  private mustGet(jobId: string): Job {
    const job = this.jobs.get(jobId);
    if (job === undefined) throw new ServiceError('NOT_FOUND', `job ${jobId} not found`);
    return job;
  }

  // Rows are immutable: readers holding an old Job never see it change under them.
  private replace(job: Job): Job {
    this.jobs.set(job.id, job);
    return job;
  }
}

/** A job as create() inserts it: QUEUED, every run PENDING. */
export function newJob(id: string, command: StartJobCommand, now: number): Job {
  return {
    id,
    tenant: command.tenant,
    displayName: command.displayName,
    labels: { ...command.labels },
    spec: command.spec,
    requestSpec: command.requestSpec,
    idempotencyKey: command.idempotencyKey,
    state: 'QUEUED',
    transitions: [{ state: 'QUEUED', time: now, reason: '' }],
    reason: '',
    createTime: now,
    backend: '',
    notices: [],
    runs: command.spec.seeds.map((seed) => pendingRun(seed)),
    lastSequence: 0,
    runtimeMs: 0,
  };
}

export function pendingRun(seed: number): SeedRun {
  return { seed, state: 'PENDING', steps: 0, totalSteps: 0, meanStepSeconds: 0, durationMs: 0 };
}

/** Positive when a sorts after b in newest-first order (createTime desc, then id desc). */
function newestFirst(a: { createTime: number; id: string }, b: { createTime: number; id: string }): number {
  if (a.createTime !== b.createTime) return b.createTime - a.createTime;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export function filterFingerprint(query: ListJobsQuery): string {
  const labels = Object.entries(query.labelSelector).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([query.state ?? '', labels]);
}

export function encodeCursor(cursor: PageCursor): string {
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

export function decodeCursor(token: string, filter: string): PageCursor {
  const invalid = (description: string): ServiceError =>
    ServiceError.invalidArgument(`invalid page token: ${description}`, [{ field: 'page_token', description }]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw invalid('not a token this service issued');
  }
  if (!isPageCursor(parsed)) throw invalid('not a token this service issued');
  if (parsed.filter !== filter) throw invalid('issued for a different state or label filter');
  return parsed;
}

function isPageCursor(value: unknown): value is PageCursor {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return typeof record.createTime === 'number' && typeof record.id === 'string' && typeof record.filter === 'string';
}
