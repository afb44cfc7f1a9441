// Calls the client ended (cancelled, deadline passed, connection closed) are no fault of this
// server's and nobody waits for their status: they are logged at debug with the reason, never
// at error, so log-based alerts fire only on real server-side faults.
import type { Deadline } from '@grpc/grpc-js';
import type { Logger } from '../logger.js';

/** The part of a grpc-js server call that tells whether (and how) the client ended it. */
export interface EndableCall {
  readonly cancelled: boolean;
  getDeadline(): Deadline;
}

/** Why the client ended the call, or undefined while it has not. */
export function clientEndReason(call: EndableCall): string | undefined {
  if (!call.cancelled) return undefined;
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  return deadlineMs <= Date.now() ? 'deadline exceeded' : 'cancelled by the client or its connection closed';
}

/** Node's error for a request stream that closed before its end: the client went away mid-stream. */
export function isPrematureClose(error: unknown): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE';
}

export function logClientEnded(logger: Logger, rpc: string, reason: string, fields: Readonly<Record<string, unknown>> = {}): void {
  logger.debug('call ended by the client', { rpc, reason, ...fields });
}

/**
 * Resolves once grpc-js has delivered a reset that came with the end of a request stream. A
 * RST_STREAM also ends the stream ('end') a tick before grpc-js marks the call cancelled (on
 * 'close', then process.nextTick), so a handler that just read to the end cannot yet tell a
 * complete request from one cut off; after one macrotask turn it can. A client that
 * half-closes and only then resets (Node's close() does) sent a complete stream as far as
 * the server can know.
 */
export function settled(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
