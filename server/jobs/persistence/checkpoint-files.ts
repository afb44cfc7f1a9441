// Trainer checkpoints on disk: <root>/<jobId>/seed-<seed>/step-<000000123>.ckpt, each written
// atomically (atomic-file.ts), the newest `keep` per run kept. Files hold checkpoint-codec.ts's
// bytes; one that fails its checksum or does not decode is skipped for the next older one.
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { TrainerCheckpoint } from '../../engine/tf-free.js';
import { TEMP_SUFFIX, writeAtomically } from './atomic-file.js';
import { decodeCheckpoint } from '../checkpoint-codec.js';
import { storageError } from '../storage-faults.js';

export interface CheckpointFiles {
  /**
   * Stores the checkpoint of `step`, encoded by encodeCheckpoint. Durable when it resolves;
   * older checkpoints of the run beyond the kept number are gone.
   */
  save(jobId: string, seed: number, step: number, encoded: Uint8Array): Promise<void>;
  /** The newest readable checkpoint of the run at or below `maxStep`, if any. */
  latest(jobId: string, seed: number, maxStep: number): Promise<TrainerCheckpoint | undefined>;
  /** Every checkpoint of the job (once it is terminal, nothing will resume it). */
  remove(jobId: string): Promise<void>;
}

/** How a durable service checkpoints its runs. */
export interface Durability {
  readonly checkpoints: CheckpointFiles;
  /** Checkpoint every n optimizer steps, besides epoch ends; 0 = epoch ends only. */
  readonly checkpointEverySteps: number;
}

const FILE_PATTERN = /^step-(\d+)\.ckpt$/;
const CHECKPOINT = 'a checkpoint';
export class DirectoryCheckpointFiles implements CheckpointFiles {
  /** @param keep newest checkpoints kept per run (>= 1): more survive a corrupted newest file. */
  constructor(
    private readonly root: string,
    private readonly keep: number,
  ) {
    if (!Number.isInteger(keep) || keep < 1) throw new Error(`checkpoints kept must be an integer >= 1, got ${keep}`);
  }

  async save(jobId: string, seed: number, step: number, encoded: Uint8Array): Promise<void> {
    if (!Number.isInteger(step) || step < 0) throw new Error(`invalid checkpoint step ${step}`);
    const dir = this.runDir(jobId, seed);
    await mkdir(dir, { recursive: true }).catch((error: unknown) => Promise.reject(storageError(error, CHECKPOINT)));
    await writeAtomically(path.join(dir, fileName(step)), encoded, CHECKPOINT);
    const stale = (await this.steps(dir)).slice(this.keep);
    await Promise.all(stale.map((step) => rm(path.join(dir, fileName(step)), { force: true })));
  }

  async latest(jobId: string, seed: number, maxStep: number): Promise<TrainerCheckpoint | undefined> {
    const dir = this.runDir(jobId, seed);
    for (const step of await this.steps(dir)) {
      if (step > maxStep) continue;
      const checkpoint = await readFile(path.join(dir, fileName(step))).then(decodeCheckpoint, () => undefined);
      if (checkpoint?.step === step) return checkpoint;
    }
    return undefined;
  }

  async remove(jobId: string): Promise<void> {
    await rm(this.jobDir(jobId), { recursive: true, force: true });
  }

  /** Checkpoint steps present, newest first; leftovers of interrupted writes are removed. */
  private async steps(dir: string): Promise<number[]> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return [];
    }
    const leftovers = names.filter((name) => name.endsWith(TEMP_SUFFIX));
    await Promise.all(leftovers.map((name) => rm(path.join(dir, name), { force: true })));
    return names
      .flatMap((name) => {
        const match = FILE_PATTERN.exec(name);
        return match === null ? [] : [Number(match[1])];
      })
      .sort((a, b) => b - a);
  }

  private jobDir(jobId: string): string {
    // Job ids come from the store (UUIDs); refuse anything that could leave the root anyway.
    if (!/^[A-Za-z0-9_-]+$/.test(jobId)) throw new Error(`unsafe checkpoint path for job ${jobId}`);
    return path.join(this.root, jobId);
  }

  private runDir(jobId: string, seed: number): string {
    if (!Number.isInteger(seed)) throw new Error(`unsafe checkpoint path for seed ${seed}`);
    return path.join(this.jobDir(jobId), `seed-${seed}`);
  }
}

function fileName(step: number): string {
  return `step-${String(step).padStart(9, '0')}.ckpt`;
}
