// The service's one error type, shared by every layer but the engine. A code says what went
// wrong in the caller's terms; rpc/errors.ts is the only place that turns it into a gRPC
// status, so nothing below rpc/ knows gRPC. Errors cross the worker-thread boundary as plain
// data (structured clone keeps no class and no own fields), so toWire()/fromWire() carry them
// over and rebuild the same class, code, violations, message, stack and cause on the far side.

/** What went wrong, named as gRPC names the same outcome (rpc/ maps them one to one). */
export const ERROR_CODES = [
  /** The request itself is wrong; `violations` says which fields and why. */
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  /** The request is well-formed but the state does not allow it (a finished job, a missing install). */
  'FAILED_PRECONDITION',
  /**
   * Lost a concurrency conflict: e.g. a scale-out worker's write to a job another worker has
   * claimed since (fencing). Retrying the same write will not help; the higher level decides.
   */
  'ABORTED',
  /** A limit was reached; `retryAfterMs` says when to try again. */
  'RESOURCE_EXHAUSTED',
  /** The service cannot take the request now (shutting down); retrying elsewhere or later may work. */
  'UNAVAILABLE',
  /** The work was cancelled before it ran. */
  'CANCELLED',
  /** A failure the caller cannot fix: its message stays in the logs, never in a response. */
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** One problem in the input; `field` names where, e.g. `spec.seeds[2]` or `rows[12].label`. */
export interface FieldViolation {
  readonly field: string;
  readonly description: string;
}

export interface ServiceErrorOptions {
  readonly violations?: readonly FieldViolation[];
  /** How long the caller should wait before retrying (sent as google.rpc.RetryInfo). */
  readonly retryAfterMs?: number;
  readonly cause?: unknown;
}

/** Any error as plain data, for postMessage; `code` is present when it was a ServiceError. */
export interface ErrorWire {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly code?: ErrorCode;
  readonly violations?: readonly FieldViolation[];
  readonly retryAfterMs?: number;
  readonly cause?: ErrorWire;
}

export interface ServiceErrorWire extends ErrorWire {
  readonly code: ErrorCode;
  readonly violations: readonly FieldViolation[];
}

// Causes are for operators reading logs; a few levels say enough and bound the message size.
const MAX_CAUSE_DEPTH = 4;

export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  readonly violations: readonly FieldViolation[];
  readonly retryAfterMs: number | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: ServiceErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.violations = options.violations ?? [];
    this.retryAfterMs = options.retryAfterMs;
  }

  /** INVALID_ARGUMENT listing the bad fields. */
  static invalidArgument(message: string, violations: readonly FieldViolation[]): ServiceError {
    return new ServiceError('INVALID_ARGUMENT', message, { violations });
  }

  /** The error itself when it is a ServiceError; otherwise INTERNAL, same message, the original as cause. */
  static wrap(error: unknown): ServiceError {
    if (error instanceof ServiceError) return error;
    return new ServiceError('INTERNAL', error instanceof Error ? error.message : String(error), { cause: error });
  }

  toWire(): ServiceErrorWire {
    return { ...errorToWire(this, 0), code: this.code, violations: this.violations };
  }

  static fromWire(wire: ServiceErrorWire): ServiceError {
    const rebuilt = errorFromWire(wire);
    return rebuilt instanceof ServiceError ? rebuilt : ServiceError.wrap(rebuilt);
  }
}

/** True for a ServiceError with this code (the check callers make instead of matching messages). */
export function hasCode(error: unknown, code: ErrorCode): error is ServiceError {
  return error instanceof ServiceError && error.code === code;
}

/** An error's message for logs and run rows; anything thrown that is not an Error, as text. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function errorToWire(error: unknown, depth: number): ErrorWire {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const cause = error.cause === undefined || depth >= MAX_CAUSE_DEPTH ? undefined : errorToWire(error.cause, depth + 1);
  return {
    name: error.name,
    message: error.message,
    ...(error.stack === undefined ? {} : { stack: error.stack }),
    ...(error instanceof ServiceError
      ? {
          code: error.code,
          // Copied field by field: a violation object may carry more than the wire should.
          violations: error.violations.map(({ field, description }) => ({ field, description })),
          ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
        }
      : {}),
    ...(cause === undefined ? {} : { cause }),
  };
}

// Built-in classes are rebuilt as themselves, so `instanceof TypeError` still holds in a cause.
const BUILT_IN_ERRORS: Readonly<Record<string, ErrorConstructor>> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

function errorFromWire(wire: ErrorWire): Error {
  const options = wire.cause === undefined ? undefined : { cause: errorFromWire(wire.cause) };
  const code = ERROR_CODES.find((known) => known === wire.code);
  let error: Error;
  if (code !== undefined) {
    error = new ServiceError(code, wire.message, {
      violations: wire.violations ?? [],
      ...(wire.retryAfterMs === undefined ? {} : { retryAfterMs: wire.retryAfterMs }),
      ...(options ?? {}),
    });
  } else {
    // Own keys only: a name like 'constructor' must not pick up Object's.
    const builtIn = Object.hasOwn(BUILT_IN_ERRORS, wire.name) ? BUILT_IN_ERRORS[wire.name] : undefined;
    error = new (builtIn ?? Error)(wire.message, options);
    if (error.name !== wire.name) error.name = wire.name;
  }
  // The stack of the throw site on the other thread: where an operator has to look.
  if (wire.stack !== undefined) error.stack = wire.stack;
  return error;
}
