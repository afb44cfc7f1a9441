// The embedded store's database file: opening it (WAL, durability settings) and bringing its
// schema up to date. Migrations are a list in code, applied in order, each once, in its own
// transaction, and recorded in schema_migrations; a file written by a newer server is refused.
//
// Durability: WAL with synchronous=NORMAL. A commit is in the WAL (the OS's page cache) before
// better-sqlite3 returns, so a killed process (kill -9, OOM) loses nothing. Only power loss or
// an OS crash can drop the newest commits, always a suffix, never a torn or reordered write,
// and resume copes with that: it restarts a run from its newest checkpoint at or below the last
// step the log still has (checkpoint files are fsynced on their own). FULL would fsync the WAL
// on every commit, i.e. on every training step's event, for protection against a failure the
// design already survives.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database, { type Statement } from 'better-sqlite3';
import { rewritePhaseNotices } from './phase-notice-migration.js';

export type SqliteDatabase = Database.Database;

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  /** A rewrite of stored values SQL cannot do (they are encoded), run after `sql` in its transaction. */
  readonly rewrite?: (db: SqliteDatabase) => void;
}

/** Append only: a released migration is never edited, a change is a new version. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'jobs, transitions, runs, labels, idempotency keys, event log',
    sql: `
      CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        display_name TEXT NOT NULL,
        spec BLOB NOT NULL,
        request_spec BLOB NOT NULL,
        idempotency_key TEXT NOT NULL,
        state TEXT NOT NULL,
        reason TEXT NOT NULL,
        create_time INTEGER NOT NULL,
        backend TEXT NOT NULL,
        notices TEXT NOT NULL,
        summary BLOB,
        runtime_ms INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX jobs_by_tenant_newest ON jobs (tenant, create_time DESC, id DESC);
      CREATE INDEX jobs_by_state ON jobs (state);
      CREATE TABLE job_labels (
        job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (job_id, key)
      ) WITHOUT ROWID;
      CREATE INDEX job_labels_by_pair ON job_labels (key, value);
      CREATE TABLE job_transitions (
        job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        state TEXT NOT NULL,
        time INTEGER NOT NULL,
        reason TEXT NOT NULL,
        PRIMARY KEY (job_id, position)
      ) WITHOUT ROWID;
      CREATE TABLE job_runs (
        job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        seed INTEGER NOT NULL,
        position INTEGER NOT NULL,
        state TEXT NOT NULL,
        steps INTEGER NOT NULL,
        total_steps INTEGER NOT NULL,
        mean_step_seconds REAL NOT NULL,
        duration_ms INTEGER NOT NULL,
        checkpoint_step INTEGER,
        error TEXT,
        metrics BLOB,
        PRIMARY KEY (job_id, seed)
      ) WITHOUT ROWID;
      CREATE TABLE idempotency_keys (
        tenant TEXT NOT NULL,
        key TEXT NOT NULL,
        job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        PRIMARY KEY (tenant, key)
      ) WITHOUT ROWID;
      -- No foreign key to jobs: the event log is its own interface (Redis streams in scale-out).
      CREATE TABLE job_events (
        job_id TEXT NOT NULL,
        sequence INTEGER NOT NULL,
        time INTEGER NOT NULL,
        seed INTEGER NOT NULL,
        kind TEXT NOT NULL,
        closes INTEGER NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (job_id, sequence)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: 'runs: peak memory and auto-remedy phases',
    sql: `
      ALTER TABLE job_runs ADD COLUMN peak_memory_bytes INTEGER;
      ALTER TABLE job_runs ADD COLUMN phases BLOB;
    `,
  },
  {
    version: 3,
    name: 'registered datasets: content metadata and per-tenant registrations',
    sql: `
      -- One row per content (content-addressed id); the examples live in content_file.
      CREATE TABLE dataset_contents (
        id TEXT PRIMARY KEY,
        content_hash TEXT NOT NULL,
        class_names TEXT NOT NULL,
        class_counts TEXT NOT NULL,
        num_examples INTEGER NOT NULL,
        report BLOB NOT NULL,
        content_file TEXT NOT NULL,
        content_bytes INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE dataset_registrations (
        tenant TEXT NOT NULL,
        dataset_id TEXT NOT NULL REFERENCES dataset_contents (id),
        display_name TEXT NOT NULL,
        format TEXT NOT NULL,
        create_time INTEGER NOT NULL,
        PRIMARY KEY (tenant, dataset_id)
      ) WITHOUT ROWID;
      CREATE INDEX dataset_registrations_by_tenant_newest ON dataset_registrations (tenant, create_time DESC, dataset_id);
    `,
  },
  {
    version: 4,
    name: 'event log: auto-remedy phase notices become phase_started events',
    sql: '',
    rewrite: (db) => {
      rewritePhaseNotices(db);
    },
  },
  {
    version: 5,
    name: 'runs: one encoded value for the fields added since (training class counts, test metrics)',
    sql: `
      -- As PostgreSQL keeps a whole run: an optional SeedRun field added later needs no migration.
      ALTER TABLE job_runs ADD COLUMN details BLOB;
    `,
  },
];

export interface OpenOptions {
  /** Defaults to MIGRATIONS; tests pass their own lists. */
  readonly migrations?: readonly Migration[];
}

/** Opens (creating if need be) the database file and migrates it. */
export function openJobDatabase(file: string, options: OpenOptions = {}): SqliteDatabase {
  mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // Another process on the same file (a second server, an operator's sqlite3) waits, not fails.
    db.pragma('busy_timeout = 5000');
    migrate(db, options.migrations ?? MIGRATIONS);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/** Applies the migrations the database lacks; returns its schema version afterwards. */
export function migrate(db: SqliteDatabase, migrations: readonly Migration[]): number {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  )`);
  const current = schemaVersion(db);
  const known = migrations.reduce((max, migration) => Math.max(max, migration.version), 0);
  if (current > known) {
    throw new Error(`the database has schema version ${current}, this server knows up to ${known}: refusing to use it`);
  }
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  const pending = [...migrations].filter((m) => m.version > current).sort((a, b) => a.version - b.version);
  for (const migration of pending) {
    db.transaction(() => {
      db.exec(migration.sql);
      migration.rewrite?.(db);
      record.run(migration.version, migration.name, Date.now());
    }).immediate();
  }
  return schemaVersion(db);
}

export function schemaVersion(db: SqliteDatabase): number {
  const row = db.prepare('SELECT MAX(version) AS version FROM schema_migrations').get() as { version: number | null };
  return row.version ?? 0;
}

/**
 * Statements prepared once per SQL text and reused: compiling a statement costs more than
 * running the small queries the store and the event log issue on every training step.
 */
export class PreparedStatements {
  private readonly byText = new Map<string, Statement>();

  constructor(private readonly db: SqliteDatabase) {}

  get(text: string): Statement {
    let statement = this.byText.get(text);
    if (statement === undefined) {
      statement = this.db.prepare(text);
      this.byText.set(text, statement);
    }
    return statement;
  }
}
