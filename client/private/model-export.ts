// Writes an ExportModel stream to a directory (the bundle, docs/MODEL-BUNDLE.md), checking as
// it goes that each file arrives whole and in order, and at the end that every file matches the
// sha256 the run card gives it. A broken bundle is refused naming the file.
import { createHash, type Hash } from 'node:crypto';
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { ExportModelResponse } from '../gen/steadytune/v1/trainer.js';
import { SteadytuneError } from './errors.js';

export const RUN_CARD_FILE = 'run-card.json';

export interface ExportedFile {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface ExportedBundle {
  readonly dir: string;
  readonly files: readonly ExportedFile[];
  /** Bytes of every file together. */
  readonly totalBytes: number;
}

/** Bundle paths are relative and plain: names of [A-Za-z0-9_.-], no '.' or '..' segments. */
const SAFE_PATH = /^(?!\.{1,2}(?:\/|$))[A-Za-z0-9_.-]+(?:\/(?!\.{1,2}(?:\/|$))[A-Za-z0-9_.-]+)*$/;

export function bundleError(details: string): SteadytuneError {
  return new SteadytuneError({ code: GrpcStatus.DATA_LOSS, details });
}

interface OpenFile {
  readonly path: string;
  readonly handle: FileHandle;
  readonly hash: Hash;
  bytes: number;
}

export async function writeBundle(chunks: AsyncIterable<ExportModelResponse>, dir: string): Promise<ExportedBundle> {
  await mkdir(dir, { recursive: true });
  const files: ExportedFile[] = [];
  let current: OpenFile | undefined;
  try {
    for await (const chunk of chunks) {
      if (current === undefined) {
        if (!SAFE_PATH.test(chunk.path)) throw bundleError(`the server sent an unsafe bundle path '${chunk.path}'`);
        if (files.some((file) => file.path === chunk.path)) throw bundleError(`the server sent ${chunk.path} twice`);
        const target = path.join(dir, ...chunk.path.split('/'));
        await mkdir(path.dirname(target), { recursive: true });
        current = { path: chunk.path, handle: await open(target, 'w'), hash: createHash('sha256'), bytes: 0 };
      }
      if (chunk.path !== current.path || chunk.offset !== current.bytes) {
        throw bundleError(`${current.path} is incomplete: expected its bytes from ${current.bytes}, got ${chunk.path} at ${chunk.offset}`);
      }
      await current.handle.write(chunk.data);
      current.hash.update(chunk.data);
      current.bytes += chunk.data.byteLength;
      if (chunk.last) {
        await current.handle.close();
        files.push({ path: current.path, bytes: current.bytes, sha256: current.hash.digest('hex') });
        current = undefined;
      }
    }
  } finally {
    await current?.handle.close();
  }
  if (current !== undefined) throw bundleError(`the stream ended inside ${current.path}`);
  await verifyBundle(dir, files);
  return { dir, files, totalBytes: files.reduce((total, file) => total + file.bytes, 0) };
}

/** Every file the run card names is present with its sha256; no other file came along. */
export async function verifyBundle(dir: string, files: readonly ExportedFile[]): Promise<void> {
  if (!files.some((file) => file.path === RUN_CARD_FILE)) throw bundleError(`the bundle has no ${RUN_CARD_FILE}`);
  const card = JSON.parse(await readFile(path.join(dir, RUN_CARD_FILE), 'utf8')) as { contentHashes?: Record<string, string> };
  const expected = card.contentHashes ?? {};
  for (const file of files) {
    if (file.path === RUN_CARD_FILE) continue;
    if (expected[file.path] === undefined) throw bundleError(`${file.path} is not listed in ${RUN_CARD_FILE}`);
    if (expected[file.path] !== file.sha256) throw bundleError(`${file.path} does not match its sha256 in ${RUN_CARD_FILE}`);
  }
  for (const listed of Object.keys(expected)) {
    if (!files.some((file) => file.path === listed)) throw bundleError(`${listed} is missing from the bundle`);
  }
}
