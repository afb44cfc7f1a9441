// Schema 4 of the job database (phase-notice-migration.ts): a log written before phase_started
// existed, its phase changes only as notices, reads after the migration as the server writes
// it now: the same phase_started events, at the old notices' places, every other event as it was.
// The same for the scale-out log in Redis (where the test services run).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import type { EventLog } from '../../server/jobs/event-log.js';
import { loggedProgress } from '../../server/jobs/job-resume.js';
import { MIGRATIONS, openJobDatabase, schemaVersion } from '../../server/jobs/persistence/sqlite-database.js';
import { SqliteEventLog } from '../../server/jobs/persistence/sqlite-event-log.js';
import { SqliteJobStore } from '../../server/jobs/persistence/sqlite-store.js';
import type { RemedySettings } from '../../server/jobs/remedy-policy.js';
import { AppendNotifications } from '../../server/jobs/scaleout/append-notifications.js';
import { migratePostgres } from '../../server/jobs/scaleout/postgres-schema.js';
import { PostgresJobStore } from '../../server/jobs/scaleout/postgres-store.js';
import { RedisEventLog } from '../../server/jobs/scaleout/redis-event-log.js';
import { rewriteRedisPhaseNotices } from '../../server/jobs/scaleout/redis-phase-notices.js';
import type { JobStore } from '../../server/jobs/store.js';
import { phaseStartedEvent, withPhaseChange } from '../../server/jobs/run-phases.js';
import type { JobEvent, JobEventBody, PhaseChange, SeedRun } from '../../server/jobs/types.js';
import { trainWithRemedies } from '../../server/jobs/worker/remedy-runner.js';
import { smallJobSpec } from '../fixtures/job-spec.js';
import { sqliteFiles } from '../fixtures/jobs-persistence-fixtures.js';
import { SCALEOUT_SKIP_REASON, deleteRedisPrefix, scaleOutServices, uniqueName } from '../fixtures/scaleout-services.js';
import { RUN, scriptedTrainer, type Script } from '../fixtures/remedy-fixtures.js';

const RESTART: RemedySettings = { policy: 'restart_next_seed', windowSteps: 2, minGradientNorm: 0.01, maxRestarts: 2 };
const CONTINUE: RemedySettings = { ...RESTART, policy: 'continue_under_dsgd' };
/** FFT under seeds 42 and 1042 collapses from step 3 on: two restarts, then 2042 trains well. */
const twoCollapses: Script = ({ seed, method }, step) =>
  method === 'fft' && seed !== 2042 && step >= 3 ? { norm: 0, verdict: 'collapsed' } : { norm: 1, verdict: 'ok' };
/** FFT collapses from step 6 on: continued under DSGD from step 4. */
const lateCollapse: Script = ({ method }, step) =>
  method === 'fft' && step >= 6 ? { norm: 0, verdict: 'collapsed' } : { norm: 1, verdict: 'ok' };

/** The phase changes the worker reports for seed 42's run. */
async function phaseReports(settings: RemedySettings, script: Script): Promise<PhaseChange[]> {
  const reports: PhaseChange[] = [];
  await trainWithRemedies({
    run: RUN,
    remedy: { settings, reservedSeeds: [42], phases: [] },
    trainPhase: scriptedTrainer(script).trainer,
    report: (progress) => {
      if (progress.kind === 'phase') reports.push(progress);
    },
    stopRequest: () => 'continue',
    now: () => 0,
    memoryBytes: () => 0,
    encode: () => new Uint8Array(0),
  });
  return reports;
}

const step = (n: number): JobEventBody => ({
  kind: 'step',
  step: {
    step: n,
    totalSteps: 12,
    epoch: 0,
    loss: 1,
    accuracy: 0.5,
    alpha: 1,
    correctFraction: 0.5,
    gradientNorm: 0,
    learningRate: 1,
    headConflictCosine: null,
    stepSeconds: 0.01,
  },
});

/**
 * Writes a remedied run of seed 42 to a new job as the server does (`form: 'new'`) or did
 * before phase_started (`'old'`): the log's events and the run row. `recordPhases: false` is
 * a process that died between logging a change and recording it on the row.
 */
async function writeRemediedJob(
  store: JobStore,
  log: EventLog,
  settings: RemedySettings | undefined,
  reports: readonly PhaseChange[],
  form: 'old' | 'new',
  recordPhases = true,
): Promise<string> {
  const spec = smallJobSpec({ seeds: [42], ...(settings === undefined ? {} : { autoRemedy: settings }) });
  const { job } = await store.create({ tenant: 't', spec, requestSpec: {}, idempotencyKey: '', displayName: '', labels: {} }, 1);
  let row: SeedRun = { seed: 42, state: 'RUNNING', steps: 0, totalSteps: 12, meanStepSeconds: 0, durationMs: 0 };
  await log.append(job.id, 42, { kind: 'run_started', totalSteps: 12, backend: 'cpu' });
  for (const report of reports) {
    for (let n = report.ended.startStep + 1; n <= report.ended.endStep; n += 1) await log.append(job.id, 42, step(n));
    if (form === 'new') await log.append(job.id, 42, phaseStartedEvent(report));
    await log.append(job.id, 42, { kind: 'notice', message: report.notice });
    if (recordPhases) row = withPhaseChange(row, report);
    await store.putRun(job.id, row);
  }
  await log.append(job.id, 42, step(12));
  await log.append(job.id, 0, { kind: 'notice', message: 'resumed after a server restart' });
  await log.append(job.id, 42, {
    kind: 'notice',
    message: 'auto-remedy: seed 42: collapsed; no further remedy (max_restarts 2 reached), the run ends as it is',
  });
  return job.id;
}

/** The same in a SQLite file, at schema 3 for the old form. */
async function writeJob(
  file: string,
  settings: RemedySettings,
  reports: readonly PhaseChange[],
  form: 'old' | 'new',
  recordPhases = true,
): Promise<string> {
  const db = openJobDatabase(file, { migrations: form === 'old' ? MIGRATIONS.filter((m) => m.version <= 3) : MIGRATIONS });
  try {
    return await writeRemediedJob(
      new SqliteJobStore(db),
      new SqliteEventLog(db, { clock: () => 1_000 }),
      settings,
      reports,
      form,
      recordPhases,
    );
  } finally {
    db.close();
  }
}

/** `events` with each old phase notice of `reports` replaced by its event, in place. */
function inPlace(events: readonly JobEvent[], reports: readonly PhaseChange[]): JobEvent[] {
  const reportByNotice = new Map(reports.map((report) => [report.notice, report]));
  return events.map((event) => {
    const report = event.body.kind === 'notice' ? reportByNotice.get(event.body.message) : undefined;
    return report === undefined ? event : { ...event, body: phaseStartedEvent(report) };
  });
}

const structured = (events: readonly JobEvent[]): { seed: number; body: JobEventBody }[] =>
  events.flatMap((e) => (e.body.kind === 'phase_started' ? [{ seed: e.seed, body: e.body }] : []));

describe('event-log migration: phase notices → phase_started', () => {
  const files = sqliteFiles();
  after(() => files.cleanup());

  async function read(file: string, jobId: string): Promise<JobEvent[]> {
    const db = openJobDatabase(file);
    files.opened.push(db);
    return new SqliteEventLog(db, { clock: () => 0 }).read(jobId, 0);
  }

  for (const [policy, settings, script, changes] of [
    ['restart_next_seed', RESTART, twoCollapses, 2],
    ['continue_under_dsgd', CONTINUE, lateCollapse, 1],
  ] as const) {
    it(`rewrites ${policy} phase notices in place into the events the server writes now`, async () => {
      const reports = await phaseReports(settings, script);
      assert.equal(reports.length, changes);
      const oldFile = files.file();
      const oldJob = await writeJob(oldFile, settings, reports, 'old');
      const newFile = files.file();
      const newJob = await writeJob(newFile, settings, reports, 'new');
      const before = await (async () => {
        const db = openJobDatabase(oldFile, { migrations: MIGRATIONS.filter((m) => m.version <= 3) });
        try {
          return await new SqliteEventLog(db, { clock: () => 0 }).read(oldJob, 0);
        } finally {
          db.close();
        }
      })();

      const migrated = await read(oldFile, oldJob);
      const written = await read(newFile, newJob);
      assert.equal(structured(migrated).length, changes);
      assert.deepEqual(structured(migrated), structured(written));
      // In place: the same sequences and times; only the phase notices changed, to those events.
      assert.deepEqual(migrated, inPlace(before, reports));
      // Resume reads the same progress from both.
      assert.deepEqual(await loggedProgressOf(oldFile, oldJob), await loggedProgressOf(newFile, newJob));
    });
  }

  it('leaves a phase notice whose run row never recorded the change, and runs once', async () => {
    const reports = await phaseReports(RESTART, twoCollapses);
    const file = files.file();
    const jobId = await writeJob(file, RESTART, reports, 'old', false);
    const events = await read(file, jobId);
    assert.equal(structured(events).length, 0);
    assert.deepEqual(
      events.flatMap((e) => (e.body.kind === 'notice' ? [e.body.message] : [])).slice(0, 2),
      reports.map((report) => report.notice),
    );
    const db = openJobDatabase(file);
    files.opened.push(db);
    // Migrated to the newest schema, with the phase-notice migration (4) run exactly once.
    assert.equal(schemaVersion(db), MIGRATIONS.at(-1)?.version);
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM schema_migrations WHERE version = 4').get() as { n: number }).n, 1);
  });

  async function loggedProgressOf(file: string, jobId: string): Promise<unknown> {
    const db = openJobDatabase(file);
    files.opened.push(db);
    return Object.fromEntries(await loggedProgress(new SqliteEventLog(db, { clock: () => 0 }), jobId));
  }
});

const services = scaleOutServices();

describe('Redis event log: phase notices → phase_started', { skip: services === undefined ? SCALEOUT_SKIP_REASON : false }, () => {
  const schema = uniqueName('schema');
  const prefix = uniqueName('redis');
  let pool: Pool;
  let redis: Redis;
  let subscriber: Redis;

  before(async () => {
    pool = new Pool({ connectionString: services?.databaseUrl, options: `-c search_path=${schema}`, max: 2 });
    await pool.query(`CREATE SCHEMA ${schema}`);
    await migratePostgres(pool);
    redis = new Redis(services?.redisUrl ?? '');
    subscriber = new Redis(services?.redisUrl ?? '');
  });
  after(async () => {
    redis.disconnect();
    subscriber.disconnect();
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool.end();
    if (services !== undefined) await deleteRedisPrefix(services.redisUrl, prefix);
  });

  it("rewrites each remedied job's stream in place, with the same ids, once", async () => {
    const reports = await phaseReports(RESTART, twoCollapses);
    const store = new PostgresJobStore(pool);
    const log = new RedisEventLog({ redis, notifications: new AppendNotifications(subscriber), prefix, clock: () => 1_000 });
    const remedied = await writeRemediedJob(store, log, RESTART, reports, 'old');
    const unrecorded = await writeRemediedJob(store, log, RESTART, reports, 'old', false);
    // Without auto-remedy in its spec a job's stream is not even read.
    const plain = await writeRemediedJob(store, log, undefined, reports, 'old');
    const before = await Promise.all([remedied, unrecorded, plain].map((id) => log.read(id, 0)));

    const migrating = new Redis(services?.redisUrl ?? '');
    try {
      assert.deepEqual(await rewriteRedisPhaseNotices({ redis: migrating, pool, prefix }), { rewritten: 2, left: 2 });
      assert.deepEqual(await rewriteRedisPhaseNotices({ redis: migrating, pool, prefix }), { rewritten: 0, left: 0 }, 'it ran already');
    } finally {
      migrating.disconnect();
    }
    const [migrated, untouched, plainAfter] = await Promise.all([remedied, unrecorded, plain].map((id) => log.read(id, 0)));
    assert.deepEqual(migrated, inPlace(before[0] ?? [], reports));
    assert.equal(structured(migrated ?? []).length, 2);
    assert.deepEqual(untouched, before[1]);
    assert.deepEqual(plainAfter, before[2]);
    // The log goes on at the next sequence.
    const appended = await log.append(remedied, 42, step(13));
    assert.equal(appended.sequence, (migrated?.length ?? 0) + 1);
  });
});
