// A StreamMetrics cut after N events and resumed from N + 1 delivers every event exactly once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { credentials } from '@grpc/grpc-js';
import { TrainerClient, type StreamMetricsResponse } from '../../client/gen/steadytune/v1/trainer.js';
import { JobState } from '../../client/index.js';
import { assertDense, collect, startTestServer, tinySpec, type TestServer } from '../fixtures/server-harness.js';

const CUT_AFTER = 6;

describe('resumable StreamMetrics', () => {
  let server: TestServer;
  let raw: TrainerClient;

  before(async () => {
    server = await startTestServer();
    raw = new TrainerClient(server.address, credentials.createInsecure());
  });
  after(async () => {
    raw.close();
    await server.stop();
  });

  it('resumes a live stream from N + 1 without gaps or repeats', async () => {
    // All the digits: a few hundred steps, so the cut lands while the job is still training.
    const started = await server.client.startFineTune({ spec: tinySpec({ examples: 0, seeds: [3] }) });
    const jobId = started.job?.id ?? assert.fail('no job');

    // Cut while the job is still producing: the SDK cancels the call when the loop breaks.
    const head: StreamMetricsResponse[] = [];
    for await (const event of server.client.streamMetrics(jobId)) {
      head.push(event);
      if (head.length === CUT_AFTER) break;
    }
    assertDense(head);
    const atCut = await server.client.getJob(jobId);
    assert.equal(atCut.state, JobState.JOB_STATE_RUNNING, 'cut during training, not after it');

    // The raw generated client shows what the server sends (the SDK would hide duplicates).
    const tail = await collect(raw.streamMetrics({ jobId, fromSequence: CUT_AFTER + 1 }));
    assert.equal(tail[0]?.sequence, CUT_AFTER + 1);
    const all = [...head, ...tail];
    assertDense(all);
    const last = all.at(-1);
    assert.equal(last?.event?.$case === 'stateChanged' && last.event.value.state, JobState.JOB_STATE_SUCCEEDED);

    const job = await server.client.getJob(jobId);
    assert.equal(job.lastSequence, all.length);
  });

  it('replays a finished job from any point, and from_sequence 0 and 1 both mean the start', async () => {
    const { job } = await server.client.startFineTune({ spec: tinySpec({ seeds: [4] }) });
    const jobId = job?.id ?? assert.fail('no job');
    const full = await collect(server.client.streamMetrics(jobId));
    assertDense(full);
    const fromZero = await collect(raw.streamMetrics({ jobId, fromSequence: 0 }));
    const fromOne = await collect(raw.streamMetrics({ jobId, fromSequence: 1 }));
    assert.deepEqual(
      fromZero.map((e) => e.sequence),
      full.map((e) => e.sequence),
    );
    assert.deepEqual(
      fromOne.map((e) => e.sequence),
      full.map((e) => e.sequence),
    );
    const middle = Math.floor(full.length / 2);
    const rest = await collect(server.client.streamMetrics(jobId, { fromSequence: middle }));
    assertDense(rest, middle);
    assert.equal(rest.length, full.length - middle + 1);
    const beyond = await collect(raw.streamMetrics({ jobId, fromSequence: full.length + 1 }));
    assert.equal(beyond.length, 0);
  });
});
