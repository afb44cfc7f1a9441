// SIGTERM in the middle of a run, with a client streaming: the server checkpoints the run at
// its next step, leaves the job resumable (not FAILED), ends the stream with UNAVAILABLE and
// exits 0 well within 30 s; started again on the same data directory (and port) it resumes the
// job from that checkpoint, the job SUCCEEDS, and the client's stream carries on without gaps.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { JobState, type StreamMetricsResponse } from '../../client/index.js';
import { assertDense, collect, tinySpec } from '../fixtures/server-harness.js';
import { clientFor, notices, startServerProcess, stepNumbers, type ServerProcess } from '../fixtures/server-process.js';

const EXAMPLES = 3200;
const EPOCHS = 2;
const DRAIN_AFTER_STEP = 20;

describe('draining on SIGTERM', { timeout: 240_000 }, () => {
  let dataDir = '';
  let server: ServerProcess | undefined;

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'steadytune-drain-'));
  });
  after(async () => {
    server?.child.kill('SIGKILL');
    await server?.exited;
    await rm(dataDir, { recursive: true, force: true });
  });

  // Periodic checkpoints far apart: the one a resume finds mid-epoch can only be the drain's.
  const start = (port = 0): Promise<ServerProcess> =>
    startServerProcess({ dataDir, port, env: { STEADYTUNE_CHECKPOINT_EVERY_STEPS: '100000' } });

  it('exits 0 within 30 s with the job resumable, and the next start finishes it', async () => {
    server = await start();
    const { port } = server;
    const client = clientFor(port);
    const jobId =
      (await client.startFineTune({ spec: tinySpec({ examples: EXAMPLES, epochs: EPOCHS, seeds: [9] }) })).job?.id ?? assert.fail('no job');
    // Streaming through the drain and the restart: the SDK resumes at the next sequence.
    const streamed: StreamMetricsResponse[] = [];
    let drainPoint: () => void = () => {};
    const reachedDrainPoint = new Promise<void>((resolve) => (drainPoint = resolve));
    const streaming = (async () => {
      for await (const event of client.streamMetrics(jobId, { maxReconnects: 500 })) {
        streamed.push(event);
        if (event.event?.$case === 'step' && event.event.value.step >= DRAIN_AFTER_STEP) drainPoint();
      }
    })();
    await reachedDrainPoint;
    const seenStep = stepNumbers(streamed).at(-1) ?? 0;

    const signalled = performance.now();
    server.child.kill('SIGTERM');
    const { code } = await server.exited;
    const drainMs = performance.now() - signalled;
    assert.equal(code, 0, server.stderr());
    assert.ok(drainMs < 30_000, `exited after ${drainMs} ms`);
    assert.ok(server.logs.some((entry) => entry['msg'] === 'job suspended; it resumes on the next start'));
    assert.ok(!server.logs.some((entry) => entry['msg'] === 'job ended'), 'the job did not end');

    server = await start(port);
    await streaming;
    assertDense(streamed);
    const events = await collect(client.streamMetrics(jobId));
    assertDense(events);
    assert.equal(streamed.length, events.length, 'the stream across the drain saw every event');
    const states = events.flatMap((e) => (e.event?.$case === 'stateChanged' ? [e.event.value.state] : []));
    assert.deepEqual(states, [JobState.JOB_STATE_QUEUED, JobState.JOB_STATE_RUNNING, JobState.JOB_STATE_SUCCEEDED]);
    const totalSteps = EPOCHS * (EXAMPLES / 32);
    assert.deepEqual(
      stepNumbers(events),
      Array.from({ length: totalSteps }, (_, i) => i + 1),
    );
    const resumedAt = notices(events)
      .flatMap((m) => /resuming from the checkpoint at step (\d+)/.exec(m)?.[1] ?? [])
      .map(Number);
    assert.equal(resumedAt.length, 1, `one resume: ${notices(events)}`);
    assert.ok((resumedAt[0] ?? 0) >= seenStep, `resumed from the drain's checkpoint (${resumedAt[0]}), not from scratch`);
    const job = await client.getJob(jobId);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED);
    console.log(`drain: SIGTERM after step ${seenStep}, exit 0 after ${(drainMs / 1000).toFixed(1)} s, resumed from step ${resumedAt[0]}`);
    client.close();
  });
});
