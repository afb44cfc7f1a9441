// CancelJob on a running job: CANCELLING at once, CANCELLED within a step, and the stream ends.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { JobState, RunState, type StreamMetricsResponse } from '../../client/index.js';
import { assertDense, startTestServer, tinySpec, type TestServer } from '../fixtures/server-harness.js';

describe('cancelling a running job', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  it('passes CANCELLING and reaches CANCELLED; the stream ends there', async () => {
    // Long enough (all digits, 20 epochs) that it is surely still running when we cancel.
    const started = await server.client.startFineTune({ spec: tinySpec({ examples: 0, epochs: 20, seeds: [7] }) });
    const jobId = started.job?.id ?? assert.fail('no job');

    const events: StreamMetricsResponse[] = [];
    let cancelState: JobState | undefined;
    for await (const event of server.client.streamMetrics(jobId)) {
      events.push(event);
      if (event.event?.$case === 'step' && cancelState === undefined) {
        const cancelled = await server.client.cancelJob(jobId);
        cancelState = cancelled.state;
      }
    }
    assert.ok(
      cancelState === JobState.JOB_STATE_CANCELLING || cancelState === JobState.JOB_STATE_CANCELLED,
      `CancelJob answered ${cancelState}`,
    );
    assertDense(events);
    const states = events.flatMap((e) => (e.event?.$case === 'stateChanged' ? [e.event.value.state] : []));
    assert.deepEqual(states.slice(-2), [JobState.JOB_STATE_CANCELLING, JobState.JOB_STATE_CANCELLED]);
    const steps = events.filter((e) => e.event?.$case === 'step');
    const totalSteps = steps[0]?.event?.$case === 'step' ? steps[0].event.value.totalSteps : 0;
    assert.ok(steps.length < totalSteps / 2, `stopped early: ${steps.length} of ${totalSteps} steps`);

    const job = await server.client.getJob(jobId);
    assert.equal(job.state, JobState.JOB_STATE_CANCELLED);
    assert.ok(job.reason.length > 0, 'a cancelled job says why');
    assert.equal(job.runs[0]?.state, RunState.RUN_STATE_CANCELLED);
    assert.deepEqual(job.transitions.map((t) => t.state).slice(-2), [JobState.JOB_STATE_CANCELLING, JobState.JOB_STATE_CANCELLED]);
  });
});
