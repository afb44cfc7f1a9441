import { Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import { BadRequest, ErrorInfo, RetryInfo } from '../gen/google/rpc/error_details.js';
import { Status } from '../gen/google/rpc/status.js';
import type { Duration } from '../gen/google/protobuf/duration.js';

/** Trailer in which gRPC servers put a serialized google.rpc.Status with rich details. */
export const STATUS_DETAILS_TRAILER = 'grpc-status-details-bin';

const BAD_REQUEST_TYPE = 'google.rpc.BadRequest';
const RETRY_INFO_TYPE = 'google.rpc.RetryInfo';
const ERROR_INFO_TYPE = 'google.rpc.ErrorInfo';

export interface FieldViolation {
  /** Path of the offending field in the request, e.g. `spec.batch_size`. */
  field: string;
  description: string;
}

export interface SteadytuneErrorInit {
  code: GrpcStatus;
  details: string;
  fieldViolations?: FieldViolation[];
  retryDelayMs?: number;
  errorInfo?: ErrorInfo;
  metadata?: Metadata;
  cause?: unknown;
}

/** Every failure the SDK surfaces: a gRPC status code plus the decoded google.rpc details. */
export class SteadytuneError extends Error {
  readonly code: GrpcStatus;
  /** Name of the status code, e.g. `INVALID_ARGUMENT`. */
  readonly codeName: string;
  readonly details: string;
  readonly fieldViolations: FieldViolation[];
  /** Server-suggested wait before retrying (google.rpc.RetryInfo), if it sent one. */
  readonly retryDelayMs: number | undefined;
  readonly errorInfo: ErrorInfo | undefined;
  /** Trailing metadata of the failed call (empty for client-side failures). */
  readonly metadata: Metadata;

  constructor(init: SteadytuneErrorInit) {
    const codeName = statusCodeName(init.code);
    super(`${codeName}: ${init.details}`, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'SteadytuneError';
    this.code = init.code;
    this.codeName = codeName;
    this.details = init.details;
    this.fieldViolations = init.fieldViolations ?? [];
    this.retryDelayMs = init.retryDelayMs;
    this.errorInfo = init.errorInfo;
    this.metadata = init.metadata ?? new Metadata();
  }
}

export function statusCodeName(code: number): string {
  return GrpcStatus[code] ?? `CODE_${code}`;
}

interface DecodedStatusDetails {
  message?: string;
  fieldViolations: FieldViolation[];
  retryDelayMs?: number;
  errorInfo?: ErrorInfo;
}

/** Decodes google.rpc.Status from the details trailer; tolerant of absent or garbled trailers. */
export function decodeStatusDetails(metadata: Metadata): DecodedStatusDetails {
  const decoded: DecodedStatusDetails = { fieldViolations: [] };
  const raw = metadata.get(STATUS_DETAILS_TRAILER)[0];
  if (!(raw instanceof Buffer)) return decoded;
  let richStatus: Status;
  try {
    richStatus = Status.decode(raw);
  } catch {
    // A malformed trailer must not hide the status code the caller actually got.
    return decoded;
  }
  if (richStatus.message !== '') decoded.message = richStatus.message;
  for (const detail of richStatus.details) {
    try {
      switch (typeNameOf(detail.typeUrl)) {
        case BAD_REQUEST_TYPE:
          for (const violation of BadRequest.decode(detail.value).fieldViolations) {
            decoded.fieldViolations.push({ field: violation.field, description: violation.description });
          }
          break;
        case RETRY_INFO_TYPE: {
          const delay = RetryInfo.decode(detail.value).retryDelay;
          if (delay !== undefined) decoded.retryDelayMs = durationToMs(delay);
          break;
        }
        case ERROR_INFO_TYPE:
          decoded.errorInfo = ErrorInfo.decode(detail.value);
          break;
        default:
          break; // Unknown detail types are skipped, as the google.rpc model intends.
      }
    } catch {
      // One undecodable detail should not cost the others.
    }
  }
  return decoded;
}

/** Turns whatever a grpc-js call rejected with into a SteadytuneError. */
export function toSteadytuneError(error: unknown): SteadytuneError {
  if (error instanceof SteadytuneError) return error;
  if (isGrpcStatusError(error)) {
    const metadata = error.metadata instanceof Metadata ? error.metadata : new Metadata();
    const rich = decodeStatusDetails(metadata);
    return new SteadytuneError({
      code: error.code,
      details: error.details ?? rich.message ?? error.message,
      fieldViolations: rich.fieldViolations,
      retryDelayMs: rich.retryDelayMs,
      errorInfo: rich.errorInfo,
      metadata,
      cause: error,
    });
  }
  const details = error instanceof Error ? error.message : String(error);
  return new SteadytuneError({ code: GrpcStatus.UNKNOWN, details, cause: error });
}

interface GrpcStatusError extends Error {
  code: number;
  details?: string;
  metadata?: unknown;
}

function isGrpcStatusError(error: unknown): error is GrpcStatusError {
  return error instanceof Error && typeof (error as Partial<GrpcStatusError>).code === 'number';
}

/** `type.googleapis.com/google.rpc.BadRequest` → `google.rpc.BadRequest` (prefix is arbitrary). */
function typeNameOf(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
}

function durationToMs(duration: Duration): number {
  return Math.max(0, duration.seconds * 1000 + Math.round(duration.nanos / 1e6));
}
