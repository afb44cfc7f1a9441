// Plain-JS entry of every pool worker thread. Node 20 ignores `--import tsx` in a Worker's
// execArgv (nodejs/node#47747, privatenumber/tsx#354), so the thread registers tsx's
// loader itself, then imports the TypeScript entry the pool named in workerData.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
