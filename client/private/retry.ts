import { status as GrpcStatus } from '@grpc/grpc-js';
import { SteadytuneError, toSteadytuneError } from './errors.js';

export interface RetryOptions {
  /** Attempts in total, the first included; 1 disables retries. */
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { maxAttempts: 4, initialBackoffMs: 200, maxBackoffMs: 5_000 };

/** Transient codes: the request may not have been processed, or the server asked us to slow down. */
const RETRYABLE_CODES: ReadonlySet<GrpcStatus> = new Set([
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.RESOURCE_EXHAUSTED,
]);

export function isRetryableCode(code: GrpcStatus): boolean {
  return RETRYABLE_CODES.has(code);
}

/**
 * Exponential backoff with jitter for the `retryNumber`-th retry (1-based): a random wait in
 * [d/2, d] where d = min(max, initial * 2^(n-1)), so clients that failed together spread out.
 */
export function backoffDelayMs(retryNumber: number, options: RetryOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxBackoffMs, options.initialBackoffMs * 2 ** Math.max(0, retryNumber - 1));
  return ceiling / 2 + random() * (ceiling / 2);
}

export function cancelledError(reason: string): SteadytuneError {
  return new SteadytuneError({ code: GrpcStatus.CANCELLED, details: reason });
}

/** Waits `ms`, rejecting with CANCELLED as soon as `signal` aborts. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(cancelledError('aborted by signal'));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(cancelledError('aborted by signal'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * How long a retry after UNAVAILABLE waits for the channel to connect. A restarted server is
 * back within seconds, but the channel reconnects on its own backoff (grpc-js: 1 s growing by
 * 1.6x), and attempts made in between fail at once: without this wait a call made during a
 * restart used up its retries before the channel tried again.
 */
export const RECONNECT_WAIT_MS = 5_000;

/** The channel as the retry loops see it. */
export interface ChannelConnection {
  /** The address calls go to, named in connection errors. */
  readonly target: string;
  /** Resolves true once the channel is READY (it connects now if idle), false at `until` (epoch ms); never rejects. */
  awaitReady(until: number): Promise<boolean>;
  /** True while the channel cannot connect: it never has, or its last try failed (TRANSIENT_FAILURE). */
  unreachable(): boolean;
  /**
   * The epoch ms after which a call that started at `startedAt` stops waiting for a channel
   * that has never connected; Infinity once it has connected, or without a connect timeout.
   */
  connectDeadline(startedAt: number): number;
}

export interface RetryPlan {
  /** Only calls that are safe to repeat are retried. */
  idempotent: boolean;
  retry: RetryOptions;
  /** Absolute deadline for the whole logical call, retries included (gRPC semantics). */
  deadline?: Date;
  signal?: AbortSignal;
  connection?: ChannelConnection;
}

/** UNAVAILABLE because the channel could not connect: names the address and what grpc-js reported. */
export function connectionError(error: SteadytuneError, target: string, waitedMs?: number): SteadytuneError {
  const within = waitedMs === undefined ? '' : ` within ${waitedMs} ms`;
  return new SteadytuneError({
    code: GrpcStatus.UNAVAILABLE,
    details: `cannot connect to ${target}${within}: ${reasonOf(error)}`,
    metadata: error.metadata,
    cause: error,
  });
}

/**
 * A DEADLINE_EXCEEDED that says why time ran out: an attempt started just before the deadline
 * reports only "Deadline exceeded after 0.001s", hiding the UNAVAILABLE that used the time up.
 */
export function deadlineError(details: string, cause: SteadytuneError): SteadytuneError {
  return new SteadytuneError({
    code: GrpcStatus.DEADLINE_EXCEEDED,
    details: `${details}; the attempt before failed with ${cause.codeName}: ${reasonOf(cause)}`,
    metadata: cause.metadata,
    cause,
  });
}

/** grpc-js ends a connection error with an empty "Resolution note: " when name resolution went fine. */
function reasonOf(error: SteadytuneError): string {
  return error.details.replace(/\.? Resolution note: $/, '.');
}

/** The error a failed call ends with: a connection failure names the address it could not reach. */
export function finalError(error: SteadytuneError, connection: ChannelConnection | undefined): SteadytuneError {
  if (error.code !== GrpcStatus.UNAVAILABLE || connection === undefined || !connection.unreachable()) return error;
  return connectionError(error, connection.target);
}

/**
 * Runs `attempt` until it succeeds, fails with a non-retryable code, runs out of attempts, or
 * the next backoff would overrun the deadline. Attempts end at the call's absolute deadline (or
 * earlier, at a per-attempt one), so a DEADLINE_EXCEEDED at the call's own deadline is final,
 * while one from a server or from a shorter attempt deadline is retried.
 * While the channel has never connected, the connection's connect deadline bounds the retries.
 */
export async function runWithRetry<T>(plan: RetryPlan, attempt: () => Promise<T>): Promise<T> {
  const { connection } = plan;
  const maxAttempts = plan.idempotent ? Math.max(1, plan.retry.maxAttempts) : 1;
  const deadline = plan.deadline?.getTime() ?? Infinity;
  const startedAt = Date.now();
  let previous: SteadytuneError | undefined;
  for (let attemptNumber = 1; ; attemptNumber++) {
    try {
      return await attempt();
    } catch (rawError) {
      let error = toSteadytuneError(rawError);
      if (plan.signal?.aborted) throw cancelledError('aborted by signal');
      if (error.code === GrpcStatus.DEADLINE_EXCEEDED && previous !== undefined && previous.code !== error.code) {
        error = deadlineError(error.details, previous);
      }
      if (attemptNumber >= maxAttempts || !isRetryableCode(error.code)) throw finalError(error, connection);
      const waitMs = error.retryDelayMs ?? backoffDelayMs(attemptNumber, plan.retry);
      if (Date.now() + waitMs >= deadline) throw finalError(error, connection);
      await abortableSleep(waitMs, plan.signal);
      if (error.code === GrpcStatus.UNAVAILABLE && connection !== undefined) {
        const connectDeadline = connection.connectDeadline(startedAt);
        const ready = await connection.awaitReady(Math.min(deadline, connectDeadline, Date.now() + RECONNECT_WAIT_MS));
        if (plan.signal?.aborted) throw cancelledError('aborted by signal');
        if (!ready && Date.now() >= connectDeadline) throw connectionError(error, connection.target, connectDeadline - startedAt);
        if (!ready && Date.now() >= deadline) {
          throw deadlineError(`deadline exceeded while waiting to reconnect to ${connection.target}`, error);
        }
      }
      previous = error;
    }
  }
}
