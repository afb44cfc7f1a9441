// Writes that a crash cannot tear: temp file, fsync, rename over the target, fsync the folder.
// A reader (or a restarted server) sees the old file or the new one, never half of one. A full
// or failing disk surfaces as storage-faults.ts's retryable ServiceError naming what was written.
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { storageError } from '../storage-faults.js';

/** Temp files of writes a crash interrupted end in this; readers skip them, cleanups remove them. */
export const TEMP_SUFFIX = '.tmp';

/** @param what the thing written, for the error a full disk gives (e.g. 'a checkpoint') */
export async function writeAtomically(target: string, data: Uint8Array, what: string): Promise<void> {
  try {
    await writeThenRename(target, data);
  } catch (error) {
    throw storageError(error, what);
  }
}

async function writeThenRename(target: string, data: Uint8Array): Promise<void> {
  const temp = `${target}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`;
  try {
    const file = await open(temp, 'w');
    try {
      await file.writeFile(data);
      // Durable before it becomes visible: a crash leaves the old file or the new one, never a torn one.
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  // The rename itself lives in the folder's entry list: without this, power loss may undo it.
  await syncDirectory(path.dirname(target));
}

export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
