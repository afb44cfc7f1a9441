// Checkpoint files: atomic writes of the codec's bytes, the newest k kept, a damaged newest file
// skipped for the one before it, and nothing newer than the step the event log covers handed out.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeCheckpoint } from '../../server/jobs/checkpoint-codec.js';
import { DirectoryCheckpointFiles } from '../../server/jobs/persistence/checkpoint-files.js';
import type { TrainerCheckpoint } from '../../server/engine/types.js';

const root = mkdtempSync(path.join(tmpdir(), 'steadytune-ckpt-'));
const JOB = 'job-1';

function checkpoint(step: number): TrainerCheckpoint {
  return {
    step,
    totalSteps: 100,
    epoch: Math.floor(step / 10),
    stepInEpoch: step % 10,
    microBatch: step,
    secondsTotal: step / 10,
    weights: [{ name: 'w', shape: [2], values: Float32Array.from([step, -step]) }],
    optimizer: { kind: 'adamw', updates: step, slots: [{ name: 'w/first', shape: [2], values: Float32Array.from([0.5, Number.NaN]) }] },
  };
}

describe('DirectoryCheckpointFiles', () => {
  after(() => rm(root, { recursive: true, force: true }));
  const seedDir = (seed: number): string => path.join(root, JOB, `seed-${seed}`);

  test('keeps the newest k per run and reads them back exactly', async () => {
    const files = new DirectoryCheckpointFiles(root, 2);
    for (const step of [5, 10, 15]) await files.save(JOB, 1, step, encodeCheckpoint(checkpoint(step)));
    await files.save(JOB, 2, 7, encodeCheckpoint(checkpoint(7)));
    assert.deepEqual(await readdir(seedDir(1)), ['step-000000010.ckpt', 'step-000000015.ckpt']);
    assert.deepEqual(await files.latest(JOB, 1, 100), checkpoint(15));
    assert.deepEqual((await files.latest(JOB, 2, 100))?.step, 7);
    assert.equal(await files.latest(JOB, 3, 100), undefined);
  });

  test('hands out nothing past maxStep, and skips a damaged file for the one before', async () => {
    const files = new DirectoryCheckpointFiles(root, 3);
    for (const step of [20, 25, 30]) await files.save(JOB, 4, step, encodeCheckpoint(checkpoint(step)));
    assert.equal((await files.latest(JOB, 4, 29))?.step, 25);
    assert.equal(await files.latest(JOB, 4, 19), undefined);
    const newest = path.join(seedDir(4), 'step-000000030.ckpt');
    const bytes = await readFile(newest);
    bytes[bytes.length - 3] = (bytes[bytes.length - 3] ?? 0) ^ 0xff;
    await writeFile(newest, bytes);
    assert.equal((await files.latest(JOB, 4, 100))?.step, 25, 'the checksum catches the flipped byte');
  });

  test('removes leftovers of interrupted writes, and everything of a job on remove', async () => {
    const files = new DirectoryCheckpointFiles(root, 2);
    await files.save(JOB, 5, 1, encodeCheckpoint(checkpoint(1)));
    await writeFile(path.join(seedDir(5), 'step-000000002.ckpt.0a1b2c.tmp'), 'half a file');
    assert.equal((await files.latest(JOB, 5, 100))?.step, 1);
    assert.deepEqual(await readdir(seedDir(5)), ['step-000000001.ckpt']);
    await files.remove(JOB);
    await assert.rejects(readdir(path.join(root, JOB)));
    assert.throws(() => new DirectoryCheckpointFiles(root, 0), /kept must be an integer >= 1/);
    await assert.rejects(files.save('../escape', 1, 1, encodeCheckpoint(checkpoint(1))), /unsafe checkpoint path/);
  });
});
