// The composition root: configuration → logger → jobs (store, event log, worker pool) →
// gRPC server, and the shutdown sequence. Nothing else wires concrete classes together, except
// the two pieces it delegates by role: worker-role.ts (a scale-out worker pod) and
// training-wiring.ts (the training threads, metrics and job tracer both of them share).
// Integration tests call startSteadytune() so they run exactly this wiring.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { InMemoryDatasetRegistry } from './data/index.js';
import { EmbeddedJobService } from './jobs/job-service.js';
import { DataDirInUseError, lockDataDir, openPersistence } from './jobs/persistence/index.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { DEFAULT_DURABILITY } from './durability-config.js';
import { createLogger, type Logger } from './logger.js';
import { rpcMetricsInterceptor, startMetricsServer, startTracing } from './observability/index.js';
import { startServer } from './rpc/server.js';
import { ApiJobService } from './jobs/scaleout/api-job-service.js';
import { openScaleOutBackends } from './jobs/scaleout/backends.js';
import { startWorkerRole } from './worker-role.js';
import { wireTraining } from './training-wiring.js';

/** How long calls still open at shutdown may take before they are cut. */
const SHUTDOWN_GRACE_MS = 10_000;
/** How long a run may take to reach its next step (and checkpoint) at shutdown before its worker is ended. */
const RUN_STOP_GRACE_MS = 15_000;
/**
 * A shutdown that takes longer than this (a wedged worker) ends the process anyway: inside the
 * usual 30 s an orchestrator waits before SIGKILL. Jobs stay resumable either way.
 */
const SHUTDOWN_DEADLINE_MS = 28_000;

export interface RunningSteadytune {
  readonly port: number;
  readonly jobService: EmbeddedJobService;
  /** Port of the Prometheus /metrics endpoint. */
  readonly metricsPort: number;
  /** Health NOT_SERVING, refuse new calls, stop the jobs, then close the server. */
  stop(graceMs?: number): Promise<void>;
}

export async function startSteadytune(config: Config, logger: Logger): Promise<RunningSteadytune> {
  const { scaleOut } = config;
  if (scaleOut?.mode === 'worker') return startWorkerRole(config, scaleOut, logger, RUN_STOP_GRACE_MS);
  // Scale-out pods share their volume by design; an embedded server owns its data dir alone.
  if (scaleOut !== undefined) return startServing(config, logger);
  const lock = lockDataDir(config.dataDir);
  try {
    const app = await startServing(config, logger);
    return { ...app, stop: (graceMs) => app.stop(graceMs).finally(() => lock.release()) };
  } catch (error) {
    lock.release();
    throw error;
  }
}

/** An embedded server, or a scale-out API pod: the gRPC service over the jobs layer. */
async function startServing(config: Config, logger: Logger): Promise<RunningSteadytune> {
  const { scaleOut } = config;
  const clock = (): number => Date.now();
  const durability = config.durability ?? DEFAULT_DURABILITY;
  // API pods (STEADYTUNE_MODE=api) use the shared store, log and queue; they train nothing.
  const shared = scaleOut === undefined ? undefined : await openScaleOutBackends({ ...scaleOut, clock });
  const persistence =
    shared ??
    openPersistence({
      kind: durability.store,
      dataDir: config.dataDir,
      checkpointEverySteps: durability.checkpointEverySteps,
      checkpointsKept: durability.checkpointsKept,
      clock,
      onWarning: (message) => logger.warn(message),
    });
  // Embedded, this process sees every state change; scale-out, one API process counts the shared store.
  const jobStateCounting = shared === undefined ? 'events' : shared.jobStateCounts;
  const { pool, metrics, store, eventLog, tracer, storageFaults, dataRoot, contentDir } = wireTraining(
    config,
    logger,
    RUN_STOP_GRACE_MS,
    persistence,
    jobStateCounting,
  );
  // One registry for the dataset RPCs and the jobs that train on what they registered; durable
  // with the sqlite store (a job resumed after a restart still finds its dataset) and shared by
  // every pod in scale-out (rows in PostgreSQL, contents on the shared volume).
  const limits = config.dataLimits;
  const datasets =
    persistence.openDatasetRegistry?.({ dataRoot, clock, contentDir, limits }) ?? new InMemoryDatasetRegistry({ dataRoot, clock, limits });
  const jobService = new EmbeddedJobService({
    store,
    eventLog,
    tracer,
    storageFaults,
    ...('durability' in persistence && persistence.durability !== undefined ? { durability: persistence.durability } : {}),
    pool,
    modelDir: path.join(config.dataDir, 'models'),
    clock,
    logger: logger.child({ component: 'jobs' }),
    datasets,
  });
  // Listen first: health answers NOT_SERVING while the workers load TF.js, then SERVING.
  const served =
    shared === undefined
      ? jobService
      : new ApiJobService({
          store,
          eventLog,
          queue: shared.queue,
          embedded: jobService,
          clock,
          logger: logger.child({ component: 'jobs' }),
        });
  const server = await startServer({
    port: config.port,
    host: config.host,
    jobService: served,
    datasets,
    logger: logger.child({ component: 'rpc' }),
    interceptors: [rpcMetricsInterceptor(metrics)],
    ...config.api, // tokens, TLS, limits
  });
  const metricsServer = await startMetricsServer({ port: config.metricsPort, host: config.host, registry: metrics.registry });
  try {
    await jobService.startWorkers();
  } catch (error) {
    await server.close(0);
    await metricsServer.close();
    await persistence.close();
    throw error;
  }
  server.refreshHealth();

  let stopping: Promise<void> | undefined;
  const stop = (graceMs = SHUTDOWN_GRACE_MS): Promise<void> => {
    stopping ??= (async () => {
      server.drain();
      await served.shutdown();
      await server.close(graceMs);
      await metricsServer.close();
      await persistence.close();
    })();
    return stopping;
  };
  return { port: server.port, jobService, metricsPort: metricsServer.port, stop };
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`steadytune: ${error.message}\n`);
    process.exit(2);
  }
  const logger = createLogger({ level: config.logLevel });
  // Before the server exists: the gRPC instrumentation hooks Server.register. Off unless
  // OTEL_EXPORTER_OTLP_ENDPOINT (or STEADYTUNE_OTEL=1) is set.
  const tracing = startTracing();
  const app = await startSteadytune(config, logger);
  logger.info('steadytune ready', {
    mode: config.scaleOut?.mode ?? 'embedded',
    port: app.port,
    host: config.host,
    concurrency: config.concurrency,
    backend: config.backend,
    dataDir: config.dataDir,
    metricsPort: app.metricsPort,
    tracing: tracing.enabled,
  });

  const onSignal = (signal: NodeJS.Signals): void => {
    if (shuttingDown) {
      logger.warn('second signal during shutdown; exiting now', { signal });
      process.exit(1);
    }
    shuttingDown = true;
    logger.info('shutting down', { signal });
    setTimeout(() => {
      logger.error('shutdown did not finish in time; exiting', { deadlineMs: SHUTDOWN_DEADLINE_MS });
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    app
      .stop()
      .then(() => tracing.shutdown())
      .then(
        () => {
          logger.info('stopped');
          process.exit(0);
        },
        (error: unknown) => {
          logger.error('shutdown failed', { error });
          process.exit(1);
        },
      );
  };
  let shuttingDown = false;
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

// Run only as the entry point: tests import startSteadytune without starting a second server.
const entryPoint = process.argv[1];
if (entryPoint !== undefined && import.meta.url === pathToFileURL(entryPoint).href) {
  main().catch((error: unknown) => {
    const logger = createLogger({ level: 'error' });
    if (error instanceof DataDirInUseError) {
      // An operator's mistake, not a fault: the message says it all, no stack.
      logger.error('steadytune cannot start: its data dir is in use', {
        dataDir: error.dataDir,
        holder: error.owner,
        reason: error.message,
      });
      process.stderr.write(`steadytune: ${error.message}\n`);
    } else {
      logger.error('steadytune failed to start', { error });
    }
    process.exit(1);
  });
}
