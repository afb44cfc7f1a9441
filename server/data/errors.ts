// The data layer's errors are the common ServiceError: INVALID_ARGUMENT with field violations
// for bad input, NOT_FOUND for an unknown dataset id, FAILED_PRECONDITION for a built-in whose
// files or package are not installed here (retrying does not help; installing does).
import { ServiceError } from '../common/errors.js';
import type { FieldViolation } from '../common/errors.js';

export function datasetNotFound(datasetId: string): ServiceError {
  return new ServiceError('NOT_FOUND', `dataset ${JSON.stringify(datasetId)} is not registered`);
}

/** A dataset whose files, package or stored content cannot be used on this host. */
export function datasetUnavailable(message: string): ServiceError {
  return new ServiceError('FAILED_PRECONDITION', message);
}

/**
 * Gathers violations across a whole read so the caller sees every problem at once.
 * Capped because gRPC trailers (where BadRequest travels) are limited to about 8 KiB; the
 * message still counts every problem found.
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

  /** Throws INVALID_ARGUMENT listing the collected violations, when there are any. */
  throwIfAny(message: string): void {
    if (this.total === 0) return;
    const summary =
      `${message}: ${this.total} problem${this.total === 1 ? '' : 's'}, first: ` +
      `${this.listed[0]?.field}: ${this.listed[0]?.description}`;
    throw ServiceError.invalidArgument(summary, [...this.listed]);
  }
}
