// StartFineTune with an idempotency key: same key + same spec → the same job; another spec →
// ALREADY_EXISTS; and the key the SDK generates when the caller gives none keeps a retry after a
// lost answer to one job.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InterceptingCall, Metadata, type Interceptor } from '@grpc/grpc-js';
import { GrpcStatus, SteadytuneClient } from '../../client/index.js';
import { rejection, startTestServer, tinySpec, type TestServer } from '../fixtures/server-harness.js';

/**
 * Loses the answer to the first StartFineTune: the server has created the job, but the client
 * hears DEADLINE_EXCEEDED once `afterMs` have passed, as when the answer arrives too late.
 */
function losingFirstStartAnswer(afterMs: number): Interceptor {
  let lost = false;
  return (options, nextCall) => {
    if (lost || !options.method_definition.path.endsWith('/StartFineTune')) return new InterceptingCall(nextCall(options));
    lost = true;
    const startedAt = Date.now();
    return new InterceptingCall(nextCall(options), {
      start: (metadata, listener, next) =>
        next(metadata, {
          onReceiveMessage: () => {},
          onReceiveStatus: () => {
            const lostAnswer = {
              code: GrpcStatus.DEADLINE_EXCEEDED,
              details: 'Deadline exceeded (the answer came too late)',
              metadata: new Metadata(),
            };
            setTimeout(() => listener.onReceiveStatus(lostAnswer), Math.max(0, startedAt + afterMs - Date.now()));
          },
        }),
    });
  };
}

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
    const error = await rejection(server.client.startFineTune({ spec: tinySpec({ epochs: 2 }), idempotencyKey: 'key-1' }));
    assert.equal(error.code, GrpcStatus.ALREADY_EXISTS);
  });

  it('a call without a key whose answer was lost is retried with the key the SDK generated: one job', async () => {
    const client = new SteadytuneClient(server.address, {
      attemptTimeoutMs: 2_000,
      retry: { maxAttempts: 3, initialBackoffMs: 10, maxBackoffMs: 20 },
      channelOptions: { interceptors: [losingFirstStartAnswer(2_000)] },
    });
    try {
      const labels = { lost: 'answer' };
      const response = await client.startFineTune({ spec: tinySpec(), labels }, { deadlineMs: 30_000 });
      const jobId = response.job?.id ?? assert.fail('no job');
      started.push(jobId);
      assert.equal(response.created, false, 'the retry found the job the lost attempt created');
      assert.notEqual(response.job?.idempotencyKey, '');
      const listed = await server.client.listJobs({ labelSelector: labels });
      assert.deepEqual(
        listed.jobs.map((job) => job.id),
        [jobId],
      );
    } finally {
      client.close();
    }
  });

  it('starts a new job for every call without a key', async () => {
    const a = await server.client.startFineTune({ spec: tinySpec() });
    const b = await server.client.startFineTune({ spec: tinySpec() });
    started.push(a.job?.id ?? '', b.job?.id ?? '');
    assert.notEqual(a.job?.id, b.job?.id);
    assert.equal(a.created && b.created, true);
  });
});
