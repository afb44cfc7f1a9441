// Scale-out over real Redis and PostgreSQL: two API processes and two worker processes
// (STEADYTUNE_MODE=api|worker). Jobs started through one API pod stream through the other with
// every sequence once; a dataset uploaded through one API pod is trained on through the other; a cancel crosses from an API pod to the worker that runs the job; and a
// worker killed with SIGKILL mid-job has its job finished by the other worker, resumed from its
// checkpoint on the shared data directory; one stopped with SIGTERM hands its job back at once;
// and one whose job another claim took over is fenced off: its writes are refused and it stops.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DatasetFormat, JobState, type StreamMetricsResponse } from '../../client/index.js';
import { jsonl, pointRows } from '../fixtures/dataset-fixtures.js';
import { SCALEOUT_SKIP_REASON, scaleOutServices } from '../fixtures/scaleout-services.js';
import { claimsOf, FAST_FAILOVER_ENV, startScaleOutCluster, type ScaleOutCluster } from '../fixtures/scaleout-cluster.js';
import { assertDense, collect, tinySpec } from '../fixtures/server-harness.js';
import { clientFor, notices, stepNumbers, type ServerProcess } from '../fixtures/server-process.js';
import { Redis } from 'ioredis';
import { QUEUE_NAME } from '../../server/jobs/scaleout/job-queue.js';

const services = scaleOutServices();
const CHECKPOINT_EVERY = 5;

function states(events: readonly StreamMetricsResponse[]): JobState[] {
  return events.flatMap((e) => (e.event?.$case === 'stateChanged' ? [e.event.value.state] : []));
}

describe('scale-out: API and worker processes over Redis and PostgreSQL', {
  skip: services === undefined ? SCALEOUT_SKIP_REASON : false,
  timeout: 600_000,
}, () => {
  let cluster: ScaleOutCluster | undefined;
  const began = performance.now();

  before(async () => {
    if (services === undefined) return;
    cluster = await startScaleOutCluster(services, {
      apis: 2,
      workers: 2,
      env: { ...FAST_FAILOVER_ENV, STEADYTUNE_CHECKPOINT_EVERY_STEPS: String(CHECKPOINT_EVERY) },
    });
    console.log(`scale-out: 2 API + 2 worker processes up in ${((performance.now() - began) / 1000).toFixed(1)} s`);
  });
  after(async () => {
    await cluster?.destroy();
  });

  const apiClient = (index: number): ReturnType<typeof clientFor> => {
    const api = cluster?.apis[index] ?? assert.fail('cluster not started');
    return clientFor(api.port);
  };

  it('streams jobs started through API 1 through API 2, every sequence exactly once', async () => {
    const first = apiClient(0);
    const second = apiClient(1);
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const started = await first.startFineTune({ spec: tinySpec({ seeds: [i + 1] }), idempotencyKey: `stream-${i}` });
      ids.push(started.job?.id ?? assert.fail('no job'));
    }
    // A retry through the other API pod is the same job (the idempotency key lives in PostgreSQL).
    const retried = await second.startFineTune({ spec: tinySpec({ seeds: [1] }), idempotencyKey: 'stream-0' });
    assert.equal(retried.job?.id, ids[0]);

    const streams = await Promise.all(ids.map((id) => collect(second.streamMetrics(id))));
    for (const [i, events] of streams.entries()) {
      assertDense(events);
      assert.deepEqual(states(events), [JobState.JOB_STATE_QUEUED, JobState.JOB_STATE_RUNNING, JobState.JOB_STATE_SUCCEEDED]);
      const job = await second.getJob(ids[i] ?? '');
      assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, job.reason);
      assert.equal(job.lastSequence, events.length);
      // Resuming from the middle, through the first pod: exactly the tail.
      const from = Math.floor(events.length / 2);
      const tail = await collect(first.streamMetrics(ids[i] ?? '', { fromSequence: from }));
      assert.deepEqual(
        tail.map((e) => e.sequence),
        events.slice(from - 1).map((e) => e.sequence),
      );
    }
    const listed = await second.listJobs({ pageSize: 10 });
    assert.deepEqual(new Set(listed.jobs.map((job) => job.id)), new Set(ids));
    const workersUsed = new Set(ids.flatMap((id) => claimsOf(cluster?.workers ?? [], id).map((claim) => claim.worker.child.pid)));
    console.log(`scale-out: 3 jobs on ${workersUsed.size} worker(s), ${streams.map((s) => s.length).join('/')} events each`);
    first.close();
    second.close();
  });

  it('shares registered datasets: uploaded through API 1, fetched through API 2, trained on by a worker', async () => {
    const first = apiClient(0);
    const second = apiClient(1);
    const files = { train: new TextEncoder().encode(jsonl(pointRows(160))) };
    const uploaded = await first.uploadDataset({ format: DatasetFormat.DATASET_FORMAT_JSONL, files, displayName: 'points' });
    const id = uploaded.dataset?.id ?? assert.fail('no dataset id');
    // The row is in PostgreSQL, the content on the data volume every pod mounts.
    const fetched = await second.getDataset(id);
    assert.deepEqual([fetched.contentHash, fetched.displayName], [uploaded.dataset?.contentHash, 'points']);
    assert.ok((await second.listDatasets()).datasets.some((dataset) => dataset.id === id));
    const selection = { source: { $case: 'datasetId' as const, value: id }, classes: [], maxExamples: 0 };
    const started = await second.startFineTune({
      spec: { ...tinySpec({ seeds: [5], epochs: 3 }), train: selection, validation: selection },
    });
    const jobId = started.job?.id ?? assert.fail('no job');
    const events = await collect(second.streamMetrics(jobId));
    assert.deepEqual(states(events), [JobState.JOB_STATE_QUEUED, JobState.JOB_STATE_RUNNING, JobState.JOB_STATE_SUCCEEDED]);
    const metrics = (await first.getJob(jobId)).runs[0]?.metrics ?? assert.fail('no run metrics');
    // Two classes: the registered points, not a builtin set.
    assert.equal(metrics.numClasses, 2);
    assert.equal(metrics.examples, fetched.report?.validation?.numExamples);
  });

  it('cancels through API 2 a job that a worker is training', async () => {
    const first = apiClient(0);
    const second = apiClient(1);
    const jobId =
      (await first.startFineTune({ spec: tinySpec({ examples: 3200, epochs: 20, seeds: [3] }) })).job?.id ?? assert.fail('no job');
    const events: StreamMetricsResponse[] = [];
    for await (const event of first.streamMetrics(jobId)) {
      events.push(event);
      if (event.event?.$case === 'step' && event.event.value.step === 3) await second.cancelJob(jobId);
    }
    assertDense(events);
    assert.deepEqual(states(events), [
      JobState.JOB_STATE_QUEUED,
      JobState.JOB_STATE_RUNNING,
      JobState.JOB_STATE_CANCELLING,
      JobState.JOB_STATE_CANCELLED,
    ]);
    const job = await second.getJob(jobId);
    assert.equal(job.state, JobState.JOB_STATE_CANCELLED);
    assert.ok((stepNumbers(events).at(-1) ?? 0) < 200, `stopped after step ${stepNumbers(events).at(-1)}`);
    first.close();
    second.close();
  });

  it('finishes on the other worker, from its checkpoint, a job whose worker was killed', async () => {
    const current = cluster ?? assert.fail('cluster not started');
    const first = apiClient(0);
    const second = apiClient(1);
    const stepsPerEpoch = 100;
    const jobId =
      (await first.startFineTune({ spec: tinySpec({ examples: 3200, epochs: 2, seeds: [7] }) })).job?.id ?? assert.fail('no job');
    const streamed: StreamMetricsResponse[] = [];
    let killedAfter = 0;
    let killing: Promise<void> | undefined;
    for await (const event of second.streamMetrics(jobId, { maxReconnects: 20 })) {
      streamed.push(event);
      const step = event.event?.$case === 'step' ? event.event.value.step : 0;
      if (killing === undefined && step >= 30) {
        const [claim] = claimsOf(current.workers, jobId);
        const victim = claim?.worker ?? assert.fail('no worker logged claiming the job');
        killedAfter = step;
        victim.child.kill('SIGKILL');
        killing = victim.exited.then(({ signal }) => assert.equal(signal, 'SIGKILL'));
      }
    }
    await killing;
    assertDense(streamed);
    const job = await first.getJob(jobId);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, job.reason);
    assert.equal(job.lastSequence, streamed.length);
    // Every step exactly once across both workers, one run_started, both epochs.
    assert.deepEqual(
      stepNumbers(streamed),
      Array.from({ length: 2 * stepsPerEpoch }, (_, i) => i + 1),
    );
    assert.equal(streamed.filter((e) => e.event?.$case === 'runStarted').length, 1);
    assert.equal(streamed.filter((e) => e.event?.$case === 'epoch').length, 2);
    const claims = claimsOf(current.workers, jobId);
    assert.equal(claims.length, 2, 'claimed once by each worker');
    assert.notEqual(claims[0]?.worker, claims[1]?.worker);
    assert.equal(claims[1]?.resumed, true);
    const said = notices(streamed);
    assert.ok(
      said.some((m) => m.startsWith('claimed by worker ')),
      said.join(' | '),
    );
    const resumedFrom = said.flatMap((m) => {
      const match = /seed 7: resuming from the checkpoint at step (\d+)/.exec(m);
      return match === null ? [] : [Number(match[1])];
    });
    assert.equal(resumedFrom.length, 1, said.join(' | '));
    assert.ok((resumedFrom[0] ?? 0) >= killedAfter - 2 * CHECKPOINT_EVERY, `resumed at ${resumedFrom[0]}, killed after ${killedAfter}`);
    console.log(
      `scale-out: worker killed after step ${killedAfter}, job resumed at step ${resumedFrom[0]} on the other worker, ${streamed.length} events`,
    );
    first.close();
    second.close();
  });

  it('hands a job back to the queue when its worker is stopped with SIGTERM, and another resumes it', async () => {
    const current = cluster ?? assert.fail('cluster not started');
    // The previous test killed one worker: a replacement pod joins.
    await current.addWorker();
    const client = apiClient(1);
    // 1,000 steps: on a loaded machine the stream can lag the trainer by a hundred steps or more,
    // and a job that ends before the SIGTERM lands is never handed over.
    const jobId =
      (await client.startFineTune({ spec: tinySpec({ examples: 3200, epochs: 10, seeds: [8] }) })).job?.id ?? assert.fail('no job');
    const streamed: StreamMetricsResponse[] = [];
    let stopped: Promise<void> | undefined;
    let stoppedAt = 0;
    for await (const event of client.streamMetrics(jobId)) {
      streamed.push(event);
      const step = event.event?.$case === 'step' ? event.event.value.step : 0;
      if (stopped === undefined && step >= 20) {
        const victim = claimsOf(current.workers, jobId)[0]?.worker ?? assert.fail('no worker logged claiming the job');
        stoppedAt = performance.now();
        victim.child.kill('SIGTERM');
        stopped = victim.exited.then(({ code }) => assert.equal(code, 0, 'a clean shutdown'));
      }
    }
    await stopped;
    assertDense(streamed);
    assert.equal((await client.getJob(jobId)).state, JobState.JOB_STATE_SUCCEEDED);
    assert.deepEqual(
      stepNumbers(streamed),
      Array.from({ length: 1000 }, (_, i) => i + 1),
    );
    const claims = claimsOf(current.workers, jobId);
    assert.equal(claims.length, 2);
    assert.equal(claims[1]?.resumed, true);
    assert.ok(
      notices(streamed).some((m) => /seed 8: resuming from the checkpoint at step \d+/.test(m)),
      notices(streamed).join(' | '),
    );
    console.log(`scale-out: SIGTERM hand-over, job done ${((performance.now() - stoppedAt) / 1000).toFixed(1)} s after the stop`);
    client.close();
  });

  it('stops training a job whose queue lock it lost (as a stalled worker would), and the job still finishes', async () => {
    const current = cluster ?? assert.fail('cluster not started');
    const redisUrl = services?.redisUrl ?? assert.fail('no redis');
    await current.addWorker();
    const client = apiClient(0);
    const totalSteps = 1000; // 10 epochs of 100: still training when the next lock renewal fails
    const jobId =
      (await client.startFineTune({ spec: tinySpec({ examples: 3200, epochs: 10, seeds: [9] }) })).job?.id ?? assert.fail('no job');
    const redis = new Redis(redisUrl);
    let holder: ServerProcess | undefined;
    const steps: number[] = [];
    for await (const event of client.streamMetrics(jobId, { maxReconnects: 20 })) {
      const step = event.event?.$case === 'step' ? event.event.value.step : 0;
      if (step > 0) steps.push(step);
      if (holder === undefined && step >= 20) {
        holder = claimsOf(current.workers, jobId)[0]?.worker ?? assert.fail('no worker logged claiming the job');
        // What a stall longer than the lock leaves behind: BullMQ's lock key gone.
        assert.equal(await redis.del(`${current.redisPrefix}:${QUEUE_NAME}:${jobId}:lock`), 1);
      }
    }
    redis.disconnect();
    const job = await client.getJob(jobId);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, job.reason);
    assert.equal(steps.at(-1), totalSteps);
    // With fencing, no step is logged twice whichever worker trained it.
    assert.deepEqual(
      steps,
      Array.from({ length: totalSteps }, (_, i) => i + 1),
    );
    const holderLogs = (holder ?? assert.fail('never reached step 20')).logs.filter((line) => line['jobId'] === jobId);
    const said = holderLogs.map((line) => String(line['msg']));
    // The holder stops its runs on whichever it meets first: its failed lock renewal (then it
    // suspends them), or its next write refused because the stalled check already let another
    // worker claim the job (then it is fenced off: the lock's expiry may even end its processing
    // before the renewal that would have failed).
    const suspended =
      said.includes('lost the queue lock of a job training here; suspending it') &&
      said.includes('job suspended; it resumes on the next start');
    const fenced = said.includes('job taken over by another worker; stopped here');
    assert.ok(suspended || fenced, `the holder stopped its runs: ${said.join(' | ')}`);
    const claims = claimsOf(current.workers, jobId);
    assert.ok(claims.length >= 2 && claims.slice(1).every((claim) => claim.resumed), JSON.stringify(claims.map((c) => c.resumed)));
    console.log(
      `scale-out: lock lost at step 20, the holder ${fenced ? 'fenced off' : 'suspended'}, job claimed ${claims.length} times, ${steps.length} step events for ${totalSteps} steps`,
    );
    client.close();
  });

  it('fences off a worker whose job was claimed again: its writes are refused, it stops, every step is logged once', async () => {
    const current = cluster ?? assert.fail('cluster not started');
    const client = apiClient(1);
    const totalSteps = 1000;
    const jobId =
      (await client.startFineTune({ spec: tinySpec({ examples: 3200, epochs: 10, seeds: [10] }) })).job?.id ?? assert.fail('no job');
    let holder: ServerProcess | undefined;
    const steps: number[] = [];
    for await (const event of client.streamMetrics(jobId, { maxReconnects: 20 })) {
      const step = event.event?.$case === 'step' ? event.event.value.step : 0;
      if (step > 0) steps.push(step);
      if (holder === undefined && step >= 20) {
        holder = claimsOf(current.workers, jobId)[0]?.worker ?? assert.fail('no worker logged claiming the job');
        // The holder keeps its queue lock: nothing but the fence tells it.
        await current.claimAsAnotherWorker(jobId);
      }
    }
    const job = await client.getJob(jobId);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, job.reason);
    // Exactly once: the holder's appends after the new claim were refused, not logged beside the next holder's.
    assert.deepEqual(
      steps,
      Array.from({ length: totalSteps }, (_, i) => i + 1),
    );
    const holderLogs = (holder ?? assert.fail('never reached step 20')).logs.filter((line) => line['jobId'] === jobId);
    const said = holderLogs.map((line) => String(line['msg']));
    assert.ok(said.includes('job taken over by another worker; stopped here'), said.join(' | '));
    assert.ok(said.includes('another worker claimed this job since; stopped training it here'), said.join(' | '));
    assert.ok(!holderLogs.some((line) => line['level'] === 'error'), said.join(' | '));
    const claims = claimsOf(current.workers, jobId);
    assert.ok(claims.length >= 2 && claims.at(-1)?.resumed === true, JSON.stringify(claims.map((c) => c.resumed)));
    console.log(
      `scale-out: fenced at step 20, job claimed ${claims.length} times by workers, ${steps.length} step events for ${totalSteps} steps`,
    );
    client.close();
  });
});
