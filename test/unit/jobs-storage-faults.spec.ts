// Writes the storage refuses, below the RPC layer: errors are recognised and become retryable
// ServiceErrors; the SQLite store on a full database refuses creates with RESOURCE_EXHAUSTED and
// takes them again once there is room (no reopening); with real workers, refused checkpoints
// leave a job running (and say so in its log), while a refused write of the job's record stops
// it and ends it FAILED naming the cause as soon as the storage takes writes again.
// test/integration/test-disk-full.spec.ts does the same on a real full disk (tmpfs).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hasCode, ServiceError } from '../../server/common/errors.js';
import type { EventLog } from '../../server/jobs/event-log.js';
import { EmbeddedJobService } from '../../server/jobs/job-service.js';
import type { CheckpointFiles } from '../../server/jobs/persistence/checkpoint-files.js';
import { openJobDatabase } from '../../server/jobs/persistence/sqlite-database.js';
import { SqliteJobStore } from '../../server/jobs/persistence/sqlite-store.js';
import { STORAGE_RETRY_AFTER_MS, storageError, storageFaultOf } from '../../server/jobs/storage-faults.js';
import type { JobStore } from '../../server/jobs/store.js';
import type { JobEvent, JobLogger, JobSpec, StartJobCommand } from '../../server/jobs/types.js';
import { WorkerPool } from '../../server/jobs/worker-pool.js';
import { smallJobSpec } from '../fixtures/job-spec.js';
import {
  eventLogOn,
  FillableDisk,
  noSpaceError,
  RecordedStorageFaults,
  RefusingCheckpoints,
  storeOn,
} from '../fixtures/storage-fault-fixtures.js';

const quiet: JobLogger = { info: () => {}, warn: () => {}, error: () => {} };
const TENANT = 'tenant-s';

function command(spec: JobSpec): StartJobCommand {
  return { tenant: TENANT, spec, requestSpec: {}, idempotencyKey: '', displayName: 'storage', labels: {} };
}

/** 240 digits in batches of 16: 15 steps an epoch. */
function spec(epochs: number): JobSpec {
  return smallJobSpec({ train: { maxExamples: 240 }, validation: { maxExamples: 50 }, run: { batchSize: 16, epochs }, seeds: [1] });
}

async function collect(events: AsyncIterable<JobEvent>): Promise<JobEvent[]> {
  const seen: JobEvent[] = [];
  for await (const event of events) seen.push(event);
  return seen;
}

const noticesOf = (events: readonly JobEvent[]): string[] => events.flatMap((e) => (e.body.kind === 'notice' ? [e.body.message] : []));

describe('storage faults are recognised', () => {
  test('a full disk, a failing one, and their causes wrapped in service errors', () => {
    assert.equal(storageFaultOf(noSpaceError())?.cause, 'no_space');
    assert.equal(storageFaultOf(noSpaceError())?.detail, 'ENOSPC: no space left on device, write', 'no path');
    assert.equal(storageFaultOf(Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }))?.cause, 'no_space');
    assert.equal(storageFaultOf(Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' }))?.cause, 'io_error');
    assert.equal(storageFaultOf(Object.assign(new Error('read-only file system'), { code: 'EROFS' }))?.cause, 'io_error');
    assert.equal(storageFaultOf(new ServiceError('INTERNAL', 'wrapped', { cause: noSpaceError() }))?.code, 'ENOSPC');
    assert.equal(storageFaultOf(Object.assign(new Error('not found'), { code: 'ENOENT' })), undefined);
    assert.equal(storageFaultOf(new ServiceError('RESOURCE_EXHAUSTED', 'a cap, not a disk')), undefined);
  });

  test('as errors a caller sees: RESOURCE_EXHAUSTED or UNAVAILABLE with a retry delay; others unchanged', () => {
    const full = storageError(noSpaceError(), 'the job store');
    assert.ok(hasCode(full, 'RESOURCE_EXHAUSTED'));
    assert.equal(full.retryAfterMs, STORAGE_RETRY_AFTER_MS);
    assert.match(full.message, /storage is full: the job store could not be written \(ENOSPC\)/);
    assert.doesNotMatch(full.message, /\/data/, 'no server paths for clients');
    assert.ok(hasCode(storageError(Object.assign(new Error('disk I/O error'), { code: 'EIO' }), 'a checkpoint'), 'UNAVAILABLE'));
    const other = new Error('something else');
    assert.equal(storageError(other, 'the job store'), other);
  });
});

describe('the SQLite store on a full database', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'steadytune-full-db-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('refuses creates with RESOURCE_EXHAUSTED, then takes them again once there is room', async () => {
    const db = openJobDatabase(path.join(dir, 'full.db'));
    const store = new SqliteJobStore(db);
    try {
      await store.create(command(spec(1)), 1);
      // The file may not grow: SQLite answers SQLITE_FULL as on a full disk.
      db.pragma(`max_page_count = ${Number(db.pragma('page_count', { simple: true }))}`);
      let refusal: unknown;
      for (let i = 0; i < 1000 && refusal === undefined; i += 1)
        await store.create(command(spec(1)), 2).catch((error: unknown) => (refusal = error));
      assert.ok(hasCode(refusal, 'RESOURCE_EXHAUSTED'), String(refusal));
      assert.equal(refusal.retryAfterMs, STORAGE_RETRY_AFTER_MS);
      assert.equal(storageFaultOf(refusal)?.code, 'SQLITE_FULL');
      const before = await store.countActive();
      db.pragma('max_page_count = 1073741823');
      const { created } = await store.create(command(spec(1)), 3);
      assert.equal(created, true);
      assert.equal(await store.countActive(), before + 1);
    } finally {
      db.close();
    }
  });
});

describe('jobs on storage that fills up (real workers)', { timeout: 180_000 }, () => {
  let modelDir = '';
  const pool = new WorkerPool({ size: 1, config: { backendPreference: 'cpu' }, logger: quiet });

  function serviceOn(store: JobStore, eventLog: EventLog, checkpoints: CheckpointFiles, faults: RecordedStorageFaults): EmbeddedJobService {
    // The services share the pool, started once; their executions end within each test.
    return new EmbeddedJobService({
      store,
      eventLog,
      pool,
      modelDir,
      clock: Date.now,
      logger: quiet,
      storageFaults: faults,
      durability: { checkpoints, checkpointEverySteps: 5 },
    });
  }

  before(async () => {
    modelDir = await mkdtemp(path.join(tmpdir(), 'steadytune-faults-'));
    await pool.start();
  });
  after(async () => {
    await pool.close();
    await rm(modelDir, { recursive: true, force: true });
  });

  test('refused checkpoints: the run trains on, its log says it is unprotected and when it is again', async () => {
    const faults = new RecordedStorageFaults();
    const disk = new FillableDisk();
    const checkpoints = new RefusingCheckpoints(new Set([2, 3]));
    const service = serviceOn(storeOn(disk), eventLogOn(disk), checkpoints, faults);
    const { job } = await service.start(command(spec(2)));
    const events = await collect(service.events(TENANT, job.id, 0, new AbortController().signal));

    const done = await service.get(TENANT, job.id);
    assert.equal(done.state, 'SUCCEEDED', done.reason);
    const [, firstRefused, , restored] = checkpoints.saves;
    assert.ok(firstRefused?.refused === true && restored?.refused === false, JSON.stringify(checkpoints.saves));
    const unprotected = `checkpoint at step ${firstRefused.step} (seed 1) not written: ENOSPC: no space left on device, write; running without crash protection since`;
    const protectedAgain = `checkpoint at step ${restored.step} (seed 1) written: crash protection restored`;
    assert.deepEqual(
      noticesOf(events).filter((n) => n.startsWith('checkpoint')),
      [unprotected, protectedAgain],
      'one notice for the streak of two',
    );
    assert.ok(done.notices.includes(unprotected) && done.notices.includes(protectedAgain));
    assert.equal(faults.count('checkpoint', 'no_space'), 2);
  });

  test('a refused write of the job record: the run stops, and the job ends FAILED naming the cause once the disk has room', async () => {
    const faults = new RecordedStorageFaults();
    const disk = new FillableDisk();
    const service = serviceOn(storeOn(disk), eventLogOn(disk), new RefusingCheckpoints(new Set()), faults);
    disk.fillAtStep = 10;
    const { job } = await service.start(command(spec(20)));
    const following = collect(service.events(TENANT, job.id, 0, new AbortController().signal));

    await faults.first('job_store');
    // Nothing can be written meanwhile, StartFineTune included: it is told to come back later.
    const refused = await service.start(command(spec(1))).catch((error: unknown) => error);
    assert.ok(hasCode(refused, 'RESOURCE_EXHAUSTED') && refused.retryAfterMs !== undefined, String(refused));
    // The run stops training instead of going on unrecorded (300 steps were left).
    for (let i = 0; i < 600 && pool.busyWorkers() > 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(pool.busyWorkers(), 0, 'the run stopped');

    disk.full = false;
    const events = await following;
    const ended = await service.get(TENANT, job.id);
    assert.equal(ended.state, 'FAILED');
    assert.match(ended.reason, /ran out of disk space: the job's progress could not be stored \(ENOSPC: no space left on device, write\)/);
    assert.equal(ended.runs[0]?.state, 'FAILED');
    assert.equal(ended.runs[0]?.error, ended.reason);
    const last = events.at(-1)?.body;
    assert.ok(last?.kind === 'state_changed' && last.state === 'FAILED', 'the log closes with the end');
    const steps = events.flatMap((e) => (e.body.kind === 'step' ? [e.body.step.step] : []));
    assert.deepEqual(
      steps,
      steps.map((_, i) => i + 1),
      'no gaps: nothing logged after the first refused write',
    );
    assert.ok(faults.count('job_store', 'no_space') >= 1);

    // The server carries on: the next job trains to the end.
    const next = await service.start(command(spec(1)));
    await collect(service.events(TENANT, next.job.id, 0, new AbortController().signal));
    assert.equal((await service.get(TENANT, next.job.id)).state, 'SUCCEEDED');
  });
});
