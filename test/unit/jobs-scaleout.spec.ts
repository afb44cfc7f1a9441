// What scale-out adds beyond the store and event-log contracts (which jobs-store.spec.ts and
// jobs-event-log.spec.ts already run against PostgreSQL + Redis): configuration, and the
// guarantees that hold only between processes: concurrent migrations, two pods racing on one
// idempotency key or one state transition, and a follower in one process woken by an append
// from another.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import { hasCode } from '../../server/common/errors.js';
import { loadConfig } from '../../server/config.js';
import { AppendNotifications } from '../../server/jobs/scaleout/append-notifications.js';
import { PostgresJobStateCounts } from '../../server/jobs/scaleout/job-state-counts.js';
import { migratePostgres, POSTGRES_MIGRATIONS } from '../../server/jobs/scaleout/postgres-schema.js';
import { PostgresJobStore } from '../../server/jobs/scaleout/postgres-store.js';
import { RedisEventLog } from '../../server/jobs/scaleout/redis-event-log.js';
import type { JobEvent, JobSpec, StartJobCommand } from '../../server/jobs/types.js';
import { SCALEOUT_SKIP_REASON, deleteRedisPrefix, scaleOutServices, uniqueName } from '../fixtures/scaleout-services.js';
import { smallJobSpec } from '../fixtures/job-spec.js';

function sampleSpec(seeds: number[] = [1, 2]): JobSpec {
  return smallJobSpec({ seeds });
}

describe('scale-out configuration', () => {
  const base = { STEADYTUNE_METRICS_PORT: '0' };

  test('embedded unless STEADYTUNE_MODE says otherwise; URLs alone change nothing', () => {
    assert.equal(loadConfig(base).scaleOut, undefined);
    assert.equal(loadConfig({ ...base, STEADYTUNE_MODE: 'embedded', STEADYTUNE_REDIS_URL: 'redis://r:6379' }).scaleOut, undefined);
  });

  test('api and worker read the backing services and the failover timing', () => {
    const config = loadConfig({
      ...base,
      STEADYTUNE_MODE: 'Worker',
      STEADYTUNE_REDIS_URL: 'redis://:secret@redis:6379/0',
      STEADYTUNE_DATABASE_URL: 'postgres://steadytune@db:5432/steadytune',
      STEADYTUNE_WORKER_LOCK_MS: '5000',
      STEADYTUNE_REDIS_PREFIX: 'staging',
    });
    assert.deepEqual(config.scaleOut, {
      mode: 'worker',
      redisUrl: 'redis://:secret@redis:6379/0',
      databaseUrl: 'postgres://steadytune@db:5432/steadytune',
      redisPrefix: 'staging',
      lockMs: 5000,
      stalledCheckMs: 30_000,
      maxJobStarts: 10,
    });
  });

  test('a scale-out mode without its services, or an unknown mode, fails at start-up', () => {
    assert.throws(() => loadConfig({ ...base, STEADYTUNE_MODE: 'api' }), /STEADYTUNE_REDIS_URL[\s\S]*STEADYTUNE_DATABASE_URL/);
    assert.throws(() => loadConfig({ ...base, STEADYTUNE_MODE: 'both' }), /STEADYTUNE_MODE="both"/);
    assert.throws(
      () =>
        loadConfig({
          ...base,
          STEADYTUNE_MODE: 'api',
          STEADYTUNE_REDIS_URL: 'redis://r',
          STEADYTUNE_DATABASE_URL: 'postgres://d',
          STEADYTUNE_WORKER_LOCK_MS: '10',
        }),
      /STEADYTUNE_WORKER_LOCK_MS/,
    );
  });
});

const services = scaleOutServices();

describe('scale-out persistence between processes', { skip: services === undefined ? SCALEOUT_SKIP_REASON : false }, () => {
  const schema = uniqueName('schema');
  const prefix = uniqueName('redis');
  const pools: Pool[] = [];
  const connections: Redis[] = [];
  /** A "pod": its own pool on the shared schema. */
  const podPool = (): Pool => {
    const pool = new Pool({ connectionString: services?.databaseUrl, options: `-c search_path=${schema}`, max: 4 });
    pools.push(pool);
    return pool;
  };
  const podLog = (): RedisEventLog => {
    const redis = new Redis(services?.redisUrl ?? '');
    const subscriber = new Redis(services?.redisUrl ?? '');
    connections.push(redis, subscriber);
    return new RedisEventLog({ redis, notifications: new AppendNotifications(subscriber), prefix, clock: Date.now, pollMs: 60_000 });
  };

  before(async () => {
    await podPool().query(`CREATE SCHEMA ${schema}`);
  });
  after(async () => {
    for (const redis of connections) redis.disconnect();
    await pools[0]?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await Promise.all(pools.map((pool) => pool.end()));
    if (services !== undefined) await deleteRedisPrefix(services.redisUrl, prefix);
  });

  test('pods migrating at once apply each migration once; a newer schema is refused', async () => {
    const latest = POSTGRES_MIGRATIONS.length;
    const versions = await Promise.all([podPool(), podPool(), podPool()].map((pool) => migratePostgres(pool)));
    assert.deepEqual(versions, [latest, latest, latest]);
    const { rows } = await podPool().query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    assert.deepEqual(
      rows.map((r) => r.version),
      POSTGRES_MIGRATIONS.map((m) => m.version),
    );
    await assert.rejects(
      migratePostgres(podPool(), POSTGRES_MIGRATIONS.slice(0, 1)),
      new RegExp(`schema version ${latest}, this server knows up to 1`),
    );
  });

  test('two pods racing on one idempotency key create one job', async () => {
    const stores = [new PostgresJobStore(podPool()), new PostgresJobStore(podPool())];
    const command: StartJobCommand = {
      tenant: 't',
      spec: sampleSpec(),
      requestSpec: {},
      idempotencyKey: 'same',
      displayName: '',
      labels: { team: 'a' },
    };
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => stores[i % 2]?.create(command, 1000) ?? assert.fail()));
    assert.equal(new Set(results.map((r) => r.job.id)).size, 1);
    assert.equal(results.filter((r) => r.created).length, 1);
    await assert.rejects(stores[1]?.create({ ...command, spec: sampleSpec([99]) }, 1000) ?? assert.fail(), (error: unknown) =>
      hasCode(error, 'ALREADY_EXISTS'),
    );
  });

  test('of two pods moving a job out of the same state, exactly one wins', async () => {
    const [a, b] = [new PostgresJobStore(podPool()), new PostgresJobStore(podPool())];
    const { job } = await a.create(
      { tenant: 't', spec: sampleSpec(), requestSpec: {}, idempotencyKey: '', displayName: '', labels: {} },
      1,
    );
    const outcomes = await Promise.allSettled([
      a.transition(job.id, { from: ['QUEUED'], to: 'RUNNING', time: 2, reason: '' }),
      b.transition(job.id, { from: ['QUEUED'], to: 'CANCELLING', time: 2, reason: 'asked' }),
    ]);
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
    const final = await b.get('t', job.id);
    assert.equal(final?.transitions.length, 2);
  });

  test('a follower in one pod is woken by appends from two others, in one dense sequence', async () => {
    const [follower, apiPod, workerPod] = [podLog(), podLog(), podLog()];
    const controller = new AbortController();
    const seen: JobEvent[] = [];
    const following = (async () => {
      for await (const event of follower.follow('job-x', 0, controller.signal)) seen.push(event);
    })();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const began = performance.now();
    // The poll interval is a minute: only the pub/sub wake-ups can deliver these in time.
    await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => workerPod.append('job-x', 1, { kind: 'notice', message: `w${i}` })),
      ...Array.from({ length: 10 }, (_, i) => apiPod.append('job-x', 0, { kind: 'notice', message: `a${i}` })),
    ]);
    await apiPod.append('job-x', 0, { kind: 'state_changed', state: 'CANCELLED', reason: '' });
    await following;
    assert.deepEqual(
      seen.map((e) => e.sequence),
      Array.from({ length: 21 }, (_, i) => i + 1),
    );
    assert.ok(performance.now() - began < 5_000);
    await assert.rejects(workerPod.append('job-x', 1, { kind: 'notice', message: 'late' }), /closed/);
  });

  test('one pod exports the job-state counts from the store; another takes over when it stops', async () => {
    const store = new PostgresJobStore(podPool());
    const [a, b] = [new PostgresJobStateCounts(podPool()), new PostgresJobStateCounts(podPool())];
    const command: StartJobCommand = {
      tenant: 'counts',
      spec: sampleSpec(),
      requestSpec: {},
      idempotencyKey: '',
      displayName: '',
      labels: {},
    };
    const before = (await a.liveJobCounts()) ?? assert.fail('the first to ask exports');
    const { job } = await store.create(command, 1);
    await store.create(command, 2);
    await store.transition(job.id, { from: ['QUEUED'], to: 'RUNNING', time: 3, reason: '' });
    const [fromA, fromB] = await Promise.all([a.liveJobCounts(), b.liveJobCounts()]);
    assert.equal(fromB, undefined, 'one exporter per deployment');
    assert.equal((fromA?.get('QUEUED') ?? 0) - (before.get('QUEUED') ?? 0), 1);
    assert.equal((fromA?.get('RUNNING') ?? 0) - (before.get('RUNNING') ?? 0), 1);
    await a.close();
    assert.equal(await a.liveJobCounts(), undefined);
    const taken = await b.liveJobCounts();
    assert.deepEqual(taken, fromA, 'the other pod exports the same counts once the first has stopped');
    await b.close();
  });
});
