// Resumable StreamMetrics against a scripted fake Trainer (see client-fake-trainer.ts).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { GrpcStatus, SteadytuneClient, SteadytuneError, type StreamMetricsResponse } from '../../client/index.js';
import { Job, JobState, type StreamMetricsRequest } from '../../client/gen/steadytune/v1/trainer.js';
import { startFakeTrainer, type FakeTrainer } from '../fixtures/client-fake-trainer.js';

type MetricsCall = ServerWritableStream<StreamMetricsRequest, StreamMetricsResponse>;

const openTrainers: FakeTrainer[] = [];
const openClients: SteadytuneClient[] = [];

async function setUp(streamMetrics: (call: MetricsCall) => void, maxAttempts = 4) {
  const trainer = await startFakeTrainer({ streamMetrics });
  const client = new SteadytuneClient(trainer.address, { retry: { maxAttempts, initialBackoffMs: 5, maxBackoffMs: 20 } });
  openTrainers.push(trainer);
  openClients.push(client);
  return { trainer, client };
}

after(async () => {
  for (const client of openClients) client.close();
  for (const trainer of openTrainers) await trainer.stop();
});

function event(sequence: number): StreamMetricsResponse {
  return { sequence, seed: 42, time: undefined, event: { $case: 'notice', value: { message: `event ${sequence}` } } };
}

/** Writes events [from, to] of a job log then ends the call with `status` (OK when absent). */
function emitRange(call: MetricsCall, from: number, to: number, status?: { code: GrpcStatus; details: string }): void {
  for (let sequence = from; sequence <= to; sequence++) call.write(event(sequence));
  if (status) call.emit('error', status);
  else call.end();
}

async function collect(stream: AsyncIterable<StreamMetricsResponse>): Promise<number[]> {
  const sequences: number[] = [];
  for await (const item of stream) sequences.push(item.sequence);
  return sequences;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, index) => from + index);

describe('streamMetrics', () => {
  it('resumes after UNAVAILABLE from lastSeen + 1 so each sequence arrives exactly once', async () => {
    const total = 10;
    const failAfter = 4;
    const requested: number[] = [];
    const { client } = await setUp((call) => {
      requested.push(call.request.fromSequence);
      if (requested.length === 1) emitRange(call, 1, failAfter, { code: GrpcStatus.UNAVAILABLE, details: 'pod going away' });
      else emitRange(call, call.request.fromSequence, total);
    });
    assert.deepEqual(await collect(client.streamMetrics('job-1')), range(1, total));
    assert.deepEqual(requested, [0, failAfter + 1]);
  });

  it('drops events the server replays after a reconnect', async () => {
    let calls = 0;
    const { client } = await setUp((call) => {
      calls++;
      // The second connection deliberately starts two events early.
      if (calls === 1) emitRange(call, 1, 5, { code: GrpcStatus.UNAVAILABLE, details: 'blip' });
      else emitRange(call, call.request.fromSequence - 2, 8);
    });
    assert.deepEqual(await collect(client.streamMetrics('job-1')), range(1, 8));
  });

  it('reconnects on transport-level INTERNAL (RST_STREAM)', async () => {
    let calls = 0;
    const { client } = await setUp((call) => {
      calls++;
      if (calls === 1) emitRange(call, 1, 2, { code: GrpcStatus.INTERNAL, details: 'Received RST_STREAM with code 2' });
      else emitRange(call, call.request.fromSequence, 3);
    });
    assert.deepEqual(await collect(client.streamMetrics('job-1')), [1, 2, 3]);
  });

  it('starts from fromSequence and keeps counting from there', async () => {
    const requested: number[] = [];
    const { client } = await setUp((call) => {
      requested.push(call.request.fromSequence);
      if (requested.length === 1) emitRange(call, call.request.fromSequence, 7, { code: GrpcStatus.UNAVAILABLE, details: 'x' });
      else emitRange(call, call.request.fromSequence, 9);
    });
    assert.deepEqual(await collect(client.streamMetrics('job-1', { fromSequence: 6 })), [6, 7, 8, 9]);
    assert.deepEqual(requested, [6, 8]);
  });

  it('does not reconnect on application errors', async () => {
    const { client, trainer } = await setUp((call) => emitRange(call, 1, 1, { code: GrpcStatus.NOT_FOUND, details: 'no such job' }));
    const seen: number[] = [];
    await assert.rejects(
      async () => {
        for await (const item of client.streamMetrics('job-1')) seen.push(item.sequence);
      },
      (error: unknown) => error instanceof SteadytuneError && error.code === GrpcStatus.NOT_FOUND,
    );
    assert.deepEqual(seen, [1]);
    assert.equal(trainer.calls.streamMetrics, 1);
  });

  it('gives up after maxReconnects consecutive failures without progress', async () => {
    const { client, trainer } = await setUp((call) => call.emit('error', { code: GrpcStatus.UNAVAILABLE, details: 'down' }));
    await assert.rejects(
      collect(client.streamMetrics('job-1', { maxReconnects: 3 })),
      (error: unknown) => error instanceof SteadytuneError && error.code === GrpcStatus.UNAVAILABLE,
    );
    assert.equal(trainer.calls.streamMetrics, 4);
  });

  it('cancels the call when the consumer breaks out of the loop', async () => {
    let markCancelled: () => void = () => undefined;
    const serverSawCancel = new Promise<void>((resolve) => (markCancelled = resolve));
    const { client } = await setUp((call) => {
      call.on('cancelled', () => markCancelled());
      call.write(event(1)); // ...and then follows "live" forever.
    });
    for await (const item of client.streamMetrics('job-1')) {
      assert.equal(item.sequence, 1);
      break;
    }
    await serverSawCancel;
  });

  it('stops with CANCELLED when the signal aborts mid-stream', async () => {
    const { client } = await setUp((call) => call.write(event(1)));
    const controller = new AbortController();
    await assert.rejects(
      async () => {
        for await (const item of client.streamMetrics('job-1', { signal: controller.signal })) {
          if (item.sequence === 1) controller.abort();
        }
      },
      (error: unknown) => error instanceof SteadytuneError && error.code === GrpcStatus.CANCELLED,
    );
  });

  it('waitForJob follows the stream from the newest event and returns the finished job', async () => {
    const requested: number[] = [];
    let state = JobState.JOB_STATE_RUNNING;
    const trainer = await startFakeTrainer({
      getJob: (call, callback) => callback(null, { job: Job.fromPartial({ id: call.request.jobId, state, lastSequence: 5 }) }),
      streamMetrics: (call) => {
        requested.push(call.request.fromSequence);
        state = JobState.JOB_STATE_SUCCEEDED;
        emitRange(call, call.request.fromSequence, 7);
      },
    });
    openTrainers.push(trainer);
    const client = new SteadytuneClient(trainer.address);
    openClients.push(client);
    const job = await client.waitForJob('job-1');
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED);
    assert.deepEqual(requested, [6]);
  });
});
