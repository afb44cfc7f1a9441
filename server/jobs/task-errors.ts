// Errors from workers and the data layer → JobError, so rpc/ can answer with the right status.
// Class identity does not survive the thread boundary, so this goes by the data layer's codes.
import { WorkerTaskError } from './worker-pool.js';
import { JobError } from './types.js';

interface CodedError {
  readonly code?: unknown;
  readonly message: string;
  readonly violations?: readonly { readonly field: string; readonly description: string }[];
}

/** The JobError a data or task failure stands for; other errors pass through unchanged. */
export function toJobError(error: unknown): unknown {
  if (error instanceof JobError) return error;
  const coded: CodedError | undefined =
    error instanceof WorkerTaskError ? error.failure : error instanceof Error ? (error as Error & CodedError) : undefined;
  switch (coded?.code) {
    case 'DATASET_INVALID':
      return new JobError('invalid_argument', coded.message, coded.violations ?? []);
    case 'DATASET_NOT_FOUND':
      return new JobError('not_found', coded.message);
    case 'DATASET_UNAVAILABLE':
      return new JobError('failed_precondition', coded.message);
    default:
      return error;
  }
}
