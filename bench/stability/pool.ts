// Runs jobs on a fixed number of worker threads (one model per thread: wasm is single-threaded
// in Node, so threads are the only parallelism), one job per worker at a time.
import { Worker } from 'node:worker_threads';
import type { RunJob } from './protocol.js';
import type { RunResult } from './run-result.js';
import type { FromWorker, StabilityWorkerData, ToWorker } from './worker.js';

export interface PoolRunFailure {
  readonly job: RunJob;
  readonly message: string;
}

export interface PoolOutcome {
  readonly results: RunResult[];
  readonly failures: PoolRunFailure[];
  readonly backend: string;
}

const BOOTSTRAP = new URL('./worker-bootstrap.mjs', import.meta.url);
const ENTRY = new URL('./worker.ts', import.meta.url).href;

export async function runOnWorkers(
  jobs: readonly RunJob[],
  workerCount: number,
  shared: Omit<StabilityWorkerData, 'entry'>,
  onResult: (result: RunResult, done: number, total: number) => void,
): Promise<PoolOutcome> {
  const results: RunResult[] = [];
  const failures: PoolRunFailure[] = [];
  let backend = 'unknown';
  if (jobs.length === 0) return { results, failures, backend };
  let next = 0;
  let done = 0;
  const workerData: StabilityWorkerData = { ...shared, entry: ENTRY };
  const workers = Array.from({ length: Math.min(workerCount, jobs.length) }, () => new Worker(BOOTSTRAP, { workerData }));
  try {
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            const sendNext = (): void => {
              if (next >= jobs.length) {
                resolve();
                return;
              }
              const index = next++;
              worker.postMessage({ kind: 'run', index, job: jobs[index] } satisfies ToWorker);
            };
            worker.on('message', (message: FromWorker) => {
              if (message.kind === 'ready') {
                backend = message.backend;
              } else if (message.kind === 'result') {
                results.push(message.result);
                onResult(message.result, ++done, jobs.length);
              } else {
                failures.push({ job: jobs[message.index], message: message.message });
                done += 1;
              }
              sendNext();
            });
            worker.on('error', reject);
            worker.on('exit', (code) => {
              if (code !== 0) reject(new Error(`a benchmark worker exited with code ${code}`));
            });
          }),
      ),
    );
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
  return { results, failures, backend };
}
