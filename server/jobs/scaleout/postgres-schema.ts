// The shared job store's schema in PostgreSQL, brought up to date by whichever process starts
// first. Migrations are a list in code, applied in order, each once, recorded in
// schema_migrations; all of them run in one transaction under an advisory lock, so API and
// worker pods starting together neither race nor see half a schema (PostgreSQL's DDL is
// transactional). A database written by a newer server is refused.
import type { Pool, PoolClient } from 'pg';
import { inTransaction } from './postgres-transaction.js';

export interface PostgresMigration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Append only: a released migration is never edited, a change is a new version. */
export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'jobs, runs, idempotency keys',
    sql: `
      CREATE TABLE jobs (
        id text PRIMARY KEY,
        tenant text NOT NULL,
        display_name text NOT NULL,
        -- v8 structured-clone bytes (value-codec.ts): read back exactly as written.
        spec bytea NOT NULL,
        request_spec bytea NOT NULL,
        idempotency_key text NOT NULL,
        state text NOT NULL,
        reason text NOT NULL,
        create_time bigint NOT NULL,
        backend text NOT NULL,
        -- Whole-value reads and writes only; the label filter uses @> on its GIN index.
        labels jsonb NOT NULL,
        transitions jsonb NOT NULL,
        notices jsonb NOT NULL,
        summary bytea,
        runtime_ms bigint NOT NULL DEFAULT 0
      );
      CREATE INDEX jobs_by_tenant_newest ON jobs (tenant, create_time DESC, id DESC);
      CREATE INDEX jobs_unfinished ON jobs (create_time, id) WHERE state IN ('QUEUED', 'RUNNING', 'CANCELLING');
      CREATE INDEX jobs_by_labels ON jobs USING gin (labels jsonb_path_ops);
      -- Runs are rows of their own: one is rewritten on every training step, the job is not.
      -- The run is one encoded value, so a field added to SeedRun needs no migration.
      CREATE TABLE job_runs (
        job_id text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        seed integer NOT NULL,
        position integer NOT NULL,
        run bytea NOT NULL,
        PRIMARY KEY (job_id, seed)
      );
      CREATE TABLE idempotency_keys (
        tenant text NOT NULL,
        key text NOT NULL,
        job_id text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        PRIMARY KEY (tenant, key)
      );
    `,
  },
  {
    version: 2,
    name: 'dataset registrations',
    sql: `
      -- One row per content (content-addressed id); the examples live in content_file on the
      -- shared volume, so every API and worker pod reads the same registered datasets.
      CREATE TABLE dataset_contents (
        id text PRIMARY KEY,
        content_hash text NOT NULL,
        class_names text NOT NULL,
        class_counts text NOT NULL,
        num_examples integer NOT NULL,
        report bytea NOT NULL,
        content_file text NOT NULL,
        content_bytes bigint NOT NULL
      );
      CREATE TABLE dataset_registrations (
        tenant text NOT NULL,
        dataset_id text NOT NULL REFERENCES dataset_contents (id),
        display_name text NOT NULL,
        format text NOT NULL,
        create_time bigint NOT NULL,
        PRIMARY KEY (tenant, dataset_id)
      );
      CREATE INDEX dataset_registrations_by_tenant_newest ON dataset_registrations (tenant, create_time DESC, dataset_id);
    `,
  },
  {
    version: 3,
    name: 'claim generation (fencing of stale workers)',
    sql: `
      -- Incremented by every claim of the job by a worker; each write of a worker holding a
      -- claim checks it, so a worker the job was taken from cannot write it any more.
      ALTER TABLE jobs ADD COLUMN claim_generation bigint NOT NULL DEFAULT 0;
    `,
  },
];

/** Any fixed number: the lock only has to be the same in every steadytune process. */
const MIGRATION_LOCK_KEY = 0x5eed_7e5e;

/** Applies the migrations the database lacks; returns its schema version afterwards. */
export async function migratePostgres(pool: Pool, migrations: readonly PostgresMigration[] = POSTGRES_MIGRATIONS): Promise<number> {
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const current = await schemaVersion(client);
    const known = migrations.reduce((max, migration) => Math.max(max, migration.version), 0);
    if (current > known) {
      throw new Error(`the database has schema version ${current}, this server knows up to ${known}: refusing to use it`);
    }
    const pending = [...migrations].filter((m) => m.version > current).sort((a, b) => a.version - b.version);
    for (const migration of pending) {
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
    }
    return pending.at(-1)?.version ?? current;
  });
}

async function schemaVersion(client: PoolClient): Promise<number> {
  const { rows } = await client.query<{ version: number | null }>('SELECT MAX(version) AS version FROM schema_migrations');
  return rows[0]?.version ?? 0;
}
