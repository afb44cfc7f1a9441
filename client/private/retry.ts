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

export interface RetryPlan {
  /** Only calls that are safe to repeat are retried. */
  idempotent: boolean;
  retry: RetryOptions;
  /** Absolute deadline for the whole logical call, retries included (gRPC semantics). */
  deadline?: Date;
  signal?: AbortSignal;
  /** Resolves once the channel is connected or at `until` (epoch ms), whichever comes first; never rejects. */
  awaitConnection?: (until: number) => Promise<void>;
}

/**
 * Runs `attempt` until it succeeds, fails with a non-retryable code, runs out of attempts, or
 * the next backoff would overrun the deadline. Each attempt gets the same absolute deadline, so
 * a DEADLINE_EXCEEDED caused by our own deadline is final and only a server-side one is retried.
 */
export async function runWithRetry<T>(plan: RetryPlan, attempt: () => Promise<T>): Promise<T> {
  const maxAttempts = plan.idempotent ? Math.max(1, plan.retry.maxAttempts) : 1;
  for (let attemptNumber = 1; ; attemptNumber++) {
    try {
      return await attempt();
    } catch (rawError) {
      const error = toSteadytuneError(rawError);
      if (plan.signal?.aborted) throw cancelledError('aborted by signal');
      if (attemptNumber >= maxAttempts || !isRetryableCode(error.code)) throw error;
      const waitMs = error.retryDelayMs ?? backoffDelayMs(attemptNumber, plan.retry);
      if (plan.deadline !== undefined && Date.now() + waitMs >= plan.deadline.getTime()) throw error;
      await abortableSleep(waitMs, plan.signal);
      if (error.code === GrpcStatus.UNAVAILABLE && plan.awaitConnection !== undefined) {
        await plan.awaitConnection(Math.min(plan.deadline?.getTime() ?? Infinity, Date.now() + RECONNECT_WAIT_MS));
        if (plan.signal?.aborted) throw cancelledError('aborted by signal');
      }
    }
  }
}
