// Public surface of server/observability: Prometheus metrics, the scrape endpoint, tracing.
export {
  AUTO_REMEDY_NOTICE_PREFIX,
  LIVE_JOB_STATES,
  SteadytuneMetrics,
  type JobMetricLabels,
  type JobStateCounting,
  type JobStateCountSource,
  type WorkerPoolGaugeSource,
} from './metrics.js';
export { JobMetricsRecorder, type JobMetricsRecorderOptions } from './job-metrics.js';
export { openTelemetryJobTracer } from './job-phase-trace.js';
export { rpcMetricsInterceptor, statusName, type MonotonicClock } from './rpc-metrics.js';
export { startMetricsServer, type MetricsServerOptions, type RunningMetricsServer } from './http.js';
export {
  currentTraceParent,
  startJobPhaseSpan,
  startTracing,
  tracingEnabled,
  withJobPhaseSpan,
  type JobPhase,
  type JobPhaseSpan,
  type JobPhaseSpanOptions,
  type JobTraceParent,
  type RunningTracing,
  type TracingOptions,
} from './tracing.js';
