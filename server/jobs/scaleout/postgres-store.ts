// The shared JobStore of scale-out: the contract of InMemoryJobStore and SqliteJobStore (the
// same spec file runs against all three), rows in PostgreSQL so every API and worker pod sees
// one truth. Correctness under concurrent pods comes from the database, not from this process:
// a state transition is one conditional UPDATE (compare-and-set on the current state), an
// idempotency key is a primary key (two pods starting the same request race on its unique
// index, one wins, the other returns the winner's job), and notices are de-duplicated inside
// the UPDATE that adds them. Every write of a job this process has claimed also checks the
// job's claim generation in the same statement (job-claims.ts), so a worker another one has
// taken the job from cannot write it any more.
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Pool } from 'pg';
import { ServiceError } from '../../common/errors.js';
import type { BackendName } from '../../engine/tf-free.js';
import {
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  decodeCursor,
  encodeCursor,
  filterFingerprint,
  pendingRun,
  type JobStore,
  type StateChange,
} from '../store.js';
import type { Job, JobSpec, JobState, ListJobsQuery, SeedRun, StabilitySummary, StartJobCommand, StateTransition } from '../types.js';
import { decodeValue, encodeValue } from '../persistence/value-codec.js';
import { HeldClaims, type JobClaim } from './job-claims.js';
import { inTransaction } from './postgres-transaction.js';

interface JobRow {
  readonly id: string;
  readonly tenant: string;
  readonly display_name: string;
  readonly spec: Buffer;
  readonly request_spec: Buffer;
  readonly idempotency_key: string;
  readonly state: JobState;
  readonly reason: string;
  /** bigint: node-postgres returns it as a string. */
  readonly create_time: string;
  readonly backend: BackendName | '';
  readonly labels: Record<string, string>;
  readonly transitions: StateTransition[];
  readonly notices: string[];
  readonly summary: Buffer | null;
  readonly runtime_ms: string;
  /** bigint: how many times a worker has claimed the job. */
  readonly claim_generation: string;
}

interface RunRow {
  readonly job_id: string;
  readonly run: Buffer;
}

export class PostgresJobStore implements JobStore {
  /**
   * @param pool connected to a database migrated by migratePostgres
   * @param claims the claims this process holds (shared with its event log)
   */
  constructor(
    private readonly pool: Pool,
    private readonly claims: HeldClaims = new HeldClaims(),
  ) {}

  /**
   * Claims the job for this process: its generation goes up by one, which fences off the writes
   * of every earlier claim (another worker's, or this one's own older claim).
   */
  async claim(jobId: string): Promise<JobClaim> {
    const { rows } = await this.pool.query<Pick<JobRow, 'claim_generation'>>(
      'UPDATE jobs SET claim_generation = claim_generation + 1 WHERE id = $1 RETURNING claim_generation',
      [jobId],
    );
    const generation = rows[0]?.claim_generation;
    if (generation === undefined) throw notFound(jobId);
    return this.claims.hold(jobId, Number(generation));
  }

  async create(command: StartJobCommand, now: number): Promise<{ job: Job; created: boolean }> {
    // A retry of a known request is the common case: answered without a write.
    const known = await this.idempotent(command);
    if (known !== undefined) return known;
    const id = randomUUID();
    // Rolled back when another request holding the same key committed first.
    const lostTheRace = await inTransaction(
      this.pool,
      async (client) => {
        await client.query(
          `INSERT INTO jobs (id, tenant, display_name, spec, request_spec, idempotency_key, state, reason, create_time,
                           backend, labels, transitions, notices, summary, runtime_ms)
         VALUES ($1, $2, $3, $4, $5, $6, 'QUEUED', '', $7, '', $8, $9, '[]', NULL, 0)`,
          [
            id,
            command.tenant,
            command.displayName,
            encodeValue(command.spec),
            encodeValue(command.requestSpec),
            command.idempotencyKey,
            now,
            JSON.stringify(command.labels),
            JSON.stringify([{ state: 'QUEUED', time: now, reason: '' } satisfies StateTransition]),
          ],
        );
        for (const [position, seed] of command.spec.seeds.entries()) await this.writeRun(client, id, position, pendingRun(seed));
        if (command.idempotencyKey === '') return false;
        // Waits for a concurrent transaction holding the same key, then sees its commit.
        const claimed = await client.query(
          'INSERT INTO idempotency_keys (tenant, key, job_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING job_id',
          [command.tenant, command.idempotencyKey, id],
        );
        return claimed.rowCount === 0;
      },
      (lost) => !lost,
    );
    if (!lostTheRace) return { job: await this.mustGet(id), created: true };
    const winner = await this.idempotent(command);
    if (winner === undefined) throw new Error(`idempotency key "${command.idempotencyKey}" vanished while in use`);
    return winner;
  }

  async get(tenant: string, jobId: string): Promise<Job | undefined> {
    const { rows } = await this.pool.query<JobRow>('SELECT * FROM jobs WHERE id = $1 AND tenant = $2', [jobId, tenant]);
    return (await this.assemble(rows))[0];
  }

  async list(query: ListJobsQuery): Promise<{ jobs: Job[]; nextPageToken: string }> {
    const pageSize = query.pageSize <= 0 ? DEFAULT_PAGE_SIZE : Math.min(query.pageSize, MAX_PAGE_SIZE);
    const filter = filterFingerprint(query);
    const cursor = query.pageToken === '' ? undefined : decodeCursor(query.pageToken, filter);
    const params: (string | number)[] = [query.tenant];
    const where = ['tenant = $1'];
    const param = (value: string | number): string => `$${params.push(value)}`;
    if (query.state !== undefined) where.push(`state = ${param(query.state)}`);
    if (Object.keys(query.labelSelector).length > 0) where.push(`labels @> ${param(JSON.stringify(query.labelSelector))}::jsonb`);
    if (cursor !== undefined) {
      // Strictly after the cursor in newest-first order (create_time desc, then id desc).
      where.push(`(create_time, id) < (${param(cursor.createTime)}, ${param(cursor.id)})`);
    }
    const { rows } = await this.pool.query<JobRow>(
      `SELECT * FROM jobs WHERE ${where.join(' AND ')} ORDER BY create_time DESC, id DESC LIMIT ${param(pageSize + 1)}`,
      params,
    );
    const jobs = await this.assemble(rows.slice(0, pageSize));
    const last = jobs.at(-1);
    const nextPageToken =
      rows.length > pageSize && last !== undefined ? encodeCursor({ createTime: last.createTime, id: last.id, filter }) : '';
    return { jobs, nextPageToken };
  }

  async transition(jobId: string, change: StateChange): Promise<Job> {
    const explainsEnd = change.to === 'FAILED' || change.to === 'CANCELLED';
    const entry: StateTransition = { state: change.to, time: change.time, reason: change.reason };
    const generation = this.claims.generationOf(jobId);
    const { rows } = await this.pool.query<JobRow>(
      `UPDATE jobs SET state = $2, reason = CASE WHEN $3 THEN $4 ELSE reason END,
              transitions = transitions || jsonb_build_array($5::jsonb)
        WHERE id = $1 AND state = ANY($6::text[]) AND ${fenceCondition('$7')} RETURNING *`,
      [jobId, change.to, explainsEnd, change.reason, JSON.stringify(entry), [...change.from], generation ?? null],
    );
    const [job] = await this.assemble(rows);
    if (job !== undefined) return job;
    const current = await this.current(jobId, generation);
    throw new ServiceError('FAILED_PRECONDITION', `job ${jobId} is ${current.state}, not ${change.from.join(' or ')}`);
  }

  async putRun(jobId: string, run: SeedRun): Promise<Job> {
    const generation = this.claims.generationOf(jobId);
    // FOR SHARE: a claim committing meanwhile is waited for, and its generation then seen.
    const written = await this.pool.query(
      `INSERT INTO job_runs (job_id, seed, position, run)
       SELECT id, $2, (SELECT COUNT(*) FROM job_runs WHERE job_id = $1), $3
         FROM jobs WHERE id = $1 AND ${fenceCondition('$4')} FOR SHARE
       ON CONFLICT (job_id, seed) DO UPDATE SET run = EXCLUDED.run`,
      [jobId, run.seed, encodeValue(run), generation ?? null],
    );
    if (written.rowCount === 0) await this.current(jobId, generation);
    return this.mustGet(jobId);
  }

  async setSummary(jobId: string, summary: StabilitySummary): Promise<Job> {
    return this.update(jobId, 'summary = $2', encodeValue(summary));
  }

  async setBackend(jobId: string, backend: BackendName): Promise<Job> {
    return this.update(jobId, 'backend = $2', backend);
  }

  async addNotice(jobId: string, message: string): Promise<Job> {
    // Every seed reports the same fallback notes; keep each once.
    return this.update(
      jobId,
      `notices = CASE WHEN notices @> jsonb_build_array($2::text) THEN notices ELSE notices || jsonb_build_array($2::text) END`,
      message,
    );
  }

  async setRuntime(jobId: string, runtimeMs: number): Promise<Job> {
    return this.update(jobId, 'runtime_ms = $2', Math.round(runtimeMs));
  }

  async unfinished(): Promise<Job[]> {
    const { rows } = await this.pool.query<JobRow>(
      `SELECT * FROM jobs WHERE state IN ('QUEUED', 'RUNNING', 'CANCELLING') ORDER BY create_time, id`,
    );
    return this.assemble(rows);
  }

  async countActive(tenant?: string): Promise<number> {
    const active = `state IN ('QUEUED', 'RUNNING', 'CANCELLING')`;
    const { rows } =
      tenant === undefined
        ? await this.pool.query<{ count: string }>(`SELECT COUNT(*) AS count FROM jobs WHERE ${active}`)
        : await this.pool.query<{ count: string }>(`SELECT COUNT(*) AS count FROM jobs WHERE ${active} AND tenant = $1`, [tenant]);
    // bigint: node-postgres returns it as a string.
    return Number(rows[0]?.count ?? 0);
  }

  async findByIdempotencyKey(tenant: string, key: string): Promise<Job | undefined> {
    const { rows } = await this.pool.query<JobRow>(
      'SELECT jobs.* FROM idempotency_keys k JOIN jobs ON jobs.id = k.job_id WHERE k.tenant = $1 AND k.key = $2',
      [tenant, key],
    );
    return (await this.assemble(rows))[0];
  }

  private async idempotent(command: StartJobCommand): Promise<{ job: Job; created: boolean } | undefined> {
    if (command.idempotencyKey === '') return undefined;
    const job = await this.findByIdempotencyKey(command.tenant, command.idempotencyKey);
    if (job === undefined) return undefined;
    if (!isDeepStrictEqual(job.spec, command.spec)) {
      throw new ServiceError(
        'ALREADY_EXISTS',
        `idempotency key "${command.idempotencyKey}" was already used with a different spec (job ${job.id})`,
      );
    }
    return { job, created: false };
  }

  private async update(jobId: string, assignment: string, value: string | number | Buffer): Promise<Job> {
    const generation = this.claims.generationOf(jobId);
    const { rows } = await this.pool.query<JobRow>(`UPDATE jobs SET ${assignment} WHERE id = $1 AND ${fenceCondition('$3')} RETURNING *`, [
      jobId,
      value,
      generation ?? null,
    ]);
    const [job] = await this.assemble(rows);
    if (job !== undefined) return job;
    await this.current(jobId, generation);
    throw notFound(jobId);
  }

  /**
   * The job's state after a write that changed nothing, for the caller to explain why: throws
   * NOT_FOUND for an unknown job and ABORTED when another claim has fenced this process off.
   */
  private async current(jobId: string, generation: number | undefined): Promise<{ state: JobState }> {
    const { rows } = await this.pool.query<Pick<JobRow, 'state' | 'claim_generation'>>(
      'SELECT state, claim_generation FROM jobs WHERE id = $1',
      [jobId],
    );
    const [row] = rows;
    if (row === undefined) throw notFound(jobId);
    if (generation !== undefined && Number(row.claim_generation) !== generation) {
      throw this.claims.refused(jobId, generation, Number(row.claim_generation));
    }
    return row;
  }

  /** A new job's run, at its position (unfenced: nobody has claimed the job yet). */
  private async writeRun(db: Pick<Pool, 'query'>, jobId: string, position: number, run: SeedRun): Promise<void> {
    await db.query(
      'INSERT INTO job_runs (job_id, seed, position, run) VALUES ($1, $2, $3, $4) ON CONFLICT (job_id, seed) DO UPDATE SET run = EXCLUDED.run',
      [jobId, run.seed, position, encodeValue(run)],
    );
  }

  private async mustGet(jobId: string): Promise<Job> {
    const { rows } = await this.pool.query<JobRow>('SELECT * FROM jobs WHERE id = $1', [jobId]);
    const [job] = await this.assemble(rows);
    if (job === undefined) throw notFound(jobId);
    return job;
  }

  /** Rows and their runs (one query for all of them) as the immutable Jobs the in-memory store would hold. */
  private async assemble(rows: readonly JobRow[]): Promise<Job[]> {
    if (rows.length === 0) return [];
    const runs = await this.pool.query<RunRow>('SELECT job_id, run FROM job_runs WHERE job_id = ANY($1::text[]) ORDER BY position', [
      rows.map((row) => row.id),
    ]);
    const runsOf = new Map<string, SeedRun[]>();
    for (const run of runs.rows) runsOf.set(run.job_id, [...(runsOf.get(run.job_id) ?? []), decodeValue<SeedRun>(run.run)]);
    return rows.map((row) => ({
      id: row.id,
      tenant: row.tenant,
      displayName: row.display_name,
      labels: row.labels,
      spec: decodeValue<JobSpec>(row.spec),
      requestSpec: decodeValue<unknown>(row.request_spec),
      idempotencyKey: row.idempotency_key,
      state: row.state,
      transitions: row.transitions.map(({ state, time, reason }) => ({ state, time, reason })),
      reason: row.reason,
      createTime: Number(row.create_time),
      backend: row.backend,
      notices: row.notices,
      runs: runsOf.get(row.id) ?? [],
      ...(row.summary === null ? {} : { summary: decodeValue<StabilitySummary>(row.summary) }),
      lastSequence: 0,
      runtimeMs: Number(row.runtime_ms),
    }));
  }
}

function notFound(jobId: string): ServiceError {
  return new ServiceError('NOT_FOUND', `job ${jobId} not found`);
}

/** True when the parameter (a generation, or NULL for an unclaimed job) is the job's claim generation. */
function fenceCondition(parameter: string): string {
  return `(${parameter}::bigint IS NULL OR claim_generation = ${parameter}::bigint)`;
}
