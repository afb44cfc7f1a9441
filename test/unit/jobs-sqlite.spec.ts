// What only the SQLite store and log add to the shared contract (jobs-store.spec.ts and
// jobs-event-log.spec.ts run against both): rows survive reopening the file, the schema is
// migrated once and versioned, and a log continues at the next sequence after a restart.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { migrate, MIGRATIONS, openJobDatabase, schemaVersion } from '../../server/jobs/persistence/sqlite-database.js';
import { SqliteEventLog } from '../../server/jobs/persistence/sqlite-event-log.js';
import { SqliteJobStore } from '../../server/jobs/persistence/sqlite-store.js';
import { WalCheckpointer } from '../../server/jobs/persistence/wal-checkpointer.js';
import type { JobEvent, JobSpec } from '../../server/jobs/types.js';
import { smallJobSpec } from '../fixtures/job-spec.js';
import { sqliteFiles } from '../fixtures/jobs-persistence-fixtures.js';

const SPEC: JobSpec = smallJobSpec({
  train: { classes: [3, 5] },
  imbalance: { kind: 'long_tailed', ratio: 10, seed: 1 },
  run: {
    model: { family: 'mlp', hiddenUnits: [16], dropout: 0.1 },
    method: { kind: 'focal', gamma: 2, classWeights: undefined },
  },
  seeds: [1],
});

describe('SQLite persistence', () => {
  const files = sqliteFiles();
  after(() => files.cleanup());

  test('WAL mode, and the schema is versioned in schema_migrations', () => {
    const db = openJobDatabase(files.file());
    files.opened.push(db);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('synchronous', { simple: true }), 1, 'NORMAL');
    assert.equal(schemaVersion(db), MIGRATIONS.at(-1)?.version);
    // Applying again changes nothing.
    assert.equal(migrate(db, MIGRATIONS), MIGRATIONS.at(-1)?.version);
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get() as { n: number }).n, MIGRATIONS.length);
    // A later migration is applied once, on the next open.
    const next = [...MIGRATIONS, { version: 99, name: 'test', sql: 'CREATE TABLE extra (x INTEGER)' }];
    assert.equal(migrate(db, next), 99);
    assert.throws(() => migrate(db, MIGRATIONS), new RegExp(`schema version 99, this server knows up to ${MIGRATIONS.at(-1)?.version}`));
  });

  test('jobs, runs, typed arrays and idempotency keys survive reopening the file', async () => {
    const file = files.file();
    const db = openJobDatabase(file);
    const store = new SqliteJobStore(db);
    const { job } = await store.create(
      { tenant: 't', spec: SPEC, requestSpec: { model: 'x' }, idempotencyKey: 'k', displayName: 'n', labels: { a: 'b' } },
      10,
    );
    const metrics = { accuracy: Number.NaN, predictions: Int32Array.from([1, 0, 1]) };
    await store.putRun(job.id, {
      seed: 1,
      state: 'SUCCEEDED',
      steps: 3,
      totalSteps: 3,
      meanStepSeconds: 0.25,
      durationMs: 9,
      metrics: metrics as never,
      checkpointStep: 3,
    });
    await store.addNotice(job.id, 'fell back to cpu');
    db.close();

    const reopened = openJobDatabase(file);
    files.opened.push(reopened);
    const again = new SqliteJobStore(reopened);
    const read = await again.get('t', job.id);
    assert.deepEqual(read?.spec, SPEC, 'explicit undefined keys and all');
    assert.deepEqual(read?.requestSpec, { model: 'x' });
    assert.deepEqual(read?.labels, { a: 'b' });
    assert.deepEqual(read?.notices, ['fell back to cpu']);
    assert.deepEqual(read?.runs[0]?.metrics, metrics);
    const duplicate = await again.create(
      { tenant: 't', spec: structuredClone(SPEC), requestSpec: {}, idempotencyKey: 'k', displayName: 'n', labels: {} },
      11,
    );
    assert.deepEqual([duplicate.created, duplicate.job.id], [false, job.id]);
  });

  test('a log continues at the next sequence after a restart, and stays closed once closed', async () => {
    const file = files.file();
    const first = openJobDatabase(file);
    const log = new SqliteEventLog(first, { clock: Date.now });
    await log.append('j', 0, { kind: 'state_changed', state: 'RUNNING', reason: '' });
    await log.append('j', 3, { kind: 'notice', message: 'x' });
    await log.append('done', 0, { kind: 'state_changed', state: 'SUCCEEDED', reason: '' });
    first.close();

    const second = openJobDatabase(file);
    files.opened.push(second);
    const resumed = new SqliteEventLog(second, { clock: Date.now });
    assert.equal(await resumed.lastSequence('j'), 2);
    assert.equal((await resumed.append('j', 0, { kind: 'notice', message: 'after restart' })).sequence, 3);
    await assert.rejects(resumed.append('done', 0, { kind: 'notice', message: 'late' }), /closed/);
  });

  test('a follower sees appends made through another connection (the poll)', async () => {
    const file = files.file();
    const reader = openJobDatabase(file);
    const writer = openJobDatabase(file);
    files.opened.push(reader, writer);
    const following = new SqliteEventLog(reader, { clock: Date.now, pollMs: 20 });
    const other = new SqliteEventLog(writer, { clock: Date.now });
    const seen: JobEvent[] = [];
    const done = (async () => {
      for await (const event of following.follow('j', 0, AbortSignal.timeout(5_000))) seen.push(event);
    })();
    await nextTurn();
    await other.append('j', 0, { kind: 'notice', message: 'from elsewhere' });
    await other.append('j', 0, { kind: 'state_changed', state: 'CANCELLED', reason: '' });
    await done;
    assert.deepEqual(
      seen.map((e) => e.sequence),
      [1, 2],
    );
  });

  test('WAL checkpoints run on their own thread: the main connection never does them', async () => {
    const file = files.file();
    const db = openJobDatabase(file);
    files.opened.push(db);
    const errors: string[] = [];
    const checkpointer = new WalCheckpointer(file, db, { intervalMs: 50, onError: (message) => errors.push(message) });
    assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 0);
    const log = new SqliteEventLog(db, { clock: Date.now });
    const before = statSync(file).size;
    for (let i = 0; i < 300; i += 1) await log.append('j', 0, { kind: 'notice', message: 'x'.repeat(400) });
    // Only a checkpoint moves pages from the WAL into the database file.
    for (let waited = 0; statSync(file).size === before && waited < 5_000; waited += 50) await sleep(50);
    assert.ok(statSync(file).size > before, 'the database file grew from the WAL');
    await checkpointer.close();
    assert.deepEqual(errors, []);
    assert.equal(await log.lastSequence('j'), 300);
  });

  test('creates of one turn are written together; a refused one leaves the others in', async () => {
    const db = openJobDatabase(files.file());
    files.opened.push(db);
    const store = new SqliteJobStore(db);
    const command = (key: string, seeds: number[] = [1]) =>
      ({ tenant: 't', spec: { ...SPEC, seeds }, requestSpec: {}, idempotencyKey: key, displayName: '', labels: {} }) as const;
    const outcomes = await Promise.allSettled([
      store.create(command('a'), 1),
      store.create(command('a'), 1),
      store.create(command('a', [2]), 1),
      ...Array.from({ length: 12 }, () => store.create(command(''), 1)),
    ]);
    const [first, replay, conflict, ...fresh] = outcomes;
    assert.ok(first?.status === 'fulfilled' && first.value.created);
    assert.ok(
      replay?.status === 'fulfilled' && !replay.value.created && replay.value.job.id === first.value.job.id,
      'same key, same turn: the same job',
    );
    assert.ok(conflict?.status === 'rejected' && /already used with a different spec/.test(String(conflict.reason)));
    assert.ok(fresh.every((outcome) => outcome.status === 'fulfilled' && outcome.value.created));
    assert.equal(await store.countActive('t'), 13, 'every job inserted once');
    assert.equal(await store.countActive('other'), 0);
    // What create() answered is what a read gives.
    const stored = await store.get('t', first.value.job.id);
    assert.deepEqual(stored, first.value.job);
  });
});
