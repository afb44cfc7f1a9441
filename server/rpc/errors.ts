// The one mapping from the service's errors (common/errors.ts) to gRPC status. The code and
// message travel as usual; the details travel in the
// `grpc-status-details-bin` trailer as a google.rpc.Status (the "richer error model"), so any
// gRPC client can read which fields were bad and how long to back off.
import { randomUUID } from 'node:crypto';
import { Metadata, status as GrpcStatus, type ServerErrorResponse } from '@grpc/grpc-js';
import type { Any } from '../../client/gen/google/protobuf/any.js';
import { BadRequest, RetryInfo } from '../../client/gen/google/rpc/error_details.js';
import { Status } from '../../client/gen/google/rpc/status.js';
import { ServiceError, type ErrorCode, type FieldViolation } from '../common/errors.js';
import type { Logger } from '../logger.js';
import { clip } from './field-violations.js';
import { millisecondsToDuration } from './mapping.js';

export const STATUS_DETAILS_KEY = 'grpc-status-details-bin';
const TYPE_URL_PREFIX = 'type.googleapis.com/';
// Message and details travel in HTTP/2 trailers, which clients cap (grpc-js: 8 KiB for all
// metadata by default, the details base64-encoded). Over the cap the client sees a broken
// call instead of the error, so both stay well under it whatever the request contained.
const MAX_MESSAGE_CHARS = 512;
const MAX_BAD_REQUEST_BYTES = 3 * 1024;

/** The one table from the service's error codes to gRPC's. */
export const GRPC_STATUS_OF: Readonly<Record<ErrorCode, GrpcStatus>> = {
  INVALID_ARGUMENT: GrpcStatus.INVALID_ARGUMENT,
  NOT_FOUND: GrpcStatus.NOT_FOUND,
  ALREADY_EXISTS: GrpcStatus.ALREADY_EXISTS,
  FAILED_PRECONDITION: GrpcStatus.FAILED_PRECONDITION,
  ABORTED: GrpcStatus.ABORTED,
  RESOURCE_EXHAUSTED: GrpcStatus.RESOURCE_EXHAUSTED,
  UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  CANCELLED: GrpcStatus.CANCELLED,
  INTERNAL: GrpcStatus.INTERNAL,
};

/** Turns whatever a handler caught into the status the client sees; internal errors are logged, not leaked. */
export function toGrpcError(error: unknown, logger: Logger): ServerErrorResponse {
  if (error instanceof ServiceError && error.code !== 'INTERNAL') return grpcErrorOf(error);
  // A reference ties the generic message a client sees to the log line an operator reads.
  const reference = randomUUID();
  logger.error('unhandled error in rpc handler', { reference, error });
  return grpcError(GrpcStatus.INTERNAL, `internal error (reference ${reference})`);
}

/** The status for a ServiceError, message and details as they are (INTERNAL ones go through toGrpcError). */
export function grpcErrorOf(error: ServiceError): ServerErrorResponse {
  return grpcError(GRPC_STATUS_OF[error.code], error.message, {
    violations: error.violations,
    ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
  });
}

export function unavailable(message: string): ServerErrorResponse {
  return grpcErrorOf(new ServiceError('UNAVAILABLE', message));
}

interface ErrorDetails {
  readonly violations?: readonly FieldViolation[];
  readonly retryAfterMs?: number;
}

export function grpcError(code: GrpcStatus, fullMessage: string, details: ErrorDetails = {}): ServerErrorResponse {
  const message = clip(fullMessage, MAX_MESSAGE_CHARS);
  const anyDetails: Any[] = [];
  if (details.violations !== undefined && details.violations.length > 0) {
    anyDetails.push(packAny('google.rpc.BadRequest', badRequestWithin(details.violations, MAX_BAD_REQUEST_BYTES)));
  }
  if (details.retryAfterMs !== undefined || code === GrpcStatus.RESOURCE_EXHAUSTED) {
    const retryInfo = RetryInfo.encode({ retryDelay: millisecondsToDuration(details.retryAfterMs ?? 1000) }).finish();
    anyDetails.push(packAny('google.rpc.RetryInfo', retryInfo));
  }
  const metadata = new Metadata();
  metadata.set(STATUS_DETAILS_KEY, Buffer.from(Status.encode({ code, message, details: anyDetails }).finish()));
  return Object.assign(new Error(message), { code, details: message, metadata });
}

/** As many violations, in order, as fit in `maxBytes` (always the first, clipped). */
function badRequestWithin(violations: readonly FieldViolation[], maxBytes: number): Uint8Array {
  // Violations from below rpc/ (data, jobs) were not clipped by FieldViolations.
  const clipped = violations.map((v) => ({ field: clip(v.field, 160), description: clip(v.description, 240) }));
  for (let count = clipped.length; ; count -= 1) {
    const encoded = BadRequest.encode({ fieldViolations: clipped.slice(0, count) }).finish();
    if (encoded.length <= maxBytes || count <= 1) return encoded;
  }
}

function packAny(typeName: string, value: Uint8Array): Any {
  return { typeUrl: `${TYPE_URL_PREFIX}${typeName}`, value: Buffer.from(value) };
}
