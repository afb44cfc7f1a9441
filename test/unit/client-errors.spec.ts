// SDK behaviour against a scripted fake Trainer (see client-fake-trainer.ts): error details,
// retry policy, deadlines and resumable metric streams.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { GrpcStatus, SteadytuneClient, SteadytuneError, specDefaults } from '../../client/index.js';
import { downServerAddress, richStatus, runningJob, startFakeTrainer, type FakeTrainer } from '../fixtures/client-fake-trainer.js';

const fastRetry = { maxAttempts: 4, initialBackoffMs: 5, maxBackoffMs: 20 };
const openTrainers: FakeTrainer[] = [];
const openClients: SteadytuneClient[] = [];

async function setUp(script: Parameters<typeof startFakeTrainer>[0], token?: string) {
  const trainer = await startFakeTrainer(script);
  const client = new SteadytuneClient(trainer.address, { retry: fastRetry, token });
  openTrainers.push(trainer);
  openClients.push(client);
  return { trainer, client };
}

after(async () => {
  for (const client of openClients) client.close();
  for (const trainer of openTrainers) await trainer.stop();
});

async function rejection(promise: Promise<unknown>): Promise<SteadytuneError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof SteadytuneError, `expected SteadytuneError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the call to fail');
}

describe('error decoding', () => {
  it('decodes BadRequest field violations from the status-details trailer', async () => {
    const violations = [
      { field: 'spec.batch_size', description: 'must be 1..4096' },
      { field: 'spec.method.dsgd.lambda', description: 'must be in [0, 1]' },
    ];
    const { client } = await setUp({
      startFineTune: (_call, callback) =>
        callback(richStatus(GrpcStatus.INVALID_ARGUMENT, 'invalid spec', { fieldViolations: violations })),
    });
    const error = await rejection(client.startFineTune({ spec: specDefaults() }));
    assert.equal(error.code, GrpcStatus.INVALID_ARGUMENT);
    assert.equal(error.codeName, 'INVALID_ARGUMENT');
    assert.equal(error.details, 'invalid spec');
    assert.deepEqual(error.fieldViolations, violations);
    assert.match(error.message, /^INVALID_ARGUMENT: invalid spec/);
  });

  it('tolerates a status without a details trailer', async () => {
    const { client } = await setUp({ getJob: (_call, callback) => callback({ code: GrpcStatus.NOT_FOUND, details: 'no job x' }) });
    const error = await rejection(client.getJob('x'));
    assert.equal(error.code, GrpcStatus.NOT_FOUND);
    assert.deepEqual(error.fieldViolations, []);
    assert.equal(error.retryDelayMs, undefined);
  });

  it('sends the bearer token as authorization metadata', async () => {
    const { client, trainer } = await setUp(
      { getJob: (call, callback) => callback(null, { job: runningJob(call.request.jobId) }) },
      's3cret',
    );
    await client.getJob('job-1');
    assert.deepEqual(trainer.metadataSeen[0]?.get('authorization'), ['Bearer s3cret']);
  });
});

describe('retries', () => {
  it('retries GetJob on UNAVAILABLE until it succeeds', async () => {
    let failuresLeft = 2;
    const { client, trainer } = await setUp({
      getJob: (_call, callback) =>
        failuresLeft-- > 0
          ? callback({ code: GrpcStatus.UNAVAILABLE, details: 'restarting' })
          : callback(null, { job: runningJob('job-1') }),
    });
    const job = await client.getJob('job-1');
    assert.equal(job.id, 'job-1');
    assert.equal(trainer.calls.getJob, 3);
  });

  it('rides out a server restart: a call made while the server is down succeeds once it is back on its port', async () => {
    const script = {
      getJob: (call: { request: { jobId: string } }, callback: (error: null, response: { job: ReturnType<typeof runningJob> }) => void) =>
        callback(null, { job: runningJob(call.request.jobId) }),
    };
    const { client, trainer } = await setUp(script);
    assert.equal((await client.getJob('job-1')).id, 'job-1');
    await trainer.stop();
    // Down for 1.5 s: far longer than the 4 fast retries (5-20 ms apart) take on their own.
    let restarted: FakeTrainer | undefined;
    const restarting = new Promise<void>((resolve, reject) =>
      setTimeout(() => {
        startFakeTrainer(script, trainer.port).then((started) => {
          restarted = started;
          openTrainers.push(started);
          resolve();
        }, reject);
      }, 1500),
    );
    // Whatever the call does, the restarted trainer must be up (and so stopped in after()) before the test ends.
    const job = await client.getJob('job-2').finally(() => restarting);
    assert.equal(job.id, 'job-2');
    assert.equal(restarted?.calls.getJob, 1);
  });

  it('gives up after maxAttempts and surfaces the last error', async () => {
    const { client, trainer } = await setUp({ listJobs: (_call, callback) => callback({ code: GrpcStatus.UNAVAILABLE, details: 'down' }) });
    const error = await rejection(client.listJobs());
    assert.equal(error.code, GrpcStatus.UNAVAILABLE);
    assert.equal(trainer.calls.listJobs, fastRetry.maxAttempts);
  });

  it('does not retry codes that are not transient', async () => {
    const { client, trainer } = await setUp({ getJob: (_call, callback) => callback({ code: GrpcStatus.NOT_FOUND, details: 'gone' }) });
    await rejection(client.getJob('job-1'));
    assert.equal(trainer.calls.getJob, 1);
  });

  it('sends a generated idempotency key when the caller gives none: the same on every retry, a new one per call', async () => {
    const keysSeen: string[] = [];
    let failuresLeft = 1;
    const { client, trainer } = await setUp({
      startFineTune: (call, callback) => {
        keysSeen.push(call.request.idempotencyKey);
        if (failuresLeft-- > 0) callback({ code: GrpcStatus.UNAVAILABLE, details: 'down' });
        else callback(null, { job: runningJob(`job-${keysSeen.length}`), created: true });
      },
    });
    await client.startFineTune({ spec: specDefaults() });
    await client.startFineTune({ spec: specDefaults(), idempotencyKey: '' });
    assert.equal(trainer.calls.startFineTune, 3);
    const [first, retry, second] = keysSeen;
    assert.match(first ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(retry, first);
    assert.notEqual(second, first);
  });

  it('retries a StartFineTune whose first attempt timed out on the client: one job, found by its key', async () => {
    // What a lost answer looks like: the server created the job, the client gave up waiting.
    const jobsByKey = new Map<string, string>();
    const keysSeen: string[] = [];
    const { client, trainer } = await setUp({
      startFineTune: (call, callback) => {
        const key = call.request.idempotencyKey;
        keysSeen.push(key);
        const known = jobsByKey.get(key);
        if (known !== undefined) {
          callback(null, { job: runningJob(known), created: false });
          return;
        }
        const jobId = `job-${jobsByKey.size + 1}`;
        jobsByKey.set(key, jobId);
        setTimeout(() => callback(null, { job: runningJob(jobId), created: true }), 600);
      },
    });
    const response = await client.startFineTune({ spec: specDefaults() }, { deadlineMs: 5_000, attemptTimeoutMs: 150 });
    assert.equal(trainer.calls.startFineTune, 2);
    assert.equal(keysSeen[1], keysSeen[0]);
    assert.equal(jobsByKey.size, 1, 'one job created');
    // created: false is the retry's answer; the late first answer would say true.
    assert.deepEqual([response.job?.id, response.created], ['job-1', false]);
  });

  it('a client-side timeout without a shorter attempt deadline is final', async () => {
    const { client, trainer } = await setUp({ startFineTune: () => undefined /* never answers */ });
    const error = await rejection(client.startFineTune({ spec: specDefaults() }, { deadlineMs: 150 }));
    assert.equal(error.code, GrpcStatus.DEADLINE_EXCEEDED);
    assert.equal(trainer.calls.startFineTune, 1);
  });

  it('retries StartFineTune that carries an idempotency key', async () => {
    let failuresLeft = 1;
    const keysSeen: string[] = [];
    const { client, trainer } = await setUp({
      startFineTune: (call, callback) => {
        keysSeen.push(call.request.idempotencyKey);
        if (failuresLeft-- > 0) callback({ code: GrpcStatus.UNAVAILABLE, details: 'down' });
        else callback(null, { job: runningJob('job-7'), created: true });
      },
    });
    const response = await client.startFineTune({ spec: specDefaults(), idempotencyKey: 'key-1' });
    assert.equal(response.job?.id, 'job-7');
    assert.equal(trainer.calls.startFineTune, 2);
    assert.deepEqual(keysSeen, ['key-1', 'key-1']);
  });

  it('waits at least the RetryInfo delay before retrying RESOURCE_EXHAUSTED', async () => {
    const arrivals: number[] = [];
    const { client } = await setUp({
      evaluate: (_call, callback) => {
        arrivals.push(Date.now());
        if (arrivals.length === 1) callback(richStatus(GrpcStatus.RESOURCE_EXHAUSTED, 'busy', { retryDelayMs: 150 }));
        else callback(null, { evaluations: [], summary: undefined, ensemble: undefined });
      },
    });
    await client.evaluate({ jobId: 'job-1' });
    assert.equal(arrivals.length, 2);
    assert.ok(arrivals[1] - arrivals[0] >= 140, `retried after ${arrivals[1] - arrivals[0]} ms`);
  });

  it('exposes retryDelayMs on the error', async () => {
    const { client } = await setUp({
      predict: (_call, callback) => callback(richStatus(GrpcStatus.RESOURCE_EXHAUSTED, 'quota', { retryDelayMs: 2500 })),
    });
    // A 1 s deadline leaves no room for the 2.5 s wait, so the first error is final.
    const error = await rejection(client.predict({ jobId: 'job-1', examples: [] }, { deadlineMs: 1000 }));
    assert.equal(error.retryDelayMs, 2500);
  });
});

describe('deadlines and cancellation', () => {
  it('surfaces an expired deadline as DEADLINE_EXCEEDED', async () => {
    const { client, trainer } = await setUp({ getJob: () => undefined /* never answers */ });
    const started = Date.now();
    const error = await rejection(client.getJob('job-1', { deadlineMs: 150 }));
    assert.equal(error.code, GrpcStatus.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - started < 2000);
    // Our own deadline covers the retries too, so there is nothing left to retry with.
    assert.equal(trainer.calls.getJob, 1);
  });

  it('turns an aborted signal into CANCELLED', async () => {
    const { client } = await setUp({ getJob: () => undefined });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const error = await rejection(client.getJob('job-1', { signal: controller.signal }));
    assert.equal(error.code, GrpcStatus.CANCELLED);
  });
});

describe('connection failures', () => {
  function downClient(address: string, connectTimeoutMs?: number): SteadytuneClient {
    const client = new SteadytuneClient(address, { retry: fastRetry, connectTimeoutMs });
    openClients.push(client);
    return client;
  }

  it('a deadline error names the failure that used the time up, not just "Deadline exceeded after 0.001s"', async () => {
    let answered = false;
    const { client } = await setUp({
      getJob: (_call, callback) => {
        if (answered) return; // the retry never answers: it runs into the deadline
        answered = true;
        callback({ code: GrpcStatus.UNAVAILABLE, details: 'restarting' });
      },
    });
    const error = await rejection(client.getJob('job-1', { deadlineMs: 300 }));
    assert.equal(error.code, GrpcStatus.DEADLINE_EXCEEDED);
    assert.match(error.details, /the attempt before failed with UNAVAILABLE: restarting$/);
    assert.ok(error.cause instanceof SteadytuneError && error.cause.code === GrpcStatus.UNAVAILABLE);
  });

  it('against a server that is down, the deadline error names the address and the connection error', async () => {
    const address = await downServerAddress();
    const error = await rejection(downClient(address).getJob('job-1', { deadlineMs: 500 }));
    assert.equal(error.code, GrpcStatus.DEADLINE_EXCEEDED);
    assert.match(
      error.details,
      new RegExp(`waiting to reconnect to ${address}; the attempt before failed with UNAVAILABLE: .*ECONNREFUSED`),
    );
  });

  it('connectTimeoutMs bounds the wait for a server that never came up', async () => {
    const address = await downServerAddress();
    const error = await rejection(downClient(address, 200).getJob('job-1'));
    assert.equal(error.code, GrpcStatus.UNAVAILABLE);
    assert.match(error.details, new RegExp(`^cannot connect to ${address} within 200 ms: .*ECONNREFUSED`));
  });

  it('connectTimeoutMs does not cut reconnects once the channel has connected', async () => {
    const script = {
      getJob: (call: { request: { jobId: string } }, callback: (error: null, response: { job: ReturnType<typeof runningJob> }) => void) =>
        callback(null, { job: runningJob(call.request.jobId) }),
    };
    const trainer = await startFakeTrainer(script);
    openTrainers.push(trainer);
    const client = downClient(trainer.address, 100);
    assert.equal((await client.getJob('job-1')).id, 'job-1');
    await trainer.stop();
    // Down for 1 s, ten times the connect timeout: the ordinary retries ride it out.
    const restarting = new Promise<void>((resolve, reject) =>
      setTimeout(() => startFakeTrainer(script, trainer.port).then((started) => resolve(void openTrainers.push(started)), reject), 1000),
    );
    const job = await client.getJob('job-2').finally(() => restarting);
    assert.equal(job.id, 'job-2');
  });
});
