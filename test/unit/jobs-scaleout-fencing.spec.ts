// Fencing of scale-out workers by claim generation, over real PostgreSQL and Redis: once another
// worker has claimed a job, the earlier holder's store writes and log appends are refused
// (ABORTED), and an execution that meets such a refusal stops its runs and writes nothing more,
// leaving the job to the new holder.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import { hasCode } from '../../server/common/errors.js';
import { EmbeddedJobService } from '../../server/jobs/job-service.js';
import { AppendNotifications } from '../../server/jobs/scaleout/append-notifications.js';
import { HeldClaims, type JobClaim } from '../../server/jobs/scaleout/job-claims.js';
import { migratePostgres } from '../../server/jobs/scaleout/postgres-schema.js';
import { PostgresJobStore } from '../../server/jobs/scaleout/postgres-store.js';
import { RedisEventLog } from '../../server/jobs/scaleout/redis-event-log.js';
import { pendingRun } from '../../server/jobs/store.js';
import type { JobLogger, StartJobCommand } from '../../server/jobs/types.js';
import { WorkerPool } from '../../server/jobs/worker-pool.js';
import { smallJobSpec } from '../fixtures/job-spec.js';
import { SCALEOUT_SKIP_REASON, deleteRedisPrefix, scaleOutServices, uniqueName } from '../fixtures/scaleout-services.js';

const services = scaleOutServices();
const refused = (error: unknown): boolean => hasCode(error, 'ABORTED');

interface WorkerPod {
  readonly store: PostgresJobStore;
  readonly log: RedisEventLog;
  claim(jobId: string): Promise<JobClaim>;
}

describe('scale-out fencing by claim generation', { skip: services === undefined ? SCALEOUT_SKIP_REASON : false, timeout: 60_000 }, () => {
  const schema = uniqueName('schema');
  const prefix = uniqueName('redis');
  const pools: Pool[] = [];
  const connections: Redis[] = [];
  const podPool = (): Pool => {
    const pool = new Pool({ connectionString: services?.databaseUrl, options: `-c search_path=${schema}`, max: 4 });
    pools.push(pool);
    return pool;
  };
  /** A worker "pod": its store and log fence with the claims it holds, as backends.ts wires them. */
  const workerPod = (): WorkerPod => {
    const claims = new HeldClaims();
    const redis = new Redis(services?.redisUrl ?? '');
    const subscriber = new Redis(services?.redisUrl ?? '');
    connections.push(redis, subscriber);
    const store = new PostgresJobStore(podPool(), claims);
    const log = new RedisEventLog({
      redis,
      notifications: new AppendNotifications(subscriber),
      prefix,
      clock: Date.now,
      pollMs: 50,
      claims,
    });
    return {
      store,
      log,
      claim: async (jobId) => {
        const claim = await store.claim(jobId);
        await log.raiseFence(jobId, claim.generation);
        return claim;
      },
    };
  };
  const command = (seeds: number[]): StartJobCommand => ({
    tenant: 't',
    spec: smallJobSpec({ seeds }),
    requestSpec: {},
    idempotencyKey: '',
    displayName: '',
    labels: {},
  });

  before(async () => {
    const pool = podPool();
    await pool.query(`CREATE SCHEMA ${schema}`);
    await migratePostgres(pool);
  });
  after(async () => {
    for (const redis of connections) redis.disconnect();
    await pools[0]?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await Promise.all(pools.map((pool) => pool.end()));
    if (services !== undefined) await deleteRedisPrefix(services.redisUrl, prefix);
  });

  test("a stale worker's writes are refused once another worker has claimed the job; the new holder's and an API pod's are not", async () => {
    const api = new PostgresJobStore(podPool());
    const { job } = await api.create(command([1]), 1);
    const [stale, next] = [workerPod(), workerPod()];
    const first = await stale.claim(job.id);
    await stale.store.transition(job.id, { from: ['QUEUED'], to: 'RUNNING', time: 2, reason: '' });
    await stale.store.putRun(job.id, { ...pendingRun(1), state: 'RUNNING', steps: 3 });
    await stale.log.append(job.id, 1, { kind: 'notice', message: 'from the first claim' });

    const second = await next.claim(job.id);
    assert.equal(second.generation, first.generation + 1);
    await assert.rejects(stale.store.putRun(job.id, { ...pendingRun(1), state: 'RUNNING', steps: 4 }), refused);
    await assert.rejects(stale.store.transition(job.id, { from: ['RUNNING'], to: 'SUCCEEDED', time: 3, reason: '' }), refused);
    await assert.rejects(stale.store.setBackend(job.id, 'cpu'), refused);
    await assert.rejects(stale.store.addNotice(job.id, 'stale'), refused);
    await assert.rejects(stale.store.setRuntime(job.id, 5), refused);
    await assert.rejects(stale.log.append(job.id, 1, { kind: 'notice', message: 'stale' }), refused);
    assert.deepEqual([first.superseded, second.superseded], [true, false]);

    await next.store.putRun(job.id, { ...pendingRun(1), state: 'RUNNING', steps: 3 });
    await next.store.addNotice(job.id, 'from the second claim');
    await next.log.append(job.id, 1, { kind: 'notice', message: 'from the second claim' });
    // A process holding no claim (an API pod cancelling) is not fenced.
    await api.transition(job.id, { from: ['RUNNING'], to: 'CANCELLING', time: 4, reason: 'asked' });
    const stored = (await api.get('t', job.id)) ?? assert.fail('job gone');
    assert.deepEqual(
      [stored.state, stored.backend, stored.notices, stored.runs[0]?.steps],
      ['CANCELLING', '', ['from the second claim'], 3],
    );
    const messages = (await next.log.read(job.id, 0)).map((e) => (e.body.kind === 'notice' ? e.body.message : e.body.kind));
    assert.deepEqual(messages, ['from the first claim', 'from the second claim']);

    // Released, a claim fences nothing; a newer claim of the same process replaces its older one.
    second.release();
    await next.store.addNotice(job.id, 'unfenced');
    const third = await next.claim(job.id);
    await next.store.addNotice(job.id, 'as the third claim');
    third.release();
    // The closing event drops the fence: the log is closed to everyone after it anyway.
    await next.log.append(job.id, 0, { kind: 'state_changed', state: 'CANCELLED', reason: 'asked' });
    const redis = connections[0] ?? assert.fail('no redis');
    assert.equal(await redis.exists(`${prefix}:fence:${job.id}`), 0);
  });

  test('an execution whose job another worker claimed stops its runs at once and writes nothing more', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'steadytune-fencing-'));
    const logged: { level: string; msg: string }[] = [];
    const logger: JobLogger = {
      info: (msg) => void logged.push({ level: 'info', msg }),
      warn: (msg) => void logged.push({ level: 'warn', msg }),
      error: (msg) => void logged.push({ level: 'error', msg }),
    };
    // The fixture worker's seed 5 posts a step every 5 ms until it is cancelled.
    const pool = new WorkerPool({
      size: 1,
      config: {},
      logger,
      cancelGraceMs: 1_000,
      workerUrl: new URL('../fixtures/jobs-fixture-worker.ts', import.meta.url),
    });
    const stale = workerPod();
    const service = new EmbeddedJobService({
      store: stale.store,
      eventLog: stale.log,
      pool,
      modelDir: path.join(dir, 'models'),
      clock: Date.now,
      logger,
      resumeUnfinishedOnStart: false,
    });
    try {
      await service.startWorkers();
      const { job } = await new PostgresJobStore(podPool()).create(command([5]), 1);
      const claim = await stale.claim(job.id);
      const running = service.runClaimed(job);
      while ((await stale.log.lastSequence(job.id)) < 10) await new Promise((resolve) => setTimeout(resolve, 10));

      const next = workerPod();
      await next.claim(job.id);
      const tookOverAt = performance.now();
      await running;
      const stoppedAfterMs = performance.now() - tookOverAt;
      assert.ok(stoppedAfterMs < 5_000, `stopped ${stoppedAfterMs.toFixed(0)} ms after the takeover`);
      assert.equal(claim.superseded, true);
      const lastSequence = await next.log.lastSequence(job.id);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(await next.log.lastSequence(job.id), lastSequence, 'nothing appended after it stopped');
      // Left as it was for the new holder: not ended, and no error logged for the refusal.
      const stored = (await next.store.get('t', job.id)) ?? assert.fail('job gone');
      assert.equal(stored.state, 'QUEUED');
      assert.equal(stored.runs[0]?.state, 'PENDING');
      assert.deepEqual(
        logged.filter((line) => line.level === 'error'),
        [],
      );
      assert.ok(
        logged.some((line) => line.msg === 'job taken over by another worker; stopped here'),
        JSON.stringify(logged),
      );
      console.log(`fencing: the stale execution stopped ${stoppedAfterMs.toFixed(0)} ms after the takeover, at sequence ${lastSequence}`);
    } finally {
      await service.shutdown();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
