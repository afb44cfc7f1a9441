// OpenTelemetry tracing: a server span per gRPC call (instrumentation-grpc) and spans for a
// job's phases (queue wait, data load, epochs, evaluation, checkpoint) in the trace of the
// StartFineTune call that created it. Off unless an OTLP endpoint or STEADYTUNE_OTEL=1 is set;
// while off, every helper here is a no-op on the API's no-op tracer and costs next to nothing.
// The exporter, sampler and resource follow the standard OTEL_* variables (NodeSDK reads them).
import { createRequire } from 'node:module';
import { ROOT_CONTEXT, SpanStatusCode, isSpanContextValid, trace, type Attributes, type Span, type TimeInput } from '@opentelemetry/api';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { JobTraceParent } from '../jobs/job-tracer.js';

const TRACER_NAME = 'steadytune.jobs';
const DEFAULT_SERVICE_NAME = 'steadytune';
/** Probes and tooling call these constantly; a span each would drown the job traces. */
const UNTRACED_GRPC_METHODS = ['Check', 'Watch', 'ServerReflectionInfo'];

export interface TracingOptions {
  /** Where the on/off switches are read; NodeSDK itself always reads process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Tests: export here instead of the OTLP exporter the environment describes; also turns tracing on. */
  readonly spanProcessors?: SpanProcessor[];
}

export interface RunningTracing {
  readonly enabled: boolean;
  /** Flushes pending spans; call last in the shutdown sequence. */
  shutdown(): Promise<void>;
}

/** On when an OTLP endpoint is configured or STEADYTUNE_OTEL=1; OTEL_SDK_DISABLED=true wins. */
export function tracingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env['OTEL_SDK_DISABLED']?.trim().toLowerCase() === 'true') return false;
  const set = (name: string): boolean => (env[name]?.trim() ?? '') !== '';
  return set('OTEL_EXPORTER_OTLP_ENDPOINT') || set('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') || env['STEADYTUNE_OTEL']?.trim() === '1';
}

/**
 * Starts the SDK when tracing is enabled. Call before the gRPC server registers its services
 * (the instrumentation wraps Server.prototype.register), i.e. first thing in main().
 */
export function startTracing(options: TracingOptions = {}): RunningTracing {
  const env = options.env ?? process.env;
  if (options.spanProcessors === undefined && !tracingEnabled(env)) {
    return { enabled: false, shutdown: async () => {} };
  }
  const sdk = new NodeSDK({
    // The option would override OTEL_SERVICE_NAME; only a default when the environment has none.
    ...(env['OTEL_SERVICE_NAME'] === undefined ? { serviceName: DEFAULT_SERVICE_NAME } : {}),
    instrumentations: [new GrpcInstrumentation({ ignoreGrpcMethods: UNTRACED_GRPC_METHODS })],
    // Metrics are Prometheus's and logs go to stdout: traces only.
    metricReaders: [],
    logRecordProcessors: [],
    ...(options.spanProcessors === undefined ? {} : { spanProcessors: options.spanProcessors }),
  });
  sdk.start();
  // grpc-js is CommonJS imported from ESM, which the instrumentation's require hook never sees.
  // One require() here lets it patch Server.prototype, the same object the ESM import uses.
  createRequire(import.meta.url)('@grpc/grpc-js');
  return { enabled: true, shutdown: () => sdk.shutdown() };
}

// Where a job's phase spans hang: the jobs layer's own type (its tracing port), as plain data.
export type { JobTraceParent };

/** The active span (the RPC's, inside a handler) as a JobTraceParent; undefined when untraced. */
export function currentTraceParent(): JobTraceParent | undefined {
  const spanContext = trace.getActiveSpan()?.spanContext();
  if (spanContext === undefined || !isSpanContextValid(spanContext)) return undefined;
  const { traceId, spanId, traceFlags } = spanContext;
  return { traceId, spanId, traceFlags };
}

export type JobPhase = 'queue_wait' | 'data_load' | 'run' | 'epoch' | 'evaluation' | 'checkpoint';

export interface JobPhaseSpanOptions {
  readonly attributes?: Attributes;
  /** Defaults to now; jobs/ may pass an event's time to start a span after the fact. */
  readonly startTime?: TimeInput;
}

export interface JobPhaseSpan {
  /** This span as a parent, for nested phases (a seed's epochs under its run). */
  readonly traceParent: JobTraceParent | undefined;
  setAttributes(attributes: Attributes): void;
  /** Ends the span; an error marks it failed and is recorded on it. Later calls are ignored. */
  end(options?: { error?: unknown; endTime?: TimeInput }): void;
}

/** Starts `job.<phase>` as a child of `parent` (a root span when there is none). */
export function startJobPhaseSpan(parent: JobTraceParent | undefined, phase: JobPhase, options: JobPhaseSpanOptions = {}): JobPhaseSpan {
  const parentContext = parent === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, { ...parent, isRemote: false });
  const span = trace.getTracer(TRACER_NAME).startSpan(
    `job.${phase}`,
    {
      ...(options.attributes === undefined ? {} : { attributes: options.attributes }),
      ...(options.startTime === undefined ? {} : { startTime: options.startTime }),
    },
    parentContext,
  );
  return phaseSpan(span);
}

/** Runs `work` inside `job.<phase>`: ended when it settles, marked failed when it throws. */
export async function withJobPhaseSpan<T>(
  parent: JobTraceParent | undefined,
  phase: JobPhase,
  work: (span: JobPhaseSpan) => Promise<T>,
  options: JobPhaseSpanOptions = {},
): Promise<T> {
  const span = startJobPhaseSpan(parent, phase, options);
  try {
    const result = await work(span);
    span.end();
    return result;
  } catch (error) {
    span.end({ error });
    throw error;
  }
}

function phaseSpan(span: Span): JobPhaseSpan {
  let ended = false;
  const spanContext = span.spanContext();
  return {
    traceParent: isSpanContextValid(spanContext)
      ? { traceId: spanContext.traceId, spanId: spanContext.spanId, traceFlags: spanContext.traceFlags }
      : undefined,
    setAttributes: (attributes) => void span.setAttributes(attributes),
    end: (options = {}) => {
      if (ended) return;
      ended = true;
      if (options.error !== undefined) {
        const error = options.error instanceof Error ? options.error : new Error(String(options.error));
        span.recordException(error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      }
      span.end(options.endTime);
    },
  };
}
