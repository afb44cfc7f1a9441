// End to end through the real worker pool: a tiny DSGD fine-tune on the mnist built-in,
// two seeds, then Evaluate/Predict on the saved models, and a cancel in the middle of a run.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hasCode } from '../../server/common/errors.js';
import { InMemoryEventLog } from '../../server/jobs/event-log.js';
import { EmbeddedJobService } from '../../server/jobs/job-service.js';
import { describe as describeValues } from '../../server/jobs/stability.js';
import { InMemoryJobStore } from '../../server/jobs/store.js';
import { WorkerPool } from '../../server/jobs/worker-pool.js';
import type { JobEvent, JobLogger, JobSpec } from '../../server/jobs/types.js';
import { smallJobSpec } from '../fixtures/job-spec.js';

const quiet: JobLogger = { info: () => {}, warn: () => {}, error: () => {} };
const TENANT = 'tenant-a';

function spec(overrides: { maxExamples: number; epochs: number; seeds: number[] }): JobSpec {
  return smallJobSpec({
    train: { maxExamples: overrides.maxExamples },
    validation: { maxExamples: 200 },
    run: {
      model: { family: 'mlp', hiddenUnits: [32], dropout: 0 },
      optimizer: { learningRate: 0.003 },
      batchSize: 16,
      epochs: overrides.epochs,
    },
    seeds: overrides.seeds,
    ensemble: true,
  });
}

async function collect(events: AsyncIterable<JobEvent>): Promise<JobEvent[]> {
  const seen: JobEvent[] = [];
  for await (const event of events) seen.push(event);
  return seen;
}

function states(events: readonly JobEvent[]): string[] {
  return events.flatMap((e) => (e.body.kind === 'state_changed' ? [e.body.state] : []));
}

describe('EmbeddedJobService with real workers', () => {
  let modelDir = '';
  let service: EmbeddedJobService;

  before(async () => {
    modelDir = await mkdtemp(path.join(tmpdir(), 'steadytune-jobs-'));
    const pool = new WorkerPool({ size: 2, config: {}, logger: quiet });
    service = new EmbeddedJobService({
      store: new InMemoryJobStore(),
      eventLog: new InMemoryEventLog(Date.now),
      pool,
      modelDir,
      clock: Date.now,
      logger: quiet,
    });
    await service.startWorkers();
  });

  after(async () => {
    await service.shutdown();
    await rm(modelDir, { recursive: true, force: true });
  });

  test('two seeds fine-tune to SUCCEEDED with dense events and a summary that matches the runs', async () => {
    const { job, created } = await service.start({
      tenant: TENANT,
      spec: spec({ maxExamples: 300, epochs: 1, seeds: [1, 2] }),
      requestSpec: {},
      idempotencyKey: 'e2e',
      displayName: 'e2e',
      labels: { suite: 'jobs' },
    });
    assert.equal(created, true);
    assert.equal(job.state, 'QUEUED');
    const events = await collect(service.events(TENANT, job.id, 0, new AbortController().signal));

    assert.deepEqual(
      events.map((e) => e.sequence),
      events.map((_, i) => i + 1),
    );
    assert.deepEqual(states(events), ['QUEUED', 'RUNNING', 'SUCCEEDED']);
    const done = await service.get(TENANT, job.id);
    assert.equal(done.state, 'SUCCEEDED');
    assert.deepEqual(
      done.transitions.map((t) => t.state),
      ['QUEUED', 'RUNNING', 'SUCCEEDED'],
    );
    assert.equal(done.lastSequence, events.length);
    assert.notEqual(done.backend, '');

    for (const seed of [1, 2]) {
      const mine = events.filter((e) => e.seed === seed);
      const started = mine.find((e) => e.body.kind === 'run_started');
      const totalSteps = started?.body.kind === 'run_started' ? started.body.totalSteps : -1;
      assert.equal(totalSteps, Math.ceil(300 / 16));
      const steps = mine.flatMap((e) => (e.body.kind === 'step' ? [e.body.step.step] : []));
      assert.deepEqual(
        steps,
        Array.from({ length: totalSteps }, (_, i) => i + 1),
      );
      assert.equal(mine.filter((e) => e.body.kind === 'epoch').length, 1);
      const finished = mine.at(-1);
      assert.equal(finished?.body.kind === 'run_finished' ? finished.body.run.state : '', 'SUCCEEDED');
      await stat(path.join(modelDir, job.id, `seed-${seed}`, 'model.json'));
      await stat(path.join(modelDir, job.id, `seed-${seed}`, 'weights.bin'));
    }

    const accuracies = done.runs.map((run) => run.metrics?.accuracy ?? Number.NaN);
    const expected = describeValues(accuracies);
    assert.equal(done.summary?.runs, 2);
    assert.equal(done.summary?.accuracy.mean, expected.mean);
    assert.equal(done.summary?.accuracy.std, expected.std);
    assert.equal(done.summary?.accuracy.min, expected.min);
    assert.ok(done.summary?.ensemble !== undefined);
    assert.ok(expected.mean > 0.3, `a 300-example epoch should beat chance clearly, got ${expected.mean}`);

    // Same idempotency key and spec: the same job, not a new one.
    const again = await service.start({
      tenant: TENANT,
      spec: spec({ maxExamples: 300, epochs: 1, seeds: [1, 2] }),
      requestSpec: {},
      idempotencyKey: 'e2e',
      displayName: 'e2e',
      labels: {},
    });
    assert.deepEqual([again.created, again.job.id], [false, job.id]);

    // Evaluate reloads the saved weights in a worker: same data, same numbers.
    const report = await service.evaluate(TENANT, job.id, { seed: 0, ensemble: true });
    assert.deepEqual(
      report.evaluations.map((e) => e.metrics.accuracy),
      accuracies,
    );
    assert.equal(report.ensemble?.accuracy, done.summary?.ensemble?.accuracy);

    const pixels = Array.from({ length: 784 }, (_, i) => (i % 7) / 7);
    const inputs = [0, 1, 2].map(() => ({ features: pixels, tokenIds: [], segmentIds: [] }));
    const single = await service.predict(TENANT, job.id, 1, inputs);
    assert.equal(single.length, 3);
    for (const row of single) {
      assert.ok(Math.abs(row.probabilities.reduce((s, p) => s + p, 0) - 1) < 1e-4);
      assert.equal(row.labelName, String(row.label));
    }
    const vote = await service.predict(TENANT, job.id, 0, inputs);
    assert.ok(vote.every((row) => row.probabilities.some((share) => share >= 0.5)));
    await assert.rejects(service.predict(TENANT, job.id, 1, [{ features: [1, 2], tokenIds: [], segmentIds: [] }]), (error: unknown) =>
      hasCode(error, 'INVALID_ARGUMENT'),
    );
    const notFound = (e: unknown): boolean => hasCode(e, 'NOT_FOUND');
    await assert.rejects(service.get('tenant-b', job.id), notFound);
    await assert.rejects(collect(service.events('tenant-b', job.id, 0, new AbortController().signal)), notFound);
    // Resuming from a sequence replays exactly the tail.
    const tail = await collect(service.events(TENANT, job.id, events.length - 2, new AbortController().signal));
    assert.deepEqual(
      tail.map((e) => e.sequence),
      [events.length - 2, events.length - 1, events.length],
    );
    await assert.rejects(service.cancel(TENANT, job.id), (e: unknown) => hasCode(e, 'FAILED_PRECONDITION'));
  });

  test('cancel mid-run passes CANCELLING and reaches CANCELLED', async () => {
    const { job } = await service.start({
      tenant: TENANT,
      spec: spec({ maxExamples: 4000, epochs: 50, seeds: [3] }),
      requestSpec: {},
      idempotencyKey: '',
      displayName: 'to cancel',
      labels: {},
    });
    const controller = new AbortController();
    const seen: JobEvent[] = [];
    let cancelled: Promise<unknown> | undefined;
    for await (const event of service.events(TENANT, job.id, 0, controller.signal)) {
      seen.push(event);
      if (event.body.kind === 'step' && event.body.step.step === 3) cancelled = service.cancel(TENANT, job.id);
    }
    const cancelling = await cancelled;
    assert.equal((cancelling as { state?: string } | undefined)?.state, 'CANCELLING');
    assert.deepEqual(states(seen), ['QUEUED', 'RUNNING', 'CANCELLING', 'CANCELLED']);
    const final = await service.get(TENANT, job.id);
    assert.equal(final.state, 'CANCELLED');
    assert.equal(final.reason, 'cancelled by request');
    assert.equal(final.runs[0]?.state, 'CANCELLED');
    const steps = seen.filter((e) => e.body.kind === 'step').length;
    assert.ok(steps < 250, `stops within a step or two of the cancel (after ${steps} steps)`);
  });

  test('a job over its max runtime FAILS with the reason; runs stop at a step boundary', async () => {
    const { job } = await service.start({
      tenant: TENANT,
      spec: { ...spec({ maxExamples: 4000, epochs: 50, seeds: [4] }), maxRuntimeMs: 300 },
      requestSpec: {},
      idempotencyKey: '',
      displayName: 'too slow',
      labels: {},
    });
    const events = await collect(service.events(TENANT, job.id, 0, new AbortController().signal));
    assert.deepEqual(states(events), ['QUEUED', 'RUNNING', 'FAILED']);
    const final = await service.get(TENANT, job.id);
    assert.match(final.reason, /maximum runtime/);
    assert.equal(final.runs[0]?.state, 'CANCELLED');
  });

  test('runs that fail in the worker (bad data) mark the job FAILED, not the process', async () => {
    // 1000:1 long-tailed on 30 examples per class leaves the tail classes empty: the data layer refuses.
    const { job } = await service.start({
      tenant: TENANT,
      spec: { ...spec({ maxExamples: 300, epochs: 1, seeds: [5, 6] }), imbalance: { kind: 'long_tailed', ratio: 1000, seed: 1 } },
      requestSpec: {},
      idempotencyKey: '',
      displayName: 'bad data',
      labels: {},
    });
    const events = await collect(service.events(TENANT, job.id, 0, new AbortController().signal));
    assert.deepEqual(states(events), ['QUEUED', 'FAILED']);
    const final = await service.get(TENANT, job.id);
    assert.match(final.reason, /all 2 runs failed; seed 5: imbalance rejected/);
    assert.deepEqual(
      final.runs.map((run) => run.state),
      ['FAILED', 'FAILED'],
    );
    await assert.rejects(service.evaluate(TENANT, job.id, { seed: 0, ensemble: false }), (e: unknown) => hasCode(e, 'FAILED_PRECONDITION'));
  });

  test('shutdown stops a running job at its next step and ends it FAILED', async () => {
    const { job } = await service.start({
      tenant: TENANT,
      spec: spec({ maxExamples: 4000, epochs: 50, seeds: [7] }),
      requestSpec: {},
      idempotencyKey: '',
      displayName: 'interrupted',
      labels: {},
    });
    for await (const event of service.events(TENANT, job.id, 0, new AbortController().signal)) {
      if (event.body.kind === 'step') break;
    }
    await service.shutdown();
    const final = await service.get(TENANT, job.id);
    assert.equal(final.state, 'FAILED');
    assert.match(final.reason, /shut down/);
    assert.equal(service.ready(), false);
    await assert.rejects(
      service.start({
        tenant: TENANT,
        spec: spec({ maxExamples: 300, epochs: 1, seeds: [1] }),
        requestSpec: {},
        idempotencyKey: '',
        displayName: '',
        labels: {},
      }),
      (e: unknown) => hasCode(e, 'FAILED_PRECONDITION'),
    );
  });
});
