// kill -9 the real server three times in the middle of one job's epochs, restarting it on the
// same data directory (and port) each time: the job resumes from its checkpoints and SUCCEEDS
// with the weights an uninterrupted run of the same seed gets, and a client streaming across
// the crashes (the SDK reconnects) sees every sequence number once, every step once.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { JobState, type FineTuneSpec, type StreamMetricsResponse } from '../../client/index.js';
import { assertDense, collect, tinySpec } from '../fixtures/server-harness.js';
import {
  clientFor,
  maxAbsDifference,
  notices,
  savedWeights,
  startServerProcess,
  stepNumbers,
  type ServerProcess,
} from '../fixtures/server-process.js';

const EXAMPLES = 3200;
const STEPS_PER_EPOCH = EXAMPLES / 32;
const EPOCHS = 2;
/** A kill lands once the stream has shown a step at or past each of these, well inside an epoch. */
const KILL_AFTER_STEPS = [30, 75, 130];
const CHECKPOINT_EVERY = '5';

function spec(): FineTuneSpec {
  const base = tinySpec({ examples: EXAMPLES, epochs: EPOCHS, seeds: [7] });
  // Dropout on: its masks must follow the step counter, not calls a restart forgets.
  return { ...base, model: { family: { $case: 'mlp', value: { hiddenUnits: [32], dropout: 0.1 } } } };
}

describe('crash and resume', { timeout: 300_000 }, () => {
  let dataDir = '';
  let server: ServerProcess | undefined;

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'steadytune-crash-'));
  });
  after(async () => {
    server?.child.kill('SIGKILL');
    await server?.exited;
    await rm(dataDir, { recursive: true, force: true });
  });

  const start = async (port = 0): Promise<ServerProcess> =>
    startServerProcess({ dataDir, port, env: { STEADYTUNE_CHECKPOINT_EVERY_STEPS: CHECKPOINT_EVERY } });

  it('survives three kill -9 mid-epoch and ends with the uninterrupted weights', async () => {
    const began = performance.now();
    server = await start();
    const { port } = server;
    const client = clientFor(port);
    const jobId = (await client.startFineTune({ spec: spec() })).job?.id ?? assert.fail('no job');

    // One SDK stream across every crash: it reconnects to the same address until the job ends.
    const streamed: StreamMetricsResponse[] = [];
    let awaitedStep: { readonly atLeast: number; readonly reached: () => void } | undefined;
    const streaming = (async () => {
      for await (const event of client.streamMetrics(jobId, { maxReconnects: 500 })) {
        streamed.push(event);
        const step = event.event?.$case === 'step' ? event.event.value.step : 0;
        const inEpoch = step % STEPS_PER_EPOCH;
        if (awaitedStep !== undefined && step >= awaitedStep.atLeast && inEpoch > 2 && inEpoch < STEPS_PER_EPOCH - 10) {
          awaitedStep.reached();
          awaitedStep = undefined;
        }
      }
    })();

    const killedAt: number[] = [];
    for (const atLeast of KILL_AFTER_STEPS) {
      await new Promise<void>((reached) => (awaitedStep = { atLeast, reached }));
      const killed: ServerProcess = server;
      killed.child.kill('SIGKILL');
      assert.equal((await killed.exited).signal, 'SIGKILL');
      killedAt.push(stepNumbers(streamed).at(-1) ?? 0);
      server = await start(port);
    }
    await streaming;
    const crashedMs = performance.now() - began;

    // The streaming client saw each sequence exactly once, without gaps.
    assertDense(streamed);
    const job = await client.getJob(jobId);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, job.reason);
    assert.equal(job.lastSequence, streamed.length);

    // The stored log, replayed whole: dense, every step once, resumed from checkpoints each time.
    const replay = await collect(client.streamMetrics(jobId));
    assertDense(replay);
    assert.deepEqual(
      replay.map((e) => e.sequence),
      streamed.map((e) => e.sequence),
    );
    const totalSteps = EPOCHS * STEPS_PER_EPOCH;
    assert.deepEqual(
      stepNumbers(replay),
      Array.from({ length: totalSteps }, (_, i) => i + 1),
    );
    const states = replay.flatMap((e) => (e.event?.$case === 'stateChanged' ? [e.event.value.state] : []));
    assert.deepEqual(states, [JobState.JOB_STATE_QUEUED, JobState.JOB_STATE_RUNNING, JobState.JOB_STATE_SUCCEEDED]);
    assert.equal(replay.filter((e) => e.event?.$case === 'runStarted').length, 1);
    assert.equal(replay.filter((e) => e.event?.$case === 'epoch').length, EPOCHS);
    const resumedFrom = notices(replay).flatMap((message) => {
      const match = /resuming from the checkpoint at step (\d+)/.exec(message);
      return match === null ? [] : [Number(match[1])];
    });
    assert.equal(resumedFrom.length, KILL_AFTER_STEPS.length, `resumed from checkpoints: ${resumedFrom}`);
    resumedFrom.forEach((step, i) => {
      // The newest checkpoint at or below the last logged step, and the client saw killedAt: at
      // most two checkpoint intervals back (a kill between a step's event and its checkpoint).
      assert.ok(step >= (killedAt[i] ?? 0) - 2 * Number(CHECKPOINT_EVERY), `resume ${i} at ${step}, killed after ${killedAt[i]}`);
    });
    assert.equal(notices(replay).filter((m) => m === 'resumed after a server restart').length, KILL_AFTER_STEPS.length);

    // The same seed, never interrupted, on the same backend: the same weights.
    const straightId = (await client.startFineTune({ spec: spec() })).job?.id ?? assert.fail('no job');
    const straight = await client.waitForJob(straightId);
    assert.equal(straight.state, JobState.JOB_STATE_SUCCEEDED);
    const difference = maxAbsDifference(await savedWeights(dataDir, jobId, 7), await savedWeights(dataDir, straightId, 7));
    assert.ok(difference <= 1e-6, `weights differ by up to ${difference}`);
    console.log(
      `crash-resume: killed after steps ${killedAt}, resumed from ${resumedFrom}, ${replay.length} events, ` +
        `job with crashes ${(crashedMs / 1000).toFixed(1)} s, max weight difference ${difference}`,
    );
    client.close();
  });
});
