// The durable service in one process: SQLite store and log, checkpoint files, real workers.
// A shutdown suspends a running job (not FAILED); a second service on the same files resumes
// it from its checkpoint to the weights an uninterrupted run gets, with a dense log in which
// every step appears once. Jobs caught CANCELLING or past their runtime end as they should.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DirectoryCheckpointFiles } from '../../server/jobs/persistence/checkpoint-files.js';
import { EmbeddedJobService } from '../../server/jobs/job-service.js';
import { openJobDatabase, type SqliteDatabase } from '../../server/jobs/persistence/sqlite-database.js';
import { SqliteEventLog } from '../../server/jobs/persistence/sqlite-event-log.js';
import { SqliteJobStore } from '../../server/jobs/persistence/sqlite-store.js';
import { WorkerPool } from '../../server/jobs/worker-pool.js';
import type { JobEvent, JobLogger, JobSpec, StartJobCommand } from '../../server/jobs/types.js';
import { smallJobSpec } from '../fixtures/job-spec.js';

const print =
  (level: string) =>
  (message: string, fields?: Readonly<Record<string, unknown>>): void =>
    void process.stderr.write(`${level} ${message} ${JSON.stringify(fields ?? {})}\n`);
// STEADYTUNE_TEST_LOG_LEVEL set: the service's logs go to stderr while debugging.
const quiet: JobLogger =
  process.env['STEADYTUNE_TEST_LOG_LEVEL'] === undefined
    ? { info: () => {}, warn: () => {}, error: () => {} }
    : { info: print('info'), warn: print('warn'), error: print('error') };
const TENANT = 'tenant-d';

// Enough steps (8 x 60) that the shutdown lands mid-run even when the events the test waits on
// lag the worker on a loaded machine (with 2 epochs the job once ended first, at load 13).
const EPOCHS = 8;
const SPEC: JobSpec = smallJobSpec({
  train: { maxExamples: 960 },
  validation: { maxExamples: 100 },
  run: {
    model: { family: 'mlp', hiddenUnits: [16], dropout: 0.2 },
    optimizer: { kind: 'adamw', learningRate: 0.003, weightDecay: 0.01, warmupFraction: 0.1, lrSchedule: 'linear', clipNorm: 1 },
    batchSize: 16,
    epochs: EPOCHS,
  },
  seeds: [5],
  ensemble: true,
});

function command(spec: JobSpec = SPEC): StartJobCommand {
  return { tenant: TENANT, spec, requestSpec: {}, idempotencyKey: '', displayName: 'durable', labels: {} };
}

async function collect(events: AsyncIterable<JobEvent>, until?: (event: JobEvent) => boolean): Promise<JobEvent[]> {
  const seen: JobEvent[] = [];
  for await (const event of events) {
    seen.push(event);
    if (until?.(event) === true) break;
  }
  return seen;
}

/** Retries `check` for up to two seconds: for what follows the terminal event asynchronously. */
async function eventually(check: () => Promise<void>): Promise<void> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await check();
    } catch (error) {
      if (attempt >= 40) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

const stepsOf = (events: readonly JobEvent[]): number[] => events.flatMap((e) => (e.body.kind === 'step' ? [e.body.step.step] : []));
const statesOf = (events: readonly JobEvent[]): string[] => events.flatMap((e) => (e.body.kind === 'state_changed' ? [e.body.state] : []));

describe('EmbeddedJobService with durability', { timeout: 180_000 }, () => {
  let dir = '';
  const databases: SqliteDatabase[] = [];
  const services: EmbeddedJobService[] = [];

  /** A service over the shared files, as one server process would build it. */
  async function startService(): Promise<{ service: EmbeddedJobService; db: SqliteDatabase }> {
    const db = openJobDatabase(path.join(dir, 'steadytune.db'));
    databases.push(db);
    const service = new EmbeddedJobService({
      store: new SqliteJobStore(db),
      eventLog: new SqliteEventLog(db, { clock: Date.now }),
      pool: new WorkerPool({ size: 1, config: { backendPreference: 'cpu' }, logger: quiet }),
      modelDir: path.join(dir, 'models'),
      clock: Date.now,
      logger: quiet,
      durability: { checkpoints: new DirectoryCheckpointFiles(path.join(dir, 'checkpoints'), 2), checkpointEverySteps: 7 },
    });
    services.push(service);
    await service.startWorkers();
    return { service, db };
  }

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'steadytune-durable-'));
  });
  after(async () => {
    // Also after a failed assertion: live worker threads would keep the test process alive.
    await Promise.all(services.map((service) => service.shutdown()));
    for (const db of databases) if (db.open) db.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('shutdown suspends; the next service resumes from the checkpoint to the uninterrupted weights', async () => {
    const first = await startService();
    const { job } = await first.service.start(command());
    await collect(
      first.service.events(TENANT, job.id, 0, new AbortController().signal),
      (e) => e.body.kind === 'step' && e.body.step.step === 24,
    );
    await first.service.shutdown();
    first.db.close();

    const second = await startService();
    const suspended = await second.service.get(TENANT, job.id);
    assert.equal(suspended.state, 'RUNNING', 'suspended, not failed');
    const checkpointStep = suspended.runs[0]?.checkpointStep ?? assert.fail('no checkpoint recorded');
    assert.ok(checkpointStep >= 24, `checkpointed at its next step (${checkpointStep})`);
    const events = await collect(second.service.events(TENANT, job.id, 0, new AbortController().signal));
    assert.deepEqual(
      events.map((e) => e.sequence),
      events.map((_, i) => i + 1),
    );
    assert.deepEqual(statesOf(events), ['QUEUED', 'RUNNING', 'SUCCEEDED']);
    const totalSteps = EPOCHS * (960 / 16);
    assert.deepEqual(
      stepsOf(events),
      Array.from({ length: totalSteps }, (_, i) => i + 1),
      'every step once',
    );
    assert.equal(events.filter((e) => e.body.kind === 'run_started').length, 1);
    assert.equal(events.filter((e) => e.body.kind === 'epoch').length, EPOCHS);
    assert.ok(
      events.some((e) => e.body.kind === 'notice' && e.body.message.includes(`resuming from the checkpoint at step ${checkpointStep}`)),
    );
    const done = await second.service.get(TENANT, job.id);
    assert.equal(done.state, 'SUCCEEDED');
    assert.ok(done.summary?.ensemble !== undefined, 'the ensemble vote has its labels after a restart');
    await eventually(async () => {
      await assert.rejects(readdir(path.join(dir, 'checkpoints', job.id)), 'checkpoints go once the job has ended');
    });

    // The same seed without interruption: the same bytes.
    const { job: straight } = await second.service.start(command());
    await collect(second.service.events(TENANT, straight.id, 0, new AbortController().signal));
    const weights = (id: string) => readFile(path.join(dir, 'models', id, 'seed-5', 'weights.bin'));
    assert.ok((await weights(job.id)).equals(await weights(straight.id)), 'resumed weights equal uninterrupted ones');
    await second.service.shutdown();
    second.db.close();
  });

  test('a job left CANCELLING ends CANCELLED on the next start, and one past its runtime FAILS', async () => {
    const db = openJobDatabase(path.join(dir, 'steadytune.db'));
    const store = new SqliteJobStore(db);
    const log = new SqliteEventLog(db, { clock: Date.now });
    const { job: cancelling } = await store.create(command(), Date.now());
    await log.append(cancelling.id, 0, { kind: 'state_changed', state: 'QUEUED', reason: '' });
    await store.transition(cancelling.id, { from: ['QUEUED'], to: 'RUNNING', time: Date.now(), reason: '' });
    await store.transition(cancelling.id, { from: ['RUNNING'], to: 'CANCELLING', time: Date.now(), reason: 'cancelled by request' });
    const { job: overdue } = await store.create(command({ ...SPEC, maxRuntimeMs: 5_000 }), Date.now());
    await store.transition(overdue.id, { from: ['QUEUED'], to: 'RUNNING', time: Date.now(), reason: '' });
    await store.setRuntime(overdue.id, 5_000);
    db.close();

    const { service, db: reopened } = await startService();
    const cancelled = await collect(service.events(TENANT, cancelling.id, 0, new AbortController().signal));
    assert.deepEqual(statesOf(cancelled), ['QUEUED', 'CANCELLED']);
    assert.equal(stepsOf(cancelled).length, 0, 'no step trained');
    const final = await service.get(TENANT, cancelling.id);
    assert.deepEqual([final.state, final.reason, final.runs[0]?.state], ['CANCELLED', 'cancelled by request', 'CANCELLED']);

    const failed = await collect(service.events(TENANT, overdue.id, 0, new AbortController().signal));
    assert.deepEqual(statesOf(failed).at(-1), 'FAILED');
    assert.match((await service.get(TENANT, overdue.id)).reason, /maximum runtime/);
    await service.shutdown();
    reopened.close();
  });

  test('what a crash left half-recorded is completed: a missing run_finished, a missing terminal event', async () => {
    const db = openJobDatabase(path.join(dir, 'steadytune.db'));
    const store = new SqliteJobStore(db);
    const log = new SqliteEventLog(db, { clock: Date.now });
    // Died after storing its one run as FAILED, before logging it.
    const { job: runEnded } = await store.create(command(), Date.now());
    await log.append(runEnded.id, 0, { kind: 'state_changed', state: 'QUEUED', reason: '' });
    await store.transition(runEnded.id, { from: ['QUEUED'], to: 'RUNNING', time: Date.now(), reason: '' });
    await log.append(runEnded.id, 0, { kind: 'state_changed', state: 'RUNNING', reason: '' });
    await store.putRun(runEnded.id, {
      seed: 5,
      state: 'FAILED',
      steps: 0,
      totalSteps: 0,
      meanStepSeconds: 0,
      durationMs: 0,
      error: 'boom',
    });
    // Died after the terminal transition, before its event.
    const { job: ended } = await store.create(command(), Date.now());
    await log.append(ended.id, 0, { kind: 'state_changed', state: 'QUEUED', reason: '' });
    await store.transition(ended.id, { from: ['QUEUED'], to: 'CANCELLED', time: Date.now(), reason: 'asked' });
    db.close();

    const { service, db: reopened } = await startService();
    const events = await collect(service.events(TENANT, runEnded.id, 0, new AbortController().signal));
    assert.deepEqual(
      events.filter((e) => e.body.kind === 'run_finished').map((e) => e.seed),
      [5],
    );
    assert.deepEqual(statesOf(events), ['QUEUED', 'RUNNING', 'FAILED']);
    assert.match((await service.get(TENANT, runEnded.id)).reason, /all 1 runs failed; seed 5: boom/);
    const closed = await collect(service.events(TENANT, ended.id, 0, new AbortController().signal));
    assert.deepEqual(statesOf(closed), ['QUEUED', 'CANCELLED'], 'the stream ends');
    await service.shutdown();
    reopened.close();
  });
});
