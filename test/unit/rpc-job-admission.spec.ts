// JobAdmission against a stand-in JobService: caps count the store's active jobs plus the starts
// admitted but not yet returned, so a burst cannot overshoot a cap, while the admitted starts
// run concurrently (not one after another); a refused start gets RESOURCE_EXHAUSTED with a
// retry delay, unless it replays a known idempotency key.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hasCode } from '../../server/common/errors.js';
import type { Job, JobService, StartJobCommand } from '../../server/jobs/types.js';
import { JOB_LIMIT_RETRY_AFTER_MS, JobAdmission } from '../../server/rpc/job-admission.js';
import { smallJobSpec } from '../fixtures/job-spec.js';

function command(tenant: string, idempotencyKey = ''): StartJobCommand {
  return { tenant, spec: smallJobSpec(), requestSpec: {}, idempotencyKey, displayName: '', labels: {} };
}

/** Active jobs per tenant, as the store would count them, and the idempotency keys already used. */
function standInService(active: Map<string, number>, keys: readonly string[] = []): JobService {
  const unused = (): never => {
    throw new Error('not used by admission');
  };
  return {
    countActive: async (tenant) => (tenant === undefined ? [...active.values()].reduce((a, b) => a + b, 0) : (active.get(tenant) ?? 0)),
    findByIdempotencyKey: async (_tenant, key) => (keys.includes(key) ? ({ idempotencyKey: key } as Job) : undefined),
    list: unused,
    start: unused,
    get: unused,
    cancel: unused,
    events: unused,
    evaluate: unused,
    predict: unused,
    exportModel: unused,
    ready: () => true,
    shutdown: async () => {},
  };
}

describe('JobAdmission', () => {
  test('a burst takes the free slots of a tenant cap, concurrently; the rest are refused with a delay', async () => {
    const active = new Map([['a', 1]]);
    const admission = new JobAdmission(standInService(active), { maxActiveJobsPerTenant: 3, maxActiveJobs: 0 });
    let running = 0;
    let mostAtOnce = 0;
    const start = async (): Promise<string> => {
      running += 1;
      mostAtOnce = Math.max(mostAtOnce, running);
      await new Promise((resolve) => setTimeout(resolve, 20));
      active.set('a', (active.get('a') ?? 0) + 1);
      running -= 1;
      return 'started';
    };
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => admission.admit(command('a'), start)));
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 2, 'one slot was taken already');
    assert.equal(mostAtOnce, 2, 'the admitted starts ran side by side');
    const refused = outcomes.find((o) => o.status === 'rejected')?.reason;
    assert.ok(hasCode(refused, 'RESOURCE_EXHAUSTED') && refused.retryAfterMs === JOB_LIMIT_RETRY_AFTER_MS);
    // Another tenant has its own cap.
    assert.equal(await admission.admit(command('b'), start), 'started');
  });

  test('the server cap counts every tenant; a replayed idempotency key passes a full cap', async () => {
    const active = new Map([
      ['a', 1],
      ['b', 1],
    ]);
    const admission = new JobAdmission(standInService(active, ['known']), { maxActiveJobsPerTenant: 0, maxActiveJobs: 2 });
    const refused = await admission.admit(command('c'), async () => 'started').catch((error: unknown) => error);
    assert.ok(hasCode(refused, 'RESOURCE_EXHAUSTED'));
    assert.match(refused.message, /the server has 2 active jobs/);
    assert.equal(await admission.admit(command('c', 'known'), async () => 'the known job'), 'the known job');
    active.set('b', 0);
    assert.equal(await admission.admit(command('c'), async () => 'started'), 'started', 'a slot freed up');
  });
});
