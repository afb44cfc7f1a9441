// Keeps WAL checkpoints off the main thread. SQLite's automatic checkpoint runs inside the
// commit that crosses the WAL threshold, and with synchronous=NORMAL that is where it fsyncs:
// tens of milliseconds on a busy disk, stalling every gRPC call on the event loop. Here the
// main connection never checkpoints; a worker thread with its own connection does, on a timer.
import { Worker } from 'node:worker_threads';
import type { SqliteDatabase } from './sqlite-database.js';

export interface CheckpointerData {
  readonly entry: string;
  readonly checkpointer: { readonly file: string; readonly intervalMs: number };
}

export type CheckpointerReport = { readonly kind: 'error'; readonly message: string };

export interface WalCheckpointerOptions {
  readonly intervalMs?: number;
  /** Failures are reported, never thrown: the database works without this, with a longer WAL. */
  readonly onError?: (message: string) => void;
}

/** SQLite's default automatic checkpoint threshold, in pages: restored if the thread dies. */
const SQLITE_DEFAULT_AUTOCHECKPOINT = 1000;
const WORKER_BOOTSTRAP = new URL('../worker-bootstrap.mjs', import.meta.url);
const ENTRY = new URL('./wal-checkpointer-thread.ts', import.meta.url);

export class WalCheckpointer {
  private readonly worker: Worker;
  private stopping = false;

  constructor(
    file: string,
    private readonly db: SqliteDatabase,
    options: WalCheckpointerOptions = {},
  ) {
    db.pragma('wal_autocheckpoint = 0');
    const workerData: CheckpointerData = { entry: ENTRY.href, checkpointer: { file, intervalMs: options.intervalMs ?? 1000 } };
    this.worker = new Worker(WORKER_BOOTSTRAP, { workerData });
    this.worker.on('message', (report: CheckpointerReport) => options.onError?.(report.message));
    this.worker.on('error', (error) => options.onError?.(error.message));
    this.worker.on('exit', () => {
      // Died early: let the main connection checkpoint again rather than grow the WAL forever.
      if (!this.stopping && this.db.open) this.db.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_AUTOCHECKPOINT}`);
    });
    // Housekeeping must not keep a finished process alive.
    this.worker.unref();
  }

  async close(): Promise<void> {
    this.stopping = true;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage('stop');
    const timeout = setTimeout(() => void this.worker.terminate(), 2000);
    await exited;
    clearTimeout(timeout);
  }
}
