// Request limits over the wire: active jobs per tenant and overall, metric streams per job and
// overall (RESOURCE_EXHAUSTED with a google.rpc.RetryInfo delay), message size
// (RESOURCE_EXHAUSTED from grpc-js), Predict batch and seed count (INVALID_ARGUMENT).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GrpcStatus, type Job, type StreamMetricsResponse, type SteadytuneClient } from '../../client/index.js';
import { startConfiguredServer, tokensVariable, type ConfiguredServer } from '../fixtures/configured-server.js';
import { rejection, tinySpec } from '../fixtures/server-harness.js';

const TOKENS = { a: 'stt_limits-a', b: 'stt_limits-b', c: 'stt_limits-c' };
const JOB_LIMIT_RETRY_MS = 10_000;
const STREAM_LIMIT_RETRY_MS = 1_000;
/** All training digits for many epochs: stays active until cancelled. */
const longSpec = () => tinySpec({ examples: 0, epochs: 50, seeds: [1] });

/** Opens a metrics stream and waits for its first event, so it holds its slot. */
async function openStream(client: SteadytuneClient, jobId: string): Promise<AsyncGenerator<StreamMetricsResponse>> {
  const stream = client.streamMetrics(jobId);
  const first = await stream.next();
  assert.equal(first.done, false);
  return stream;
}

describe('request limits', () => {
  let server: ConfiguredServer;
  const clients: Record<keyof typeof TOKENS, SteadytuneClient> = Object.create(null);
  const jobs: Job[] = [];

  before(async () => {
    server = await startConfiguredServer({
      STEADYTUNE_TOKENS: tokensVariable(TOKENS),
      STEADYTUNE_MAX_ACTIVE_JOBS_PER_TENANT: '1',
      STEADYTUNE_MAX_ACTIVE_JOBS: '2',
      STEADYTUNE_MAX_STREAMS_PER_JOB: '1',
      STEADYTUNE_MAX_STREAMS: '2',
      STEADYTUNE_MAX_MESSAGE_BYTES: String(64 * 1024),
      STEADYTUNE_MAX_PREDICT_EXAMPLES: '8',
    });
    // No retries: the test wants to see each refusal, not the SDK's backoff.
    for (const [tenant, token] of Object.entries(TOKENS)) {
      clients[tenant as keyof typeof TOKENS] = server.client({ token, retry: { maxAttempts: 1 } });
    }
  });
  after(async () => {
    await Promise.all(jobs.map((job) => clients.a.cancelJob(job.id).catch(() => undefined)));
    await server.stop();
  });

  async function start(tenant: keyof typeof TOKENS, idempotencyKey = ''): Promise<Job> {
    const { job } = await clients[tenant].startFineTune({ spec: longSpec(), idempotencyKey });
    assert.ok(job);
    return job;
  }

  it('caps active jobs per tenant, with a retry hint', async () => {
    jobs.push(await start('a', 'first'));
    const error = await rejection(start('a'));
    assert.equal(error.code, GrpcStatus.RESOURCE_EXHAUSTED, error.message);
    assert.match(error.details, /tenant has 1 active jobs/);
    assert.equal(error.retryDelayMs, JOB_LIMIT_RETRY_MS);
  });

  it('still answers a retried StartFineTune (same idempotency key) with its job at the cap', async () => {
    const replay = await clients.a.startFineTune({ spec: longSpec(), idempotencyKey: 'first' });
    assert.equal(replay.created, false);
    assert.equal(replay.job?.id, jobs[0]?.id);
  });

  it('caps active jobs over all tenants', async () => {
    const b = await clients.b.startFineTune({ spec: longSpec() });
    assert.ok(b.job);
    jobs.push(b.job);
    const error = await rejection(start('c'));
    assert.equal(error.code, GrpcStatus.RESOURCE_EXHAUSTED, error.message);
    assert.match(error.details, /the server has 2 active jobs/);
  });

  it('caps metric streams per job and overall, and frees a slot when a stream closes', async () => {
    const [jobA, jobB] = [jobs[0]?.id ?? '', jobs[1]?.id ?? ''];
    const first = await openStream(clients.a, jobA);
    const perJob = await rejection(openStream(clients.a, jobA));
    assert.equal(perJob.code, GrpcStatus.RESOURCE_EXHAUSTED, perJob.message);
    assert.equal(perJob.retryDelayMs, STREAM_LIMIT_RETRY_MS);
    const second = await openStream(clients.b, jobB);
    const overall = await rejection(openStream(clients.c, 'any-job'));
    assert.equal(overall.code, GrpcStatus.RESOURCE_EXHAUSTED, overall.message);
    assert.match(overall.details, /the server has 2 open metric streams/);
    await first.return(undefined);
    await second.return(undefined);
    // The server learns of the cancel asynchronously: poll briefly for the freed slot.
    let reopened: AsyncGenerator<StreamMetricsResponse> | undefined;
    for (let attempt = 0; reopened === undefined; attempt += 1) {
      try {
        reopened = await openStream(clients.a, jobA);
      } catch (error) {
        assert.ok(attempt < 50, `slot not freed: ${String(error)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    await reopened.return(undefined);
  });

  it('admits a job again once an active one is cancelled', async () => {
    const cancelled = jobs.shift();
    assert.ok(cancelled);
    await clients.a.cancelJob(cancelled.id);
    await clients.a.waitForJob(cancelled.id);
    jobs.push(await start('a'));
  });

  it('refuses a request larger than the message limit with RESOURCE_EXHAUSTED', async () => {
    const features = new Array<number>(20_000).fill(0.5);
    const error = await rejection(clients.a.predict({ jobId: 'x', examples: [{ features }] }));
    assert.equal(error.code, GrpcStatus.RESOURCE_EXHAUSTED, error.message);
  });

  it('keeps an error that quotes a huge input within trailer limits, so the connection survives', async () => {
    const error = await rejection(clients.a.listJobs({ labelSelector: { ['K'.repeat(60_000)]: 'v' } }));
    assert.equal(error.code, GrpcStatus.INVALID_ARGUMENT, error.message);
    assert.match(error.fieldViolations[0]?.field ?? '', /^label_selector\["K+…"\]$/);
    assert.ok((await clients.a.listJobs()).jobs.length > 0);
  });

  it('refuses more Predict examples than allowed, and more seeds than a job takes, as INVALID_ARGUMENT', async () => {
    const examples = Array.from({ length: 9 }, () => ({ features: [0] }));
    const tooMany = await rejection(clients.a.predict({ jobId: 'x', examples }));
    assert.equal(tooMany.code, GrpcStatus.INVALID_ARGUMENT);
    assert.deepEqual(
      tooMany.fieldViolations.map((v) => v.field),
      ['examples'],
    );
    const seeds = Array.from({ length: 33 }, (_, i) => i + 1);
    const tooManySeeds = await rejection(clients.c.startFineTune({ spec: { ...longSpec(), seeds } }));
    assert.equal(tooManySeeds.code, GrpcStatus.INVALID_ARGUMENT);
    assert.deepEqual(
      tooManySeeds.fieldViolations.map((v) => v.field),
      ['spec.seeds'],
    );
  });
});
