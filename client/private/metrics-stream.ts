import { status as GrpcStatus, type ClientReadableStream } from '@grpc/grpc-js';
import type { StreamMetricsResponse } from '../gen/steadytune/v1/trainer.js';
import { type SteadytuneError, toSteadytuneError } from './errors.js';
import {
  abortableSleep,
  backoffDelayMs,
  cancelledError,
  connectionError,
  finalError,
  type ChannelConnection,
  type RetryOptions,
} from './retry.js';

export interface StreamMetricsOptions {
  /** First sequence to deliver; 0 or absent means from the start of the job's log. */
  fromSequence?: number;
  /** Aborting cancels the call; the loop then throws a CANCELLED SteadytuneError. */
  signal?: AbortSignal;
  /** Consecutive reconnects without receiving an event before giving up; default 10. */
  maxReconnects?: number;
}

export const DEFAULT_MAX_RECONNECTS = 10;

export type OpenMetricsCall = (fromSequence: number) => ClientReadableStream<StreamMetricsResponse>;

/**
 * True for failures of the connection rather than of the request: the server never refused us,
 * so asking again from where we stopped is safe. grpc-js reports RST_STREAM and HTTP/2 protocol
 * failures as INTERNAL, which we tell apart from a server's own INTERNAL by the message.
 */
export function isResumableStreamError(error: SteadytuneError): boolean {
  if (error.code === GrpcStatus.UNAVAILABLE) return true;
  if (error.code !== GrpcStatus.INTERNAL) return false;
  return /RST_STREAM|protocol error|connection|stream (?:closed|removed|reset)|ECONNRESET|GOAWAY/i.test(error.details);
}

/**
 * The job's event log as one iterable across reconnects. It asks for `lastSeen + 1` after a
 * transport failure and drops anything at or below `lastSeen`, so each sequence arrives exactly
 * once even if the server replays a little. It ends when the server ends the stream. While the
 * channel has never connected, the connection's connect deadline bounds the reconnects.
 */
export async function* resumableMetricsStream(
  open: OpenMetricsCall,
  retry: RetryOptions,
  options: StreamMetricsOptions = {},
  connection?: ChannelConnection,
): AsyncGenerator<StreamMetricsResponse, void, undefined> {
  const { signal } = options;
  const startedAt = Date.now();
  const maxReconnects = options.maxReconnects ?? DEFAULT_MAX_RECONNECTS;
  const firstSequence = Math.max(0, options.fromSequence ?? 0);
  let lastSeen = firstSequence > 0 ? firstSequence - 1 : 0;
  let failuresWithoutProgress = 0;

  while (true) {
    if (signal?.aborted) throw cancelledError('aborted by signal');
    const call = open(lastSeen > 0 ? lastSeen + 1 : firstSequence);
    // grpc-js emits CANCELLED after cancel(); without a listener that 'error' would crash the process.
    call.on('error', ignoreError);
    const cancelCall = (): void => call.cancel();
    signal?.addEventListener('abort', cancelCall, { once: true });
    try {
      for await (const event of call as AsyncIterable<StreamMetricsResponse>) {
        if (event.sequence <= lastSeen) continue;
        lastSeen = event.sequence;
        failuresWithoutProgress = 0;
        yield event;
      }
      return;
    } catch (rawError) {
      if (signal?.aborted) throw cancelledError('aborted by signal');
      const error = toSteadytuneError(rawError);
      failuresWithoutProgress++;
      if (!isResumableStreamError(error) || failuresWithoutProgress > maxReconnects) throw finalError(error, connection);
      await abortableSleep(backoffDelayMs(failuresWithoutProgress, retry), signal);
      const connectDeadline = connection?.connectDeadline(startedAt) ?? Infinity;
      if (connection !== undefined && error.code === GrpcStatus.UNAVAILABLE && connectDeadline !== Infinity) {
        const ready = await connection.awaitReady(connectDeadline);
        if (signal?.aborted) throw cancelledError('aborted by signal');
        if (!ready) throw connectionError(error, connection.target, connectDeadline - startedAt);
      }
    } finally {
      signal?.removeEventListener('abort', cancelCall);
      // Runs when the consumer breaks out too: stop the server from streaming to nobody.
      call.cancel();
    }
  }
}

function ignoreError(): void {}
