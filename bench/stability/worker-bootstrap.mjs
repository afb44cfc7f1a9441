// Plain-JS entry of the benchmark's worker threads: Node 20 ignores `--import tsx` in a
// Worker's execArgv (nodejs/node#47747), so the thread registers tsx itself, then loads the
// TypeScript entry named in workerData.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
