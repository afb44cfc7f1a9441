// The tracing port: what the jobs layer tells a tracer about a job, and nothing of how it is
// traced. server/observability implements it with OpenTelemetry; the composition root hands
// that in, and a service built without one (tests, tools) traces nothing. Tracing only
// observes: an implementation must never throw into the job or change what it does.
import type { JobLogger, SeedRun } from './types.js';
import type { TrainProgress } from './worker/protocol.js';

/**
 * Where a job's phase spans hang: the StartFineTune call's span, as plain data so it can sit on
 * the job in memory. undefined: no trace to join.
 */
export interface JobTraceParent {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
}

export interface JobTracer {
  /** The caller's active span (inside a StartFineTune handler); undefined when untraced. */
  currentParent(): JobTraceParent | undefined;
  /**
   * The phase tracker of one execution of a job; `parent` undefined (untraced call, resumed
   * job) makes each phase its own root. Warnings go to `logger`.
   */
  traceJob(job: { readonly id: string; readonly epochs: number }, parent: JobTraceParent | undefined, logger: JobLogger): JobPhaseTracker;
}

/** One execution's phases (queue wait, data load, runs, epochs, evaluations, checkpoints). */
export interface JobPhaseTracker {
  /** Call as progress arrives from the worker (not from the serial chain), so spans time the worker. */
  onProgress(seed: number, progress: TrainProgress): void;
  /** Runs the main thread's write of a checkpoint, timed as that seed's checkpoint phase. */
  checkpoint<T>(seed: number, step: number, write: () => Promise<T>): Promise<T>;
  /**
   * The seed's task is over and its outcome recorded (`run` as stored now: RUNNING means
   * suspended at shutdown, to resume).
   */
  runEnded(seed: number, run: Pick<SeedRun, 'state' | 'error'>): void;
  /** The execution is over: whatever is still open (a job cancelled while queued) ends now. */
  close(): void;
}

const UNTRACED_JOB: JobPhaseTracker = {
  onProgress: () => {},
  checkpoint: (_seed, _step, write) => write(),
  runEnded: () => {},
  close: () => {},
};

/** The tracer of a service given none. */
export const NO_JOB_TRACING: JobTracer = {
  currentParent: () => undefined,
  traceJob: () => UNTRACED_JOB,
};
