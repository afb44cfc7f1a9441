// Writes the storage refused: a full disk (ENOSPC, SQLITE_FULL) or a failing or read-only one
// (EIO, EROFS, SQLITE_IOERR...). Persistence turns them into ServiceErrors with a retryable code
// and a RetryInfo delay (storageError), so a client is told to come back instead of seeing
// INTERNAL; the jobs layer recognises them (storageFaultOf) to end a job whose record can no
// longer be written, and reports every one to a StorageFaultListener (the metrics, in the
// composition root). Nothing here retries: the disk frees up when an operator acts.
import { ServiceError } from '../common/errors.js';

/** Why a write failed, as bounded metric labels: the disk was full, or it failed otherwise. */
export type StorageFaultCause = 'no_space' | 'io_error';

export interface StorageFault {
  readonly cause: StorageFaultCause;
  /** The code the OS or SQLite gave (ENOSPC, SQLITE_FULL, ...). */
  readonly code: string;
  /** The original message, for notices and logs (no paths: Node's include the file name, dropped here). */
  readonly detail: string;
}

/** What a job wrote when it failed: its record (store, event log), a checkpoint, or a seed model. */
export type StorageTarget = 'job_store' | 'checkpoint' | 'model';

/** The port the metrics implement; jobs report each failed write they see. Must not throw. */
export interface StorageFaultListener {
  writeFailed(target: StorageTarget, cause: StorageFaultCause | 'other'): void;
}

export const IGNORE_STORAGE_FAULTS: StorageFaultListener = { writeFailed: () => {} };

/** How long a client should wait before retrying a call the full storage refused. */
export const STORAGE_RETRY_AFTER_MS = 30_000;

const NO_SPACE_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);
const IO_ERROR_CODES = new Set(['EIO', 'EROFS', 'SQLITE_READONLY', 'SQLITE_CANTOPEN']);
// Causes are few levels deep (ServiceError -> SqliteError); a cycle must not loop forever.
const MAX_CAUSE_DEPTH = 4;

/** The storage fault behind an error (it, or one of its causes), if it is one. */
export function storageFaultOf(error: unknown): StorageFault | undefined {
  let current: unknown = error;
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH && current instanceof Error; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') {
      const cause = causeOf(code);
      if (cause !== undefined) return { cause, code, detail: withoutPath(current.message) };
    }
    current = current.cause;
  }
  return undefined;
}

/**
 * A storage fault as the ServiceError a caller sees (RESOURCE_EXHAUSTED when the disk is full,
 * UNAVAILABLE when it fails, both with a RetryInfo delay); any other error as it is.
 * @param what the thing that could not be written, e.g. 'the job store'
 */
export function storageError(error: unknown, what: string): unknown {
  if (error instanceof ServiceError) return error;
  const fault = storageFaultOf(error);
  if (fault === undefined) return error;
  const options = { retryAfterMs: STORAGE_RETRY_AFTER_MS, cause: error };
  return fault.cause === 'no_space'
    ? new ServiceError(
        'RESOURCE_EXHAUSTED',
        `the server's storage is full: ${what} could not be written (${fault.code}); retry once space is freed`,
        options,
      )
    : new ServiceError('UNAVAILABLE', `the server's storage failed: ${what} could not be written (${fault.code}); retry later`, options);
}

/** Runs a synchronous write, turning a storage fault it throws into storageError's. */
export function writingTo<T>(what: string, write: () => T): T {
  try {
    return write();
  } catch (error) {
    throw storageError(error, what);
  }
}

/** "SQLITE_FULL: database or disk is full", "ENOSPC: no space left on device, write". */
export function describeFault(fault: StorageFault): string {
  return fault.detail.startsWith(fault.code) ? fault.detail : `${fault.code}: ${fault.detail}`;
}

/** Why a job stopped when its record could not be written: what happened, then the error. */
export function jobStoppedReason(fault: StorageFault): string {
  const what = fault.cause === 'no_space' ? 'the server ran out of disk space' : "the server's storage failed";
  return `${what}: the job's progress could not be stored (${describeFault(fault)})`;
}

function causeOf(code: string): StorageFaultCause | undefined {
  if (NO_SPACE_CODES.has(code)) return 'no_space';
  // SQLite's extended codes: SQLITE_IOERR_WRITE, SQLITE_IOERR_FSYNC, SQLITE_READONLY_DBMOVED, ...
  if (IO_ERROR_CODES.has(code) || code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_READONLY')) return 'io_error';
  return undefined;
}

/** "ENOSPC: no space left on device, open '/data/x.tmp'" -> "ENOSPC: no space left on device, open". */
function withoutPath(message: string): string {
  return message.replace(/\s*'[^']*'\s*$/, '');
}
