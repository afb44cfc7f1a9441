// Domain errors of the data layer. They carry codes and field violations but know nothing
// of gRPC: the rpc layer maps DATASET_INVALID to INVALID_ARGUMENT + google.rpc.BadRequest,
// DATASET_NOT_FOUND to NOT_FOUND and DATASET_UNAVAILABLE to FAILED_PRECONDITION.

/** One problem in the input; `field` names the row and column, e.g. `rows[12].label`. */
export interface FieldViolation {
  readonly field: string;
  readonly description: string;
}

export class DatasetValidationError extends Error {
  readonly code = 'DATASET_INVALID';
  override readonly name = 'DatasetValidationError';

  constructor(
    message: string,
    readonly violations: readonly FieldViolation[],
    /** Violations found but not listed (the list is capped to keep error details small). */
    readonly omittedViolations = 0,
  ) {
    super(message);
  }
}

export class DatasetNotFoundError extends Error {
  readonly code = 'DATASET_NOT_FOUND';
  override readonly name = 'DatasetNotFoundError';

  constructor(readonly datasetId: string) {
    super(`dataset ${JSON.stringify(datasetId)} is not registered`);
  }
}

/** A built-in dataset whose files or package are not installed on this host. */
export class DatasetUnavailableError extends Error {
  readonly code = 'DATASET_UNAVAILABLE';
  override readonly name = 'DatasetUnavailableError';
}

export type DataError = DatasetValidationError | DatasetNotFoundError | DatasetUnavailableError;

/**
 * Gathers violations across a whole read so the caller sees every problem at once.
 * Capped because gRPC trailers (where BadRequest travels) are limited to about 8 KiB.
 */
export class ViolationCollector {
  private readonly listed: FieldViolation[] = [];
  private total = 0;

  constructor(private readonly maxListed = 50) {}

  add(field: string, description: string): void {
    this.total += 1;
    if (this.listed.length < this.maxListed) this.listed.push({ field, description });
  }

  get count(): number {
    return this.total;
  }

  /** Throws a DatasetValidationError when anything was collected. */
  throwIfAny(message: string): void {
    if (this.total === 0) return;
    const omitted = this.total - this.listed.length;
    const summary = `${message}: ${this.total} problem${this.total === 1 ? '' : 's'}, first: ` +
      `${this.listed[0]?.field}: ${this.listed[0]?.description}`;
    throw new DatasetValidationError(summary, [...this.listed], omitted);
  }
}
