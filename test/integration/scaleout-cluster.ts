// A scale-out deployment on loopback for tests and the load benchmark: API and worker
// processes (`node --import tsx server/main.ts` with STEADYTUNE_MODE=api|worker) sharing a fresh
// PostgreSQL database, a fresh Redis key prefix and one data directory (the "RWX volume").
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createDatabase, deleteRedisPrefix, uniqueName, type ScaleOutServices } from '../fixtures/scaleout-services.js';
import { startServerProcess, type ServerProcess } from './server-process.js';

export interface ScaleOutClusterOptions {
  readonly apis: number;
  readonly workers: number;
  /** Extra environment for every process (checkpoint interval, lock timing, ...). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface ScaleOutCluster {
  readonly apis: ServerProcess[];
  readonly workers: ServerProcess[];
  readonly dataDir: string;
  /** Namespace of the cluster's Redis keys (BullMQ's included). */
  readonly redisPrefix: string;
  /** Starts one more worker on the same services (a replacement pod). */
  addWorker(): Promise<ServerProcess>;
  /** Ends every process (SIGKILL: nothing to keep), then removes the database, keys and files. */
  destroy(): Promise<void>;
}

/** Fast failure detection for tests: a dead worker's job is back in the queue within ~5 s. */
export const FAST_FAILOVER_ENV = { STEADYTUNE_WORKER_LOCK_MS: '3000', STEADYTUNE_STALLED_CHECK_MS: '1000' } as const;

export async function startScaleOutCluster(services: ScaleOutServices, options: ScaleOutClusterOptions): Promise<ScaleOutCluster> {
  const database = await createDatabase(services.databaseUrl);
  const prefix = uniqueName('redis');
  const dataDir = await mkdtemp(path.join(tmpdir(), 'steadytune-scaleout-'));
  const processes: ServerProcess[] = [];
  const start = async (mode: 'api' | 'worker'): Promise<ServerProcess> => {
    const started = await startServerProcess({
      dataDir,
      env: {
        STEADYTUNE_MODE: mode,
        STEADYTUNE_REDIS_URL: services.redisUrl,
        STEADYTUNE_DATABASE_URL: database.url,
        STEADYTUNE_REDIS_PREFIX: prefix,
        ...options.env,
      },
    });
    processes.push(started);
    return started;
  };
  const destroy = async (): Promise<void> => {
    await Promise.all(processes.map(async (process) => {
      if (process.child.exitCode === null && process.child.signalCode === null) process.child.kill('SIGKILL');
      await process.exited;
    }));
    await database.drop().catch(() => {});
    await deleteRedisPrefix(services.redisUrl, prefix).catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    // One at a time: the first applies the migrations, and two cores load TF.js more calmly.
    const apis: ServerProcess[] = [];
    for (let i = 0; i < options.apis; i += 1) apis.push(await start('api'));
    const workers: ServerProcess[] = [];
    for (let i = 0; i < options.workers; i += 1) workers.push(await start('worker'));
    return {
      apis,
      workers,
      dataDir,
      redisPrefix: prefix,
      addWorker: async () => {
        const worker = await start('worker');
        workers.push(worker);
        return worker;
      },
      destroy,
    };
  } catch (error) {
    await destroy();
    throw error;
  }
}

/** The worker processes that logged claiming this job, in claim order. */
export function claimsOf(workers: readonly ServerProcess[], jobId: string): { worker: ServerProcess; resumed: boolean }[] {
  return workers.flatMap((worker) =>
    worker.logs
      .filter((line) => line['msg'] === 'job claimed' && line['jobId'] === jobId)
      .map((line) => ({ worker, resumed: line['resumed'] === true, time: String(line['time']) })),
  ).sort((a, b) => (a.time < b.time ? -1 : 1)).map(({ worker, resumed }) => ({ worker, resumed }));
}
