// What every process that trains wires the same way, embedded or as a scale-out worker pod:
// its training threads, one metrics registry fed by the store and event log the jobs write
// through (worker-thread telemetry is posted to this thread and appended to the log, so it
// reaches the registry without the jobs layer knowing), and the tracer and storage-fault
// counter behind the jobs' ports. Used by main.ts and worker-role.ts.
import path from 'node:path';
import type { Config } from './config.js';
import type { EventLog } from './jobs/event-log.js';
import { DATASET_CONTENT_DIR } from './jobs/persistence/file-backed-dataset-registry.js';
import type { JobStore } from './jobs/store.js';
import type { JobTracer } from './jobs/job-tracer.js';
import type { StorageFaultListener } from './jobs/storage-faults.js';
import { WorkerPool } from './jobs/worker-pool.js';
import type { Logger } from './logger.js';
import { JobMetricsRecorder, openTelemetryJobTracer, SteadytuneMetrics, type JobStateCounting } from './observability/index.js';

export interface TrainingWiring {
  readonly pool: WorkerPool;
  readonly metrics: SteadytuneMetrics;
  /** The store and event log to hand the jobs: the given ones, observed by the metrics. */
  readonly store: JobStore;
  readonly eventLog: EventLog;
  /** Job phase spans on OpenTelemetry (no-ops while tracing is off). */
  readonly tracer: JobTracer;
  /** Writes the storage refused, counted in the metrics. */
  readonly storageFaults: StorageFaultListener;
  readonly dataRoot: string;
  /** Where registered datasets' contents live: every pod of a scale-out deployment must agree on it. */
  readonly contentDir: string;
}

export function wireTraining(
  config: Config,
  logger: Logger,
  runStopGraceMs: number,
  persistence: { readonly store: JobStore; readonly eventLog: EventLog },
  /** Where steadytune_jobs comes from: this process's events (embedded) or, in scale-out, the shared store. */
  jobStateCounting: JobStateCounting,
): TrainingWiring {
  const dataRoot = config.dataRoot ?? path.join(config.dataDir, 'datasets');
  const pool = new WorkerPool({
    size: config.concurrency,
    cancelGraceMs: runStopGraceMs,
    config: {
      ...(config.backend === 'auto' ? {} : { backendPreference: config.backend }),
      dataDir: config.dataDir,
      dataRoot,
    },
    logger: logger.child({ component: 'workers' }),
  });
  const metrics = new SteadytuneMetrics();
  metrics.bindWorkerPool(pool);
  metrics.countJobStatesFrom(jobStateCounting);
  const jobMetrics = new JobMetricsRecorder(metrics, {
    onError: (error) => logger.warn('metrics update failed', { error }),
    countsJobStates: jobStateCounting === 'events',
  });
  return {
    pool,
    metrics,
    store: jobMetrics.observeStore(persistence.store),
    eventLog: jobMetrics.observeEventLog(persistence.eventLog),
    tracer: openTelemetryJobTracer,
    storageFaults: metrics.storageFaultListener(),
    dataRoot,
    contentDir: path.join(config.dataDir, DATASET_CONTENT_DIR),
  };
}
