// Domain errors → gRPC status. The code and message travel as usual; the details travel in the
// `grpc-status-details-bin` trailer as a google.rpc.Status (the "richer error model"), so any
// gRPC client can read which fields were bad and how long to back off.
import { randomUUID } from 'node:crypto';
import { Metadata, status as GrpcStatus, type ServerErrorResponse } from '@grpc/grpc-js';
import type { Any } from '../../client/gen/google/protobuf/any.js';
import { BadRequest, RetryInfo } from '../../client/gen/google/rpc/error_details.js';
import { Status } from '../../client/gen/google/rpc/status.js';
import type { DataError } from '../data/errors.js';
import { JobError, type JobErrorKind } from '../jobs/types.js';
import type { Logger } from '../logger.js';
import { clip, type FieldViolation } from './field-violations.js';
import { millisecondsToDuration } from './mapping.js';

export const STATUS_DETAILS_KEY = 'grpc-status-details-bin';
const TYPE_URL_PREFIX = 'type.googleapis.com/';
// Message and details travel in HTTP/2 trailers, which clients cap (grpc-js: 8 KiB for all
// metadata by default, the details base64-encoded). Over the cap the client sees a broken
// call instead of the error, so both stay well under it whatever the request contained.
const MAX_MESSAGE_CHARS = 512;
const MAX_BAD_REQUEST_BYTES = 3 * 1024;

const CODES: Readonly<Record<JobErrorKind, GrpcStatus>> = {
  not_found: GrpcStatus.NOT_FOUND,
  already_exists: GrpcStatus.ALREADY_EXISTS,
  failed_precondition: GrpcStatus.FAILED_PRECONDITION,
  resource_exhausted: GrpcStatus.RESOURCE_EXHAUSTED,
  invalid_argument: GrpcStatus.INVALID_ARGUMENT,
};

// The data layer's errors by code: class identity does not survive a worker-thread boundary,
// the code does (and jobs/' SelectionError reuses DATASET_INVALID).
const DATA_CODES: Readonly<Record<DataError['code'], GrpcStatus>> = {
  DATASET_INVALID: GrpcStatus.INVALID_ARGUMENT,
  DATASET_NOT_FOUND: GrpcStatus.NOT_FOUND,
  DATASET_UNAVAILABLE: GrpcStatus.FAILED_PRECONDITION,
};

interface DataErrorShape {
  readonly message: string;
  readonly code: DataError['code'];
  readonly violations?: readonly FieldViolation[];
}

/** Turns whatever a handler caught into the status the client sees; unknown errors are logged, not leaked. */
export function toServiceError(error: unknown, logger: Logger): ServerErrorResponse {
  if (error instanceof JobError) {
    return serviceError(CODES[error.kind], error.message, {
      violations: error.fieldViolations,
      ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    });
  }
  if (isDataError(error)) {
    return serviceError(DATA_CODES[error.code], error.message, { violations: error.violations ?? [] });
  }
  // A reference ties the generic message a client sees to the log line an operator reads.
  const reference = randomUUID();
  logger.error('unhandled error in rpc handler', { reference, error });
  return serviceError(GrpcStatus.INTERNAL, `internal error (reference ${reference})`);
}

export function unavailable(message: string): ServerErrorResponse {
  return serviceError(GrpcStatus.UNAVAILABLE, message);
}

interface ErrorDetails {
  readonly violations?: readonly FieldViolation[];
  readonly retryAfterMs?: number;
}

export function serviceError(code: GrpcStatus, fullMessage: string, details: ErrorDetails = {}): ServerErrorResponse {
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

function isDataError(error: unknown): error is DataErrorShape {
  if (!(error instanceof Error) || !('code' in error) || typeof error.code !== 'string') return false;
  if (!Object.hasOwn(DATA_CODES, error.code)) return false;
  return !('violations' in error) || (Array.isArray(error.violations) && error.violations.every(isFieldViolation));
}

function isFieldViolation(value: unknown): value is FieldViolation {
  return (
    typeof value === 'object' &&
    value !== null &&
    'field' in value &&
    typeof value.field === 'string' &&
    'description' in value &&
    typeof value.description === 'string'
  );
}
