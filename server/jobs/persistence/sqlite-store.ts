// The durable JobStore: the same contract as InMemoryJobStore (the same spec file runs against
// both), rows in SQLite. Every write is one transaction, and better-sqlite3 is synchronous, so
// a read-check-write (compare-and-set transitions, idempotency keys) cannot interleave with
// another call of this process; BEGIN IMMEDIATE serialises against other processes too.
// Creates are the exception that proves it: those of one event-loop turn (a burst of
// StartFineTune calls) share one transaction, each in its own savepoint, since a commit costs
// more than the inserts of a small job. A full or failing disk surfaces as storage-faults.ts's
// retryable ServiceError, not as a raw SqliteError.
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { ServiceError } from '../../common/errors.js';
import type { BackendName } from '../../engine/tf-free.js';
import type { Statement } from 'better-sqlite3';
import { PreparedStatements, type SqliteDatabase } from './sqlite-database.js';
import { decodeValue, encodeValue } from './value-codec.js';
import {
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  decodeCursor,
  encodeCursor,
  filterFingerprint,
  newJob,
  pendingRun,
  type JobStore,
  type StateChange,
} from '../store.js';
import { writingTo } from '../storage-faults.js';
import { encodeDetails, toSeedRun, type JobRow, type RunRow } from './sqlite-job-rows.js';
import { TurnBatches, type BatchOutcome } from './turn-batches.js';
import type { Job, JobSpec, ListJobsQuery, SeedRun, StabilitySummary, StartJobCommand, StateTransition } from '../types.js';

/** Decoded specs kept: the live jobs and the recently listed ones. */
const SPEC_CACHE_SIZE = 1024;
/**
 * Most creates in one transaction: a burst larger than this commits in slices, one per turn, so
 * the first callers' answers go out while the rest are still being written.
 */
const MAX_CREATES_PER_TRANSACTION = 16;
const JOB_STORE = 'the job store';

type CreateOutcome = { readonly job: Job; readonly created: boolean };

export class SqliteJobStore implements JobStore {
  private readonly statements: PreparedStatements;
  /** Specs never change after create: decoded once per job, not on every read of its row. */
  private readonly specs = new Map<string, { readonly spec: JobSpec; readonly requestSpec: unknown }>();
  /** The creates of one turn: one transaction, each create in its own savepoint. */
  private readonly creates = new TurnBatches<{ command: StartJobCommand; now: number }, CreateOutcome>(
    (batch) =>
      writingTo(JOB_STORE, () =>
        this.db.transaction(() => batch.map(({ command, now }) => this.createInSavepoint(command, now))).immediate(),
      ),
    MAX_CREATES_PER_TRANSACTION,
  );

  constructor(private readonly db: SqliteDatabase) {
    this.statements = new PreparedStatements(db);
  }

  create(command: StartJobCommand, now: number): Promise<CreateOutcome> {
    return this.creates.submit({ command, now });
  }

  /** A nested transaction is a savepoint: refused (ALREADY_EXISTS), it leaves nothing; a storage fault aborts the batch. */
  private createInSavepoint(command: StartJobCommand, now: number): BatchOutcome<CreateOutcome> {
    try {
      return { value: this.db.transaction(() => this.insertJob(command, now))() };
    } catch (error) {
      if (error instanceof ServiceError) return { error };
      throw error;
    }
  }

  private insertJob(command: StartJobCommand, now: number): CreateOutcome {
    if (command.idempotencyKey !== '') {
      const existing = this.sql('SELECT job_id FROM idempotency_keys WHERE tenant = ? AND key = ?').get(
        command.tenant,
        command.idempotencyKey,
      ) as { job_id: string } | undefined;
      if (existing !== undefined) {
        const job = this.mustGet(existing.job_id);
        if (!isDeepStrictEqual(job.spec, command.spec)) {
          throw new ServiceError(
            'ALREADY_EXISTS',
            `idempotency key "${command.idempotencyKey}" was already used with a different spec (job ${job.id})`,
          );
        }
        return { job, created: false };
      }
    }
    const id = randomUUID();
    this.sql(`INSERT INTO jobs (id, tenant, display_name, spec, request_spec, idempotency_key, state, reason,
                  create_time, backend, notices, summary, runtime_ms)
                VALUES (?, ?, ?, ?, ?, ?, 'QUEUED', '', ?, '', '[]', NULL, 0)`).run(
      id,
      command.tenant,
      command.displayName,
      encodeValue(command.spec),
      encodeValue(command.requestSpec),
      command.idempotencyKey,
      now,
    );
    const label = this.sql('INSERT INTO job_labels (job_id, key, value) VALUES (?, ?, ?)');
    for (const [key, value] of Object.entries(command.labels)) label.run(id, key, value);
    this.insertTransition(id, 0, { state: 'QUEUED', time: now, reason: '' });
    command.spec.seeds.forEach((seed, position) => this.writeRun(id, position, pendingRun(seed)));
    if (command.idempotencyKey !== '') {
      this.sql('INSERT INTO idempotency_keys (tenant, key, job_id) VALUES (?, ?, ?)').run(command.tenant, command.idempotencyKey, id);
    }
    // What was just written, without reading it back; the spec is kept as the cache's decoded copy.
    const job = newJob(id, command, now);
    this.cacheSpecs(id, { spec: job.spec, requestSpec: job.requestSpec });
    return { job, created: true };
  }

  async get(tenant: string, jobId: string): Promise<Job | undefined> {
    const row = this.sql('SELECT * FROM jobs WHERE id = ? AND tenant = ?').get(jobId, tenant) as JobRow | undefined;
    return row === undefined ? undefined : this.assemble(row);
  }

  async list(query: ListJobsQuery): Promise<{ jobs: Job[]; nextPageToken: string }> {
    const pageSize = query.pageSize <= 0 ? DEFAULT_PAGE_SIZE : Math.min(query.pageSize, MAX_PAGE_SIZE);
    const filter = filterFingerprint(query);
    const cursor = query.pageToken === '' ? undefined : decodeCursor(query.pageToken, filter);
    const where = ['tenant = ?'];
    const params: (string | number)[] = [query.tenant];
    if (query.state !== undefined) {
      where.push('state = ?');
      params.push(query.state);
    }
    for (const [key, value] of Object.entries(query.labelSelector)) {
      where.push('EXISTS (SELECT 1 FROM job_labels l WHERE l.job_id = jobs.id AND l.key = ? AND l.value = ?)');
      params.push(key, value);
    }
    if (cursor !== undefined) {
      // Strictly after the cursor in newest-first order (create_time desc, then id desc).
      where.push('(create_time < ? OR (create_time = ? AND id < ?))');
      params.push(cursor.createTime, cursor.createTime, cursor.id);
    }
    const rows = this.sql(`SELECT * FROM jobs WHERE ${where.join(' AND ')} ORDER BY create_time DESC, id DESC LIMIT ?`).all(
      ...params,
      pageSize + 1,
    ) as JobRow[];
    const jobs = rows.slice(0, pageSize).map((row) => this.assemble(row));
    const last = jobs.at(-1);
    const nextPageToken =
      rows.length > pageSize && last !== undefined ? encodeCursor({ createTime: last.createTime, id: last.id, filter }) : '';
    return { jobs, nextPageToken };
  }

  async transition(jobId: string, change: StateChange): Promise<Job> {
    return this.write(() => {
      const job = this.mustGet(jobId);
      if (!change.from.includes(job.state)) {
        throw new ServiceError('FAILED_PRECONDITION', `job ${jobId} is ${job.state}, not ${change.from.join(' or ')}`);
      }
      this.insertTransition(jobId, job.transitions.length, { state: change.to, time: change.time, reason: change.reason });
      const explainsEnd = change.to === 'FAILED' || change.to === 'CANCELLED';
      this.sql('UPDATE jobs SET state = ?, reason = ? WHERE id = ?').run(change.to, explainsEnd ? change.reason : job.reason, jobId);
      return this.mustGet(jobId);
    });
  }

  async putRun(jobId: string, run: SeedRun): Promise<Job> {
    return this.write(() => {
      if (!this.exists(jobId)) throw notFound(jobId);
      // Replaces in place (same position) or appends after the job's other runs.
      const { position } = this.sql(`SELECT COALESCE(
          (SELECT position FROM job_runs WHERE job_id = @job AND seed = @seed),
          (SELECT COUNT(*) FROM job_runs WHERE job_id = @job)) AS position`).get({ job: jobId, seed: run.seed }) as { position: number };
      this.writeRun(jobId, position, run);
      return this.mustGet(jobId);
    });
  }

  async setSummary(jobId: string, summary: StabilitySummary): Promise<Job> {
    return this.write(() => this.update(jobId, 'UPDATE jobs SET summary = ? WHERE id = ?', encodeValue(summary)));
  }

  async setBackend(jobId: string, backend: BackendName): Promise<Job> {
    return this.write(() => this.update(jobId, 'UPDATE jobs SET backend = ? WHERE id = ?', backend));
  }

  async addNotice(jobId: string, message: string): Promise<Job> {
    return this.write(() => {
      const job = this.mustGet(jobId);
      // Every seed reports the same fallback notes; keep each once.
      if (job.notices.includes(message)) return job;
      return this.update(jobId, 'UPDATE jobs SET notices = ? WHERE id = ?', JSON.stringify([...job.notices, message]));
    });
  }

  async setRuntime(jobId: string, runtimeMs: number): Promise<Job> {
    return this.write(() => this.update(jobId, 'UPDATE jobs SET runtime_ms = ? WHERE id = ?', runtimeMs));
  }

  async unfinished(): Promise<Job[]> {
    const rows = this.sql(
      `SELECT * FROM jobs WHERE state IN ('QUEUED', 'RUNNING', 'CANCELLING') ORDER BY create_time, id`,
    ).all() as JobRow[];
    return rows.map((row) => this.assemble(row));
  }

  async findByIdempotencyKey(tenant: string, key: string): Promise<Job | undefined> {
    const row = this.sql('SELECT job_id FROM idempotency_keys WHERE tenant = ? AND key = ?').get(tenant, key) as
      | { job_id: string }
      | undefined;
    return row === undefined ? undefined : this.mustGet(row.job_id);
  }

  async countActive(tenant?: string): Promise<number> {
    const active = `state IN ('QUEUED', 'RUNNING', 'CANCELLING')`;
    const row = (
      tenant === undefined
        ? this.sql(`SELECT COUNT(*) AS count FROM jobs WHERE ${active}`).get()
        : this.sql(`SELECT COUNT(*) AS count FROM jobs WHERE ${active} AND tenant = ?`).get(tenant)
    ) as { count: number };
    return row.count;
  }

  /** One immediate transaction; a full or failing disk becomes the retryable ServiceError. */
  private write<T>(work: () => T): T {
    return writingTo(JOB_STORE, () => this.db.transaction(work).immediate());
  }

  private sql(text: string): Statement {
    return this.statements.get(text);
  }

  private exists(jobId: string): boolean {
    return this.sql('SELECT 1 FROM jobs WHERE id = ?').get(jobId) !== undefined;
  }

  private update(jobId: string, sql: string, value: string | number | Buffer): Job {
    const { changes } = this.sql(sql).run(value, jobId);
    if (changes === 0) throw notFound(jobId);
    return this.mustGet(jobId);
  }

  private insertTransition(jobId: string, position: number, transition: StateTransition): void {
    this.sql('INSERT INTO job_transitions (job_id, position, state, time, reason) VALUES (?, ?, ?, ?, ?)').run(
      jobId,
      position,
      transition.state,
      transition.time,
      transition.reason,
    );
  }

  private writeRun(jobId: string, position: number, run: SeedRun): void {
    const details = encodeDetails(run);
    // A run without details leaves the column out (NULL): the same row, and a file still at an
    // older schema (a migration test writes one) takes it too.
    const columns = details === null ? '' : ', details';
    this.sql(`INSERT OR REPLACE INTO job_runs (job_id, seed, position, state, steps, total_steps, mean_step_seconds,
                  duration_ms, checkpoint_step, error, metrics, peak_memory_bytes, phases${columns})
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?${details === null ? '' : ', ?'})`).run(
      jobId,
      run.seed,
      position,
      run.state,
      run.steps,
      run.totalSteps,
      run.meanStepSeconds,
      run.durationMs,
      run.checkpointStep ?? null,
      run.error ?? null,
      run.metrics === undefined ? null : encodeValue(run.metrics),
      run.peakMemoryBytes ?? null,
      run.phases === undefined ? null : encodeValue(run.phases),
      ...(details === null ? [] : [details]),
    );
  }

  private mustGet(jobId: string): Job {
    const row = this.sql('SELECT * FROM jobs WHERE id = ?').get(jobId) as JobRow | undefined;
    if (row === undefined) throw notFound(jobId);
    return this.assemble(row);
  }

  private specsOf(row: JobRow): { readonly spec: JobSpec; readonly requestSpec: unknown } {
    let decoded = this.specs.get(row.id);
    if (decoded === undefined) {
      decoded = { spec: decodeValue<JobSpec>(row.spec), requestSpec: decodeValue<unknown>(row.request_spec) };
      this.cacheSpecs(row.id, decoded);
    }
    return decoded;
  }

  private cacheSpecs(jobId: string, specs: { readonly spec: JobSpec; readonly requestSpec: unknown }): void {
    // Bounded: the oldest entry goes first (a Map iterates in insertion order).
    if (this.specs.size >= SPEC_CACHE_SIZE) this.specs.delete(this.specs.keys().next().value ?? '');
    this.specs.set(jobId, specs);
  }

  /** A row and its children as the immutable Job the in-memory store would hold. */
  private assemble(row: JobRow): Job {
    const transitions = this.sql('SELECT state, time, reason FROM job_transitions WHERE job_id = ? ORDER BY position').all(
      row.id,
    ) as StateTransition[];
    const runs = (this.sql('SELECT * FROM job_runs WHERE job_id = ? ORDER BY position').all(row.id) as RunRow[]).map(toSeedRun);
    const labels = this.sql('SELECT key, value FROM job_labels WHERE job_id = ?').all(row.id) as { key: string; value: string }[];
    return {
      id: row.id,
      tenant: row.tenant,
      displayName: row.display_name,
      labels: Object.fromEntries(labels.map(({ key, value }) => [key, value])),
      ...this.specsOf(row),
      idempotencyKey: row.idempotency_key,
      state: row.state,
      transitions: transitions.map(({ state, time, reason }) => ({ state, time, reason })),
      reason: row.reason,
      createTime: row.create_time,
      backend: row.backend,
      notices: JSON.parse(row.notices) as string[],
      runs,
      ...(row.summary === null ? {} : { summary: decodeValue<StabilitySummary>(row.summary) }),
      lastSequence: 0,
      runtimeMs: row.runtime_ms,
    };
  }
}

function notFound(jobId: string): ServiceError {
  return new ServiceError('NOT_FOUND', `job ${jobId} not found`);
}
