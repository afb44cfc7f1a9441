// One embedded server per data directory: two would both resume the same jobs, write the same
// checkpoints and interleave their event logs. The lock is an exclusive SQLite transaction held
// open on <dataDir>/steadytune.lock for the server's life. SQLite takes it as a POSIX advisory
// (fcntl) lock, which the kernel drops when the process ends however it ends (kill -9, OOM), so
// a crash never leaves a stale lock behind; and SQLite tracks it between connections of one
// process too, so two servers started in one process (tests) also conflict. A pid file with a
// liveness check would be weaker: pids are reused (a container restarts its server as pid 1
// again), and checking then writing is a race between two starting servers.
// The holder also writes <dataDir>/steadytune.lock.owner (pid, host, start time): information
// for the refused server's message only, never what decides who holds the lock.
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';

const LOCK_FILE = 'steadytune.lock';
const OWNER_FILE = 'steadytune.lock.owner';

export interface DataDirOwner {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
}

/** Another server holds the data directory. */
export class DataDirInUseError extends Error {
  override readonly name = 'DataDirInUseError';

  constructor(
    readonly dataDir: string,
    readonly owner: DataDirOwner | undefined,
  ) {
    const holder = owner === undefined ? 'holder unknown' : `pid ${owner.pid} on ${owner.host}, since ${owner.since}`;
    super(
      `data dir ${dataDir} is in use by another steadytune server (${holder}); ` +
        'one server per data dir: stop that one, or give this one another STEADYTUNE_DATA_DIR',
    );
  }
}

export interface DataDirLock {
  /** Lets go of the directory; later calls do nothing. */
  release(): void;
}

/** Takes the data directory for this server, or throws DataDirInUseError naming its holder. */
export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  // timeout 0: a held lock is an answer, not something to wait out.
  const db = new Database(path.join(dataDir, LOCK_FILE), { timeout: 0 });
  try {
    db.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    db.close();
    if (isBusy(error)) throw new DataDirInUseError(dataDir, readOwner(dataDir));
    throw error;
  }
  const ownerFile = path.join(dataDir, OWNER_FILE);
  const owner: DataDirOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  writeFileSync(ownerFile, `${JSON.stringify(owner)}\n`);
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      try {
        unlinkSync(ownerFile);
      } catch {
        // Already gone: only the message of a refused server would miss it.
      }
      db.close();
    },
  };
}

function isBusy(error: unknown): boolean {
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}

function readOwner(dataDir: string): DataDirOwner | undefined {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path.join(dataDir, OWNER_FILE), 'utf8'));
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { pid, host, since } = parsed as Record<string, unknown>;
    if (typeof pid !== 'number' || typeof host !== 'string' || typeof since !== 'string') return undefined;
    return { pid, host, since };
  } catch {
    // Not written yet (the holder is between taking the lock and writing it), or unreadable.
    return undefined;
  }
}
