// Reads client-named files only from inside the configured data root. Both the lexical path
// (`..` escapes) and the real path (symlinks pointing out) are checked, because a client
// names the path and the server process may be able to read far more than the data root.

import { constants, promises as fs, type Stats } from 'node:fs';
import path from 'node:path';

import type { ViolationCollector } from './errors.js';
import type { DataLimits } from './limits.js';

/** A file a dataset source refers to: a path under the data root, or uploaded bytes. */
export type FileRef = { readonly path: string } | { readonly bytes: Uint8Array };

function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

function hasErrorCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

/**
 * Returns the file's bytes, or undefined after adding a violation on `field`
 * (e.g. `path`, `validation.path`) to `violations`.
 */
export async function readConfinedFile(
  ref: FileRef,
  dataRoot: string | undefined,
  limits: DataLimits,
  field: string,
  violations: ViolationCollector,
): Promise<Uint8Array | undefined> {
  if ('bytes' in ref) {
    if (ref.bytes.byteLength > limits.maxBytes) {
      violations.add(field, `upload is ${ref.bytes.byteLength} bytes; the limit is ${limits.maxBytes}`);
      return undefined;
    }
    return ref.bytes;
  }
  const requested = ref.path;
  const real = await resolveConfinedPath(requested, dataRoot, field, violations);
  if (real === undefined) return undefined;
  // The type is checked before any open: opening a FIFO for reading blocks until a writer
  // comes, and it would block one of libuv's few file threads (every file operation of the
  // process queues behind them) for as long as none does.
  let kind: string | undefined;
  try {
    kind = nonRegularKind(await fs.lstat(real));
  } catch {
    violations.add(field, `${JSON.stringify(requested)} cannot be opened`);
    return undefined;
  }
  if (kind !== undefined) {
    violations.add(field, `${JSON.stringify(requested)} is ${kind}, not a regular file`);
    return undefined;
  }
  // O_NOFOLLOW: if the resolved path is swapped for a symlink after the checks, the open fails.
  // O_NONBLOCK: if it is swapped for a FIFO, the open returns at once instead of waiting for a
  // writer (regular files ignore the flag), and the fstat below refuses it.
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    violations.add(field, `${JSON.stringify(requested)} cannot be opened`);
    return undefined;
  }
  try {
    const stat = await handle.stat();
    const openedKind = nonRegularKind(stat);
    if (openedKind !== undefined) {
      violations.add(field, `${JSON.stringify(requested)} is ${openedKind}, not a regular file`);
      return undefined;
    }
    if (stat.size > limits.maxBytes) {
      violations.add(field, `file is ${stat.size} bytes; the limit is ${limits.maxBytes}`);
      return undefined;
    }
    const bytes = new Uint8Array(await handle.readFile());
    // The file may have grown between stat and read.
    if (bytes.byteLength > limits.maxBytes) {
      violations.add(field, `file is over the limit of ${limits.maxBytes} bytes`);
      return undefined;
    }
    return bytes;
  } finally {
    await handle.close();
  }
}

/** What a non-regular file is, in words for a violation; undefined for a regular file. */
function nonRegularKind(stat: Stats): string | undefined {
  if (stat.isFile()) return undefined;
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  if (stat.isSymbolicLink()) return 'a symbolic link';
  return 'a special file';
}

/**
 * The real path of `requested` under the data root, or undefined after adding a violation:
 * lexical `..` escapes and symlinks pointing out are both refused.
 */
export async function resolveConfinedPath(
  requested: string,
  dataRoot: string | undefined,
  field: string,
  violations: ViolationCollector,
): Promise<string | undefined> {
  if (dataRoot === undefined) {
    violations.add(field, 'reading files needs a configured data root');
    return undefined;
  }
  if (typeof requested !== 'string' || requested === '' || requested.includes('\0')) {
    violations.add(field, 'must be a non-empty path without NUL characters');
    return undefined;
  }
  const lexicalRoot = path.resolve(dataRoot);
  const lexical = path.resolve(lexicalRoot, requested);
  if (!isInside(lexicalRoot, lexical)) {
    violations.add(field, `${JSON.stringify(requested)} escapes the data root`);
    return undefined;
  }
  let realRoot: string;
  let real: string;
  try {
    realRoot = await fs.realpath(lexicalRoot);
    real = await fs.realpath(lexical);
  } catch (error) {
    const reason = hasErrorCode(error, 'ENOENT') ? 'no such file' : 'cannot be resolved';
    violations.add(field, `${JSON.stringify(requested)}: ${reason} under the data root`);
    return undefined;
  }
  if (!isInside(realRoot, real)) {
    violations.add(field, `${JSON.stringify(requested)} is a link pointing outside the data root`);
    return undefined;
  }
  return real;
}

/**
 * Names of the entries of a directory under the data root, sorted by code units, hidden ones
 * (starting with '.') left out; undefined after adding a violation on `field`.
 */
export async function listConfinedDirectory(
  requested: string,
  dataRoot: string | undefined,
  field: string,
  violations: ViolationCollector,
): Promise<Array<{ name: string; directory: boolean }> | undefined> {
  const real = await resolveConfinedPath(requested, dataRoot, field, violations);
  if (real === undefined) return undefined;
  try {
    const entries = await fs.readdir(real, { withFileTypes: true });
    return entries
      .filter((entry) => !entry.name.startsWith('.'))
      .map((entry) => ({ name: entry.name, directory: entry.isDirectory() }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (error) {
    violations.add(field, `${JSON.stringify(requested)} ${hasErrorCode(error, 'ENOTDIR') ? 'is not a directory' : 'cannot be listed'}`);
    return undefined;
  }
}
