// StartFineTune with an idempotency key: same key + same spec → the same job; another spec → ALREADY_EXISTS.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GrpcStatus } from '../../client/index.js';
import { rejection, startTestServer, tinySpec, type TestServer } from '../fixtures/server-harness.js';

describe('idempotent StartFineTune', () => {
  let server: TestServer;
  const started: string[] = [];

  before(async () => {
    server = await startTestServer({ concurrency: 1 });
  });
  after(async () => {
    // Nothing here needs the trainings to finish.
    await Promise.allSettled(started.map((id) => server.client.cancelJob(id)));
    await server.stop();
  });

  it('returns the original job for a repeated key and spec', async () => {
    const first = await server.client.startFineTune({ spec: tinySpec(), idempotencyKey: 'key-1' });
    const jobId = first.job?.id ?? assert.fail('no job');
    started.push(jobId);
    assert.equal(first.created, true);
    assert.equal(first.job?.idempotencyKey, 'key-1');

    const again = await server.client.startFineTune({ spec: tinySpec(), idempotencyKey: 'key-1' });
    assert.equal(again.created, false);
    assert.equal(again.job?.id, jobId);
    const listed = await server.client.listJobs();
    assert.equal(listed.jobs.filter((j) => j.id === jobId).length, 1);
  });

  it('treats a spec that leaves defaults at zero like one that spells them out', async () => {
    const explicit = tinySpec();
    const first = await server.client.startFineTune({ spec: explicit, idempotencyKey: 'key-2' });
    started.push(first.job?.id ?? assert.fail('no job'));
    const zeros = {
      ...explicit,
      batchSize: 0,
      gradientAccumulation: 0,
      method: { method: { $case: 'dsgd' as const, value: { schedule: 0 } } },
      optimizer: { kind: 0, learningRate: 0.01, momentum: 0, lrSchedule: 0 },
    };
    const again = await server.client.startFineTune({ spec: zeros, idempotencyKey: 'key-2' });
    assert.equal(again.created, false);
    assert.equal(again.job?.id, first.job?.id);
  });

  it('refuses the key with a different spec: ALREADY_EXISTS', async () => {
    const error = await rejection(
      server.client.startFineTune({ spec: tinySpec({ epochs: 2 }), idempotencyKey: 'key-1' }),
    );
    assert.equal(error.code, GrpcStatus.ALREADY_EXISTS);
  });

  it('starts a new job for every call without a key', async () => {
    const a = await server.client.startFineTune({ spec: tinySpec() });
    const b = await server.client.startFineTune({ spec: tinySpec() });
    started.push(a.job?.id ?? '', b.job?.id ?? '');
    assert.notEqual(a.job?.id, b.job?.id);
    assert.equal(a.created && b.created, true);
  });
});
