// The composition root of a scale-out worker pod (STEADYTUNE_MODE=worker), beside main.ts's
// embedded and API wiring: shared store and event log, checkpoints and models on the shared
// volume (STEADYTUNE_DATA_DIR), this pod's training threads, the BullMQ worker that feeds
// them, and a health-only gRPC server for the probes. No Trainer API: clients talk to API pods.
import { hostname } from 'node:os';
import path from 'node:path';
import type { Config } from './config.js';
import { DirectoryCheckpointFiles } from './jobs/persistence/checkpoint-files.js';
import { EmbeddedJobService } from './jobs/job-service.js';
import { openScaleOutBackends } from './jobs/scaleout/backends.js';
import { QueueWorker } from './jobs/scaleout/queue-worker.js';
import { DEFAULT_DURABILITY } from './durability-config.js';
import type { Logger } from './logger.js';
import { startMetricsServer } from './observability/index.js';
import { startHealthServer } from './rpc/health-server.js';
import type { ScaleOutConfig } from './scaleout-config.js';
import { wireTraining } from './training-wiring.js';

export interface RunningWorker {
  /** The health server's port. */
  readonly port: number;
  readonly jobService: EmbeddedJobService;
  readonly metricsPort: number;
  /** Stops claiming, checkpoints running jobs and hands them back to the queue, then closes. */
  stop(): Promise<void>;
}

export async function startWorkerRole(
  config: Config,
  scaleOut: ScaleOutConfig,
  logger: Logger,
  runStopGraceMs: number,
): Promise<RunningWorker> {
  const clock = (): number => Date.now();
  const durability = config.durability ?? DEFAULT_DURABILITY;
  const backends = await openScaleOutBackends({ ...scaleOut, clock });
  const { pool, metrics, store, eventLog, tracer, storageFaults, dataRoot, contentDir } = wireTraining(
    config,
    logger,
    runStopGraceMs,
    backends,
    // An API process exports the deployment's job states; a worker counts what it trains.
    'elsewhere',
  );
  const jobService = new EmbeddedJobService({
    store,
    eventLog,
    tracer,
    storageFaults,
    durability: {
      checkpoints: new DirectoryCheckpointFiles(path.join(config.dataDir, 'checkpoints'), durability.checkpointsKept),
      checkpointEverySteps: durability.checkpointEverySteps,
    },
    resumeUnfinishedOnStart: false,
    pool,
    modelDir: path.join(config.dataDir, 'models'),
    clock,
    logger: logger.child({ component: 'jobs' }),
    // Registered on an API pod: the row in PostgreSQL, the content on the shared volume.
    datasets: backends.openDatasetRegistry({ dataRoot, clock, contentDir, limits: config.dataLimits }),
  });
  const worker = new QueueWorker({
    service: jobService,
    store,
    eventLog,
    queue: backends.queue,
    claim: (jobId) => backends.claim(jobId),
    connection: backends.queueConnection,
    prefix: scaleOut.redisPrefix,
    subscriber: backends.subscriber(),
    concurrency: config.concurrency,
    lockMs: scaleOut.lockMs,
    stalledCheckMs: scaleOut.stalledCheckMs,
    maxJobStarts: scaleOut.maxJobStarts,
    name: `${hostname()}-${process.pid}`,
    clock,
    logger: logger.child({ component: 'queue' }),
  });
  // Listen first: the probes see NOT_SERVING while the threads load TF.js.
  const health = await startHealthServer({ host: config.host, port: config.port, ready: () => worker.ready(), logger });
  const metricsServer = await startMetricsServer({ port: config.metricsPort, host: config.host, registry: metrics.registry });
  try {
    await worker.start();
  } catch (error) {
    await worker.stop().catch(() => {});
    await health.close();
    await metricsServer.close();
    await backends.close();
    throw error;
  }
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      health.drain();
      await worker.stop();
      await health.close();
      await metricsServer.close();
      await backends.close();
    })();
    return stopping;
  };
  return { port: health.port, jobService, metricsPort: metricsServer.port, stop };
}
