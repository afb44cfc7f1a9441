// JobMetricsRecorder over the real in-memory store and event log: the decorators keep both
// contracts intact and turn a job's life into steadytune_jobs and its labelled run series.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InMemoryEventLog } from '../../server/jobs/event-log.js';
import { InMemoryJobStore } from '../../server/jobs/store.js';
import type { JobSpec, JobState, StartJobCommand } from '../../server/jobs/types.js';
import { JobMetricsRecorder, SteadytuneMetrics } from '../../server/observability/index.js';
import { smallJobSpec } from '../fixtures/job-spec.js';

const SPEC: JobSpec = smallJobSpec();

function command(idempotencyKey = ''): StartJobCommand {
  return { tenant: 't1', spec: SPEC, requestSpec: {}, idempotencyKey, displayName: 'd', labels: {} };
}

function setUp(): { metrics: SteadytuneMetrics; recorder: JobMetricsRecorder; store: InMemoryJobStore; log: InMemoryEventLog } {
  const metrics = new SteadytuneMetrics({ defaultMetrics: false });
  return { metrics, recorder: new JobMetricsRecorder(metrics), store: new InMemoryJobStore(), log: new InMemoryEventLog(() => 5) };
}

async function jobsByState(metrics: SteadytuneMetrics): Promise<Record<string, number>> {
  const data = await metrics.jobs.get();
  return Object.fromEntries(data.values.map((v) => [String(v.labels['state']), v.value]));
}

const STEP = {
  step: 1,
  totalSteps: 4,
  epoch: 0,
  loss: 0.7,
  accuracy: 0.5,
  alpha: 0.25,
  correctFraction: 0.5,
  gradientNorm: 0.4,
  learningRate: 0.001,
  headConflictCosine: -0.2,
  stepSeconds: 0.01,
};

describe('JobMetricsRecorder', () => {
  test('follows a job from QUEUED to CANCELLED through the decorated store and log', async () => {
    const { metrics, recorder, store, log: inner } = setUp();
    const observedStore = recorder.observeStore(store);
    const log = recorder.observeEventLog(inner);
    const { job } = await observedStore.create(command(), 1);
    // Without a key every call creates a job; with one, a repeat creates nothing and is not tracked again.
    assert.equal((await observedStore.create(command(), 2)).created, true);
    const { created } = await observedStore.create({ ...command('k') }, 3);
    assert.equal(created, true);
    assert.equal((await observedStore.create(command('k'), 4)).created, false);
    assert.equal(recorder.trackedJobs, 3);

    await log.append(job.id, 0, { kind: 'state_changed', state: 'QUEUED', reason: '' });
    assert.deepEqual(await jobsByState(metrics), { QUEUED: 1, RUNNING: 0, CANCELLING: 0 });
    await log.append(job.id, 0, { kind: 'state_changed', state: 'RUNNING', reason: '' });
    await log.append(job.id, 1, { kind: 'run_started', totalSteps: 4, backend: 'wasm' });
    await log.append(job.id, 2, { kind: 'run_started', totalSteps: 4, backend: 'cpu' });
    await log.append(job.id, 1, { kind: 'step', step: STEP });
    await log.append(job.id, 1, { kind: 'step', step: { ...STEP, step: 2 } });
    await log.append(job.id, 2, { kind: 'step', step: STEP });
    assert.deepEqual(await jobsByState(metrics), { QUEUED: 0, RUNNING: 1, CANCELLING: 0 });

    // Each seed's steps carry the backend that seed reported.
    const steps = await metrics.trainSteps.get();
    assert.deepEqual(steps.values.map((v) => [v.labels['backend'], v.value]).sort(), [
      ['cpu', 1],
      ['wasm', 2],
    ]);
    assert.deepEqual(steps.values[0]?.labels['method'], 'dsgd');
    assert.deepEqual(steps.values[0]?.labels['model_family'], 'mlp');

    await log.append(job.id, 0, { kind: 'state_changed', state: 'CANCELLING', reason: 'by request' });
    assert.deepEqual(await jobsByState(metrics), { QUEUED: 0, RUNNING: 0, CANCELLING: 1 });
    await log.append(job.id, 0, { kind: 'state_changed', state: 'CANCELLED', reason: 'by request' });
    assert.deepEqual(await jobsByState(metrics), { QUEUED: 0, RUNNING: 0, CANCELLING: 0 });
    const finished = await metrics.jobsFinished.get();
    assert.deepEqual(finished.values.map((v) => [v.labels['outcome'], v.value]).sort(), [
      ['cancelled', 1],
      ['failed', 0],
      ['succeeded', 0],
    ]);
    // The finished job is forgotten; the other two are still queued-to-be.
    assert.equal(recorder.trackedJobs, 2);

    // The decorated log and store still behave as their contracts say.
    assert.equal(await log.lastSequence(job.id), 9);
    assert.deepEqual(
      (await log.read(job.id, 8)).map((e) => e.sequence),
      [8, 9],
    );
    const followed: number[] = [];
    for await (const e of log.follow(job.id, 7, new AbortController().signal)) followed.push(e.sequence);
    assert.deepEqual(followed, [7, 8, 9]);
    assert.equal((await observedStore.get('t1', job.id))?.id, job.id);
    await assert.rejects(log.append(job.id, 0, { kind: 'notice', message: 'late' }), /closed/);
  });

  test('ignores jobs it never saw created, and reports metric failures instead of throwing', async () => {
    const errors: unknown[] = [];
    const metrics = new SteadytuneMetrics({ defaultMetrics: false });
    const recorder = new JobMetricsRecorder(metrics, { onError: (error) => errors.push(error) });
    recorder.eventAppended('unknown-job', { sequence: 1, time: 0, seed: 0, body: { kind: 'state_changed', state: 'QUEUED', reason: '' } });
    assert.deepEqual(await jobsByState(metrics), { QUEUED: 0, RUNNING: 0, CANCELLING: 0 });

    const broken = new SteadytuneMetrics({ defaultMetrics: false });
    broken.observeJobEvent = () => {
      throw new Error('boom');
    };
    const failing = new JobMetricsRecorder(broken, { onError: (error) => errors.push(error) });
    failing.jobCreated({ id: 'j', spec: SPEC });
    failing.eventAppended('j', { sequence: 1, time: 0, seed: 0, body: { kind: 'notice', message: 'x' } });
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]), /boom/);
  });

  test('scale-out: learns a job created elsewhere from its first write, counts what it appends, and leaves steadytune_jobs to the store', async () => {
    // The "API pod" creates and queues the job; the "worker" only writes and appends.
    const { metrics, store } = setUp();
    const inner = new InMemoryEventLog(() => 5);
    const apiMetrics = new SteadytuneMetrics({ defaultMetrics: false });
    const api = new JobMetricsRecorder(apiMetrics, { countsJobStates: false });
    apiMetrics.countJobStatesFrom('elsewhere');
    const { job } = await api.observeStore(store).create(command(), 1);
    await api.observeEventLog(inner).append(job.id, 0, { kind: 'state_changed', state: 'QUEUED', reason: '' });

    const worker = new JobMetricsRecorder(metrics, { countsJobStates: false });
    metrics.countJobStatesFrom('elsewhere');
    const workerStore = worker.observeStore(store);
    const workerLog = worker.observeEventLog(inner);
    // A read alone tracks nothing (an API pod reads every job it lists).
    await workerStore.get('t1', job.id);
    assert.equal(worker.trackedJobs, 0);
    await workerStore.transition(job.id, { from: ['QUEUED'], to: 'RUNNING', time: 2, reason: '' });
    assert.equal(worker.trackedJobs, 1);
    await workerLog.append(job.id, 0, { kind: 'state_changed', state: 'RUNNING', reason: '' });
    await workerStore.setBackend(job.id, 'cpu');
    await workerLog.append(job.id, 1, { kind: 'run_started', totalSteps: 4, backend: 'cpu' });
    await workerLog.append(job.id, 1, { kind: 'step', step: STEP });
    await workerLog.append(job.id, 1, { kind: 'step', step: { ...STEP, step: 2 } });
    await workerStore.transition(job.id, { from: ['RUNNING'], to: 'SUCCEEDED', time: 3, reason: '' });
    // Before its first end, the worker's finished series exist at 0 (increase() needs a first sample).
    const before = await metrics.jobsFinished.get();
    assert.deepEqual(before.values.map((v) => [v.labels['outcome'], v.value]).sort(), [
      ['cancelled', 0],
      ['failed', 0],
      ['succeeded', 0],
    ]);
    await workerLog.append(job.id, 0, { kind: 'state_changed', state: 'SUCCEEDED', reason: '' });

    const steps = await metrics.trainSteps.get();
    assert.deepEqual(
      steps.values.map((v) => [v.labels['method'], v.labels['backend'], v.value]),
      [['dsgd', 'cpu', 2]],
    );
    const finished = await metrics.jobsFinished.get();
    assert.deepEqual(finished.values.map((v) => [v.labels['outcome'], v.value]).sort(), [
      ['cancelled', 0],
      ['failed', 0],
      ['succeeded', 1],
    ]);
    // Neither pod moves steadytune_jobs from events: it has no series until a store source is bound.
    assert.deepEqual(await jobsByState(metrics), {});
    assert.deepEqual(await jobsByState(apiMetrics), {});
    assert.equal((await apiMetrics.trainSteps.get()).values.length, 0);
    assert.equal(worker.trackedJobs, 0, 'forgotten once it ended');
  });

  test('scale-out: steadytune_jobs comes from the store source at every scrape, with no series when another process exports', async () => {
    const metrics = new SteadytuneMetrics({ defaultMetrics: false });
    let counts: ReadonlyMap<JobState, number> | undefined = new Map([
      ['QUEUED', 3],
      ['RUNNING', 1],
    ]);
    metrics.countJobStatesFrom({ liveJobCounts: async () => counts });
    assert.deepEqual(await jobsByState(metrics), { QUEUED: 3, RUNNING: 1, CANCELLING: 0 });
    counts = undefined;
    assert.deepEqual(await jobsByState(metrics), {});
    assert.doesNotMatch(await metrics.exposition(), /^steadytune_jobs\{/m);
  });

  test('scale-out: keeps the labels of at most maxTrackedJobs jobs, forgetting the least recently written', async () => {
    const metrics = new SteadytuneMetrics({ defaultMetrics: false });
    const recorder = new JobMetricsRecorder(metrics, { countsJobStates: false, maxTrackedJobs: 2 });
    const store = recorder.observeStore(new InMemoryJobStore());
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      ids.push((await store.create(command(), i)).job.id);
      if (i === 1) await store.addNotice(ids[0] ?? '', 'still writing the first');
    }
    assert.equal(recorder.trackedJobs, 2);
    // The second job was written least recently: its events are no longer labelled.
    recorder.eventAppended(ids[1] ?? '', { sequence: 1, time: 0, seed: 1, body: { kind: 'step', step: STEP } });
    assert.equal((await metrics.trainSteps.get()).values.length, 0);
    recorder.eventAppended(ids[0] ?? '', { sequence: 1, time: 0, seed: 1, body: { kind: 'step', step: STEP } });
    assert.equal((await metrics.trainSteps.get()).values[0]?.value, 1);
  });
});
