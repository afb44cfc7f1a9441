// Worker-thread entry of WalCheckpointer: its own connection to the database file, copying the
// WAL into the database every interval. The fsyncs of a checkpoint happen here, off the gRPC
// event loop. PASSIVE never waits for (or blocks) the main connection's readers and writers.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { CheckpointerData, CheckpointerReport } from './wal-checkpointer.js';

const port = parentPort;
if (port === null) throw new Error('wal-checkpointer-thread.ts must run as a worker thread');
const { file, intervalMs } = (workerData as CheckpointerData).checkpointer;
const db = new Database(file);
db.pragma('busy_timeout = 5000');

const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    port.postMessage({ kind: 'error', message: error instanceof Error ? error.message : String(error) } satisfies CheckpointerReport);
  }
}, intervalMs);

port.on('message', (message: 'stop') => {
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  port.close();
});
