// A whole fine-tune over the wire: start → stream to the end → get → evaluate → predict → list.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { JobState, RunState, type Job, type StreamMetricsResponse } from '../../client/index.js';
import { assertDense, collect, startTestServer, tinySpec, type TestServer } from '../fixtures/server-harness.js';

describe('fine-tune lifecycle', () => {
  let server: TestServer;
  let job: Job;
  let events: StreamMetricsResponse[];

  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  it('starts a job that is QUEUED with its spec echoed back', async () => {
    const spec = tinySpec({ seeds: [1, 2] });
    const started = await server.client.startFineTune({ spec, displayName: 'lifecycle', labels: { suite: 'lifecycle' } });
    assert.equal(started.created, true);
    assert.ok(started.job);
    job = started.job;
    assert.equal(job.state, JobState.JOB_STATE_QUEUED);
    assert.equal(job.displayName, 'lifecycle');
    assert.deepEqual(job.labels, { suite: 'lifecycle' });
    assert.deepEqual(job.spec?.seeds, [1, 2]);
    assert.equal(job.spec?.train?.maxExamples, 320);
  });

  it('streams every event, densely numbered, until SUCCEEDED', async () => {
    events = await collect(server.client.streamMetrics(job.id));
    assertDense(events);
    const states = events.flatMap((e) => (e.event?.$case === 'stateChanged' ? [e.event.value.state] : []));
    assert.equal(states[0], JobState.JOB_STATE_QUEUED);
    assert.ok(states.includes(JobState.JOB_STATE_RUNNING));
    assert.equal(states.at(-1), JobState.JOB_STATE_SUCCEEDED);
    for (const seed of [1, 2]) {
      const steps = events.filter((e) => e.seed === seed && e.event?.$case === 'step');
      const started = events.find((e) => e.seed === seed && e.event?.$case === 'runStarted');
      const totalSteps = started?.event?.$case === 'runStarted' ? started.event.value.totalSteps : -1;
      // About 320 examples / batch 32: one epoch is ~10 optimizer steps, each reported once.
      assert.ok(totalSteps >= 9 && totalSteps <= 11, `seed ${seed} total steps ${totalSteps}`);
      assert.equal(steps.length, totalSteps, `seed ${seed} step events`);
      assert.ok(events.some((e) => e.seed === seed && e.event?.$case === 'epoch'));
      assert.ok(events.some((e) => e.seed === seed && e.event?.$case === 'runFinished'));
    }
    const step = events.find((e) => e.event?.$case === 'step');
    assert.ok(step?.time instanceof Date);
    if (step?.event?.$case === 'step') {
      assert.ok(Number.isFinite(step.event.value.loss));
      assert.ok(step.event.value.alpha >= 0 && step.event.value.alpha <= 1);
    }
  });

  it('gets the finished job with per-seed runs and a stability summary', async () => {
    const finished = await server.client.getJob(job.id);
    assert.equal(finished.state, JobState.JOB_STATE_SUCCEEDED);
    assert.equal(finished.lastSequence, events.at(-1)?.sequence);
    assert.deepEqual(
      finished.transitions.map((t) => t.state),
      [JobState.JOB_STATE_QUEUED, JobState.JOB_STATE_RUNNING, JobState.JOB_STATE_SUCCEEDED],
    );
    assert.equal(finished.runs.length, 2);
    for (const run of finished.runs) {
      assert.equal(run.state, RunState.RUN_STATE_SUCCEEDED);
      assert.equal(run.steps, run.totalSteps);
      assert.ok(run.metrics && run.metrics.examples > 0);
    }
    assert.equal(finished.summary?.runs, 2);
    // Ten steps on a few hundred digits already beat chance (0.1) clearly.
    assert.ok((finished.summary?.accuracy?.mean ?? 0) > 0.25, `accuracy ${finished.summary?.accuracy?.mean}`);
  });

  it('evaluates every seed and the ensemble vote', async () => {
    const report = await server.client.evaluate({ jobId: job.id, ensemble: true });
    assert.deepEqual(report.evaluations.map((e) => e.seed).sort(), [1, 2]);
    for (const { metrics } of report.evaluations) {
      assert.ok(metrics);
      assert.equal(metrics.numClasses, 10);
      assert.equal(metrics.confusion.length, 100);
      assert.equal(metrics.perClassRecall.length, 10);
    }
    assert.ok(report.ensemble, 'ensemble metrics');
    assert.equal(report.summary?.runs, 2);
  });

  it('predicts with one seed and with the vote', async () => {
    const blank = { features: new Array<number>(784).fill(0) };
    const single = await server.client.predict({ jobId: job.id, seed: 1, examples: [blank] });
    assert.equal(single.predictions.length, 1);
    const probabilities = single.predictions[0]?.probabilities ?? [];
    assert.equal(probabilities.length, 10);
    assert.ok(Math.abs(probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-3);
    const vote = await server.client.predict({ jobId: job.id, examples: [blank, blank] });
    assert.equal(vote.predictions.length, 2);
  });

  it('lists the job by label and state', async () => {
    const page = await server.client.listJobs({ labelSelector: { suite: 'lifecycle' }, state: JobState.JOB_STATE_SUCCEEDED });
    assert.deepEqual(
      page.jobs.map((j) => j.id),
      [job.id],
    );
    const none = await server.client.listJobs({ labelSelector: { suite: 'other' } });
    assert.equal(none.jobs.length, 0);
  });
});
