// The store and event-log implementations a spec runs against: every contract test of
// jobs-store.spec.ts and jobs-event-log.spec.ts runs once per entry (not a spec file itself).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InMemoryEventLog, type EventLog } from '../../server/jobs/event-log.js';
import { openJobDatabase, type SqliteDatabase } from '../../server/jobs/persistence/sqlite-database.js';
import { SqliteEventLog } from '../../server/jobs/persistence/sqlite-event-log.js';
import { SqliteJobStore } from '../../server/jobs/persistence/sqlite-store.js';
import { InMemoryJobStore, type JobStore } from '../../server/jobs/store.js';
import { postgresAndRedis } from '../fixtures/scaleout-persistence.js';
import { scaleOutServices } from '../fixtures/scaleout-services.js';

export interface Persistence {
  readonly store: JobStore;
  readonly eventLog: EventLog;
}

export interface PersistenceKind {
  readonly name: string;
  /** A fresh, empty store and event log (sqlite: both on one new database file). */
  open(clock?: () => number): Persistence;
  /** Closes what open() opened and removes its files. */
  cleanup(): void;
}

function inMemory(): PersistenceKind {
  return {
    name: 'in-memory',
    open: (clock = Date.now) => ({ store: new InMemoryJobStore(), eventLog: new InMemoryEventLog(clock) }),
    cleanup: () => {},
  };
}

/** SQLite on real files in a temp directory, WAL and all, as the server runs it. */
export function sqliteFiles(): PersistenceKind & { file(): string; opened: SqliteDatabase[] } {
  let dir: string | undefined;
  let files = 0;
  const opened: SqliteDatabase[] = [];
  const file = (): string => {
    dir ??= mkdtempSync(path.join(tmpdir(), 'steadytune-sqlite-'));
    files += 1;
    return path.join(dir, `store-${files}.db`);
  };
  return {
    name: 'sqlite',
    opened,
    file,
    open(clock = Date.now) {
      const db = openJobDatabase(file());
      opened.push(db);
      return { store: new SqliteJobStore(db), eventLog: new SqliteEventLog(db, { clock, pollMs: 50 }) };
    },
    cleanup() {
      for (const db of opened.splice(0)) if (db.open) db.close();
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

// PostgreSQL + Redis (scale-out) only where the test services are up; jobs-scaleout.spec.ts
// says when they are skipped.
const scaleOut = scaleOutServices();
export const PERSISTENCE_KINDS: readonly PersistenceKind[] = [
  inMemory(),
  sqliteFiles(),
  ...(scaleOut === undefined ? [] : [postgresAndRedis(scaleOut)]),
];
