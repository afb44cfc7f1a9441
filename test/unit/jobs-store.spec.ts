import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PERSISTENCE_KINDS } from '../fixtures/jobs-persistence-fixtures.js';
import { smallJobSpec } from '../fixtures/job-spec.js';
import { hasCode, type ErrorCode } from '../../server/common/errors.js';
import type { JobSpec, StartJobCommand } from '../../server/jobs/types.js';

const SPEC: JobSpec = smallJobSpec();

function command(overrides: Partial<StartJobCommand> = {}): StartJobCommand {
  return { tenant: 't1', spec: SPEC, requestSpec: {}, idempotencyKey: '', displayName: 'd', labels: {}, ...overrides };
}

function isServiceError(code: ErrorCode): (error: unknown) => boolean {
  return (error) => hasCode(error, code);
}

for (const kind of PERSISTENCE_KINDS)
  describe(`JobStore (${kind.name})`, () => {
    after(() => kind.cleanup());

    test('create starts QUEUED with a time-stamped transition and one pending run per seed', async () => {
      const store = kind.open().store;
      const { job, created } = await store.create(command(), 123);
      assert.equal(created, true);
      assert.equal(job.state, 'QUEUED');
      assert.deepEqual(job.transitions, [{ state: 'QUEUED', time: 123, reason: '' }]);
      assert.deepEqual(
        job.runs.map((r) => [r.seed, r.state]),
        [
          [1, 'PENDING'],
          [2, 'PENDING'],
        ],
      );
    });

    test('idempotency: same tenant, key and spec returns the job; another spec is already_exists', async () => {
      const store = kind.open().store;
      const first = await store.create(command({ idempotencyKey: 'k' }), 1);
      // A structurally equal copy, not the same object.
      const again = await store.create(command({ idempotencyKey: 'k', spec: structuredClone(SPEC) }), 2);
      assert.equal(again.created, false);
      assert.equal(again.job.id, first.job.id);
      await assert.rejects(
        store.create(command({ idempotencyKey: 'k', spec: { ...SPEC, seeds: [1, 2, 3] } }), 3),
        isServiceError('ALREADY_EXISTS'),
      );
      // Keys are per tenant, and an empty key never deduplicates.
      assert.equal((await store.create(command({ tenant: 't2', idempotencyKey: 'k' }), 4)).created, true);
      const a = await store.create(command(), 5);
      const b = await store.create(command(), 6);
      assert.notEqual(a.job.id, b.job.id);
    });

    test('get hides other tenants’ jobs', async () => {
      const store = kind.open().store;
      const { job } = await store.create(command(), 1);
      assert.equal((await store.get('t1', job.id))?.id, job.id);
      assert.equal(await store.get('t2', job.id), undefined);
      assert.equal(await store.get('t1', 'nope'), undefined);
    });

    test('transition is compare-and-set and records reasons of FAILED/CANCELLED', async () => {
      const store = kind.open().store;
      const { job } = await store.create(command(), 1);
      await store.transition(job.id, { from: ['QUEUED'], to: 'RUNNING', time: 2, reason: '' });
      await assert.rejects(
        store.transition(job.id, { from: ['QUEUED'], to: 'RUNNING', time: 3, reason: '' }),
        isServiceError('FAILED_PRECONDITION'),
      );
      const done = await store.transition(job.id, { from: ['RUNNING'], to: 'FAILED', time: 4, reason: 'boom' });
      assert.deepEqual(
        done.transitions.map((t) => [t.state, t.time]),
        [
          ['QUEUED', 1],
          ['RUNNING', 2],
          ['FAILED', 4],
        ],
      );
      assert.equal(done.reason, 'boom');
    });

    test('putRun replaces by seed; notices are kept once', async () => {
      const store = kind.open().store;
      const { job } = await store.create(command(), 1);
      const run = { seed: 2, state: 'RUNNING' as const, steps: 3, totalSteps: 10, meanStepSeconds: 0.1, durationMs: 5 };
      const updated = await store.putRun(job.id, run);
      assert.deepEqual(updated.runs[1], run);
      await store.addNotice(job.id, 'wasm fallback');
      assert.deepEqual((await store.addNotice(job.id, 'wasm fallback')).notices, ['wasm fallback']);
    });

    test('a run keeps its training class counts and test metrics, and a summary its delivery', async () => {
      const store = kind.open().store;
      const { job } = await store.create(command(), 1);
      const testMetrics = { balancedAccuracy: 0.75, predictions: Int32Array.from([1, 0]) } as never;
      const run = {
        seed: 1,
        state: 'SUCCEEDED' as const,
        steps: 4,
        totalSteps: 4,
        meanStepSeconds: 0.1,
        durationMs: 5,
        trainClassCounts: [30, 3],
        testMetrics,
      };
      await store.putRun(job.id, run);
      const delivery = {
        mode: 'best_validation' as const,
        seeds: [1],
        excluded: [{ seed: 2, reason: 'collapsed' as const }],
        note: 'seed 1',
      };
      const summary = {
        runs: 1,
        accuracy: { mean: 1, std: 0, min: 1, max: 1 },
        balancedAccuracy: { mean: 1, std: 0, min: 1, max: 1 },
        macroF1: { mean: 1, std: 0, min: 1, max: 1 },
        collapsed: 0,
        degenerate: 0,
        delivery,
      };
      await store.setSummary(job.id, summary);
      const read = await store.get('t1', job.id);
      assert.deepEqual(read?.runs[0], run);
      assert.deepEqual(read?.summary?.delivery, delivery);
    });

    test('unfinished: every tenant’s live jobs, oldest first; runtime and checkpoint steps are kept', async () => {
      const store = kind.open().store;
      const a = (await store.create(command(), 1)).job;
      const b = (await store.create(command({ tenant: 't2' }), 2)).job;
      const c = (await store.create(command(), 3)).job;
      await store.transition(a.id, { from: ['QUEUED'], to: 'RUNNING', time: 4, reason: '' });
      await store.transition(a.id, { from: ['RUNNING'], to: 'CANCELLING', time: 5, reason: 'asked' });
      await store.transition(c.id, { from: ['QUEUED'], to: 'CANCELLED', time: 6, reason: 'asked' });
      assert.deepEqual(
        (await store.unfinished()).map((job) => [job.id, job.state]),
        [
          [a.id, 'CANCELLING'],
          [b.id, 'QUEUED'],
        ],
      );
      assert.equal(a.runtimeMs, 0);
      assert.equal((await store.setRuntime(a.id, 1234)).runtimeMs, 1234);
      const run = {
        seed: 1,
        state: 'RUNNING' as const,
        steps: 12,
        totalSteps: 40,
        meanStepSeconds: 0.5,
        durationMs: 6,
        checkpointStep: 10,
      };
      assert.deepEqual((await store.putRun(a.id, run)).runs[0], run);
      await assert.rejects(store.setRuntime('nope', 1), isServiceError('NOT_FOUND'));
    });

    test('countActive: jobs not yet terminal, of one tenant or of all', async () => {
      const store = kind.open().store;
      const a1 = (await store.create(command({ tenant: 'a' }), 1)).job;
      const a2 = (await store.create(command({ tenant: 'a' }), 2)).job;
      await store.create(command({ tenant: 'b' }), 3);
      await store.transition(a1.id, { from: ['QUEUED'], to: 'RUNNING', time: 4, reason: '' });
      await store.transition(a2.id, { from: ['QUEUED'], to: 'CANCELLED', time: 5, reason: 'by request' });
      assert.equal(await store.countActive('a'), 1);
      assert.equal(await store.countActive('b'), 1);
      assert.equal(await store.countActive('nobody'), 0);
      assert.equal(await store.countActive(), 2);
    });

    test('findByIdempotencyKey: the tenant’s job under the key, nobody else’s', async () => {
      const store = kind.open().store;
      const { job } = await store.create(command({ idempotencyKey: 'k' }), 1);
      assert.equal((await store.findByIdempotencyKey('t1', 'k'))?.id, job.id);
      assert.equal(await store.findByIdempotencyKey('t2', 'k'), undefined);
      assert.equal(await store.findByIdempotencyKey('t1', 'other'), undefined);
    });

    test('list: newest first, paged by opaque tokens, filtered by state and labels', async () => {
      const store = kind.open().store;
      const ids: string[] = [];
      for (let i = 0; i < 7; i += 1) {
        // Two jobs per timestamp: ties are ordered by id, still stable across pages.
        const labels = { team: i % 2 === 0 ? 'a' : 'b', n: String(i) };
        ids.push((await store.create(command({ labels }), Math.floor(i / 2))).job.id);
      }
      await store.create(command({ tenant: 'other' }), 99);
      const seen: string[] = [];
      let pageToken = '';
      do {
        const page = await store.list({ tenant: 't1', pageSize: 3, pageToken, labelSelector: {} });
        assert.ok(page.jobs.length <= 3);
        seen.push(...page.jobs.map((j) => j.id));
        pageToken = page.nextPageToken;
      } while (pageToken !== '');
      assert.equal(seen.length, 7);
      assert.deepEqual(new Set(seen), new Set(ids));
      const times = await Promise.all(seen.map(async (id) => (await store.get('t1', id))?.createTime ?? -1));
      assert.deepEqual(
        times,
        [...times].sort((x, y) => y - x),
      );

      const teamA = await store.list({ tenant: 't1', pageSize: 0, pageToken: '', labelSelector: { team: 'a' } });
      assert.equal(teamA.jobs.length, 4);
      assert.equal(teamA.nextPageToken, '');
      const [running] = teamA.jobs;
      assert.ok(running !== undefined);
      await store.transition(running.id, { from: ['QUEUED'], to: 'RUNNING', time: 50, reason: '' });
      const runningOnly = await store.list({ tenant: 't1', pageSize: 10, pageToken: '', state: 'RUNNING', labelSelector: {} });
      assert.deepEqual(
        runningOnly.jobs.map((j) => j.id),
        [running.id],
      );
    });

    test('list rejects foreign tokens and tokens issued for other filters', async () => {
      const store = kind.open().store;
      for (let i = 0; i < 3; i += 1) await store.create(command({ labels: { team: 'a' } }), i);
      const first = await store.list({ tenant: 't1', pageSize: 1, pageToken: '', labelSelector: { team: 'a' } });
      assert.notEqual(first.nextPageToken, '');
      await assert.rejects(
        store.list({ tenant: 't1', pageSize: 1, pageToken: first.nextPageToken, labelSelector: {} }),
        isServiceError('INVALID_ARGUMENT'),
      );
      await assert.rejects(
        store.list({ tenant: 't1', pageSize: 1, pageToken: 'garbage!', labelSelector: {} }),
        isServiceError('INVALID_ARGUMENT'),
      );
    });
  });
