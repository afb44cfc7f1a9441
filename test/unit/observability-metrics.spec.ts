// Synthetic job events in, exact registry values out: the metrics are checked against numbers
// computed by hand, not against whatever the code happened to produce.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MetricValue } from 'prom-client';
import type { Evaluation, StepTelemetry, Verdict } from '../../server/engine/types.js';
import type { JobEvent, JobEventBody, SeedRun } from '../../server/jobs/types.js';
import { AUTO_REMEDY_NOTICE_PREFIX, SteadytuneMetrics, type JobMetricLabels } from '../../server/observability/index.js';

const DSGD_MLP_CPU: JobMetricLabels = { method: 'dsgd', modelFamily: 'mlp', backend: 'cpu' };
const RUN = { method: 'dsgd', model_family: 'mlp', backend: 'cpu' };

function step(overrides: Partial<StepTelemetry>): StepTelemetry {
  return {
    step: 1,
    totalSteps: 10,
    epoch: 0,
    loss: 2.3,
    accuracy: 0.1,
    alpha: 0.1,
    correctFraction: 0.1,
    gradientNorm: 1,
    learningRate: 0.001,
    headConflictCosine: null,
    stepSeconds: 0.02,
    ...overrides,
  };
}

let sequence = 0;
function event(body: JobEventBody, seed = 1): JobEvent {
  sequence += 1;
  return { sequence, time: 1_000 + sequence, seed, body };
}

function evaluation(verdict: Verdict): Evaluation {
  return {
    examples: 4,
    loss: 1,
    accuracy: 0.5,
    balancedAccuracy: 0.5,
    macroF1: 0.5,
    perClassRecall: [0.5, 0.5],
    confusion: [1, 1, 1, 1],
    numClasses: 2,
    predictionCounts: [2, 2],
    representationCosine: 0.2,
    verdict,
    predictions: new Int32Array([0, 1, 0, 1]),
  };
}

function finishedRun(state: SeedRun['state'], verdict?: Verdict): JobEventBody {
  return {
    kind: 'run_finished',
    run: {
      seed: 1,
      state,
      steps: 10,
      totalSteps: 10,
      meanStepSeconds: 0.02,
      durationMs: 200,
      ...(verdict === undefined ? {} : { metrics: evaluation(verdict) }),
    },
  };
}

/** Histogram samples name themselves (_bucket, _sum, _count); counter and gauge samples do not. */
type Sample = MetricValue<string> & { readonly metricName?: string };

async function values(metrics: SteadytuneMetrics, name: string): Promise<Sample[]> {
  const metric = metrics.registry.getSingleMetric(name);
  assert.ok(metric, `${name} is registered`);
  return (await metric.get()).values;
}

/** The one sample of `name` (a metric or a histogram's _sum/_count/_bucket) with exactly these labels. */
async function sample(metrics: SteadytuneMetrics, name: string, labels: Record<string, string | number>): Promise<number | undefined> {
  const family = name.replace(/_(sum|count|bucket)$/, '');
  const all = await values(metrics, family);
  const match = all.filter((v) => (v.metricName ?? family) === name && JSON.stringify(sorted(v.labels)) === JSON.stringify(sorted(labels)));
  assert.ok(match.length <= 1, `at most one ${name} sample per label set`);
  return match[0]?.value;
}

function sorted(labels: Record<string, string | number | undefined>): [string, string][] {
  return Object.entries(labels)
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
    .map(([k, v]): [string, string] => [k, String(v)])
    .sort(([a], [b]) => a.localeCompare(b));
}

describe('SteadytuneMetrics.observeJobEvent', () => {
  test('step events feed the counters, histograms and last-value gauges', async () => {
    const metrics = new SteadytuneMetrics({ defaultMetrics: false });
    metrics.observeJobEvent(
      event({
        kind: 'step',
        step: step({
          step: 1,
          loss: 2.0,
          accuracy: 0.25,
          alpha: 0.1,
          correctFraction: 0.25,
          gradientNorm: 0.5,
          headConflictCosine: -0.6,
          stepSeconds: 0.02,
        }),
      }),
      DSGD_MLP_CPU,
    );
    metrics.observeJobEvent(
      event({
        kind: 'step',
        step: step({
          step: 2,
          loss: 1.5,
          accuracy: 0.75,
          alpha: 0.2,
          correctFraction: 0.75,
          gradientNorm: 2,
          headConflictCosine: 0.3,
          fullConflict: { cosine: -0.8, normWrong: 1, normCorrect: 1 },
          stepSeconds: 0.04,
        }),
      }),
      DSGD_MLP_CPU,
    );
    // W or C empty: no head cosine, and a sampled full conflict without an angle either.
    metrics.observeJobEvent(
      event({
        kind: 'step',
        step: step({
          step: 3,
          headConflictCosine: null,
          fullConflict: { cosine: null, normWrong: 0, normCorrect: 1 },
          gradientNorm: 1e-9,
          stepSeconds: 0.1,
          loss: 1.25,
          accuracy: 1,
          correctFraction: 1,
          alpha: 0.3,
        }),
      }),
      DSGD_MLP_CPU,
    );

    assert.equal(await sample(metrics, 'steadytune_train_steps_total', RUN), 3);
    const head = { ...RUN, scope: 'head' };
    const full = { ...RUN, scope: 'full' };
    assert.equal(await sample(metrics, 'steadytune_gradient_conflict_cosine_count', head), 2);
    assert.ok(Math.abs(((await sample(metrics, 'steadytune_gradient_conflict_cosine_sum', head)) ?? NaN) - -0.3) < 1e-12);
    assert.equal(await sample(metrics, 'steadytune_gradient_conflict_cosine_bucket', { ...head, le: -0.5 }), 1);
    assert.equal(await sample(metrics, 'steadytune_gradient_conflict_cosine_bucket', { ...head, le: 0.25 }), 1);
    assert.equal(await sample(metrics, 'steadytune_gradient_conflict_cosine_bucket', { ...head, le: 0.5 }), 2);
    assert.equal(await sample(metrics, 'steadytune_gradient_conflict_cosine_count', full), 1);
    assert.equal(await sample(metrics, 'steadytune_gradient_conflict_cosine_sum', full), -0.8);
    assert.equal(await sample(metrics, 'steadytune_gradient_conflict_cosine_bucket', { ...full, le: -0.75 }), 1);

    assert.equal(await sample(metrics, 'steadytune_gradient_norm_count', RUN), 3);
    assert.equal(await sample(metrics, 'steadytune_gradient_norm_sum', RUN), 0.5 + 2 + 1e-9);
    assert.equal(await sample(metrics, 'steadytune_gradient_norm_bucket', { ...RUN, le: 1e-8 }), 1);
    assert.equal(await sample(metrics, 'steadytune_step_duration_seconds_count', RUN), 3);
    assert.ok(Math.abs(((await sample(metrics, 'steadytune_step_duration_seconds_sum', RUN)) ?? NaN) - 0.16) < 1e-12);

    // Gauges hold the last step.
    assert.equal(await sample(metrics, 'steadytune_train_loss', RUN), 1.25);
    assert.equal(await sample(metrics, 'steadytune_train_accuracy', RUN), 1);
    assert.equal(await sample(metrics, 'steadytune_correct_fraction', RUN), 1);
    assert.equal(await sample(metrics, 'steadytune_dsgd_alpha', RUN), 0.3);
  });

  test('finished runs count by outcome and verdict', async () => {
    const metrics = new SteadytuneMetrics({ defaultMetrics: false });
    const fftOnWasm: JobMetricLabels = { method: 'fft', modelFamily: 'transformer', backend: 'wasm' };
    metrics.observeJobEvent(event(finishedRun('SUCCEEDED', 'collapsed')), fftOnWasm);
    metrics.observeJobEvent(event(finishedRun('SUCCEEDED', 'collapsed')), fftOnWasm);
    metrics.observeJobEvent(event(finishedRun('SUCCEEDED', 'degenerate')), fftOnWasm);
    metrics.observeJobEvent(event(finishedRun('SUCCEEDED', 'ok')), DSGD_MLP_CPU);
    metrics.observeJobEvent(event(finishedRun('CANCELLED')), DSGD_MLP_CPU);

    // run_started created the verdict counters at 0.
    metrics.observeJobEvent(event({ kind: 'run_started', totalSteps: 10, backend: 'cpu' }), DSGD_MLP_CPU);
    const fft = { method: 'fft', model_family: 'transformer', backend: 'wasm' };
    assert.equal(await sample(metrics, 'steadytune_collapsed_runs_total', fft), 2);
    assert.equal(await sample(metrics, 'steadytune_degenerate_runs_total', fft), 1);
    assert.equal(await sample(metrics, 'steadytune_collapsed_runs_total', RUN), 0);
    assert.equal(await sample(metrics, 'steadytune_degenerate_runs_total', RUN), 0);
    assert.equal(await sample(metrics, 'steadytune_runs_finished_total', { ...fft, outcome: 'succeeded' }), 3);
    assert.equal(await sample(metrics, 'steadytune_runs_finished_total', { ...RUN, outcome: 'succeeded' }), 1);
    assert.equal(await sample(metrics, 'steadytune_runs_finished_total', { ...RUN, outcome: 'cancelled' }), 1);
  });

  test('auto remedies are notices with the agreed prefix; terminal states count finished jobs', async () => {
    const metrics = new SteadytuneMetrics({ defaultMetrics: false });
    metrics.observeJobEvent(event({ kind: 'notice', message: `${AUTO_REMEDY_NOTICE_PREFIX} lowered the learning rate` }), DSGD_MLP_CPU);
    metrics.observeJobEvent(event({ kind: 'notice', message: 'backend fell back to cpu' }), DSGD_MLP_CPU);
    for (const state of ['QUEUED', 'RUNNING', 'FAILED'] as const) {
      metrics.observeJobEvent(event({ kind: 'state_changed', state, reason: '' }, 0), { ...DSGD_MLP_CPU, backend: 'unknown' });
    }
    metrics.observeJobEvent(event({ kind: 'state_changed', state: 'SUCCEEDED', reason: '' }, 0), DSGD_MLP_CPU);

    assert.equal(await sample(metrics, 'steadytune_auto_remedies_total', RUN), 1);
    const job = { method: 'dsgd', model_family: 'mlp' };
    assert.equal(await sample(metrics, 'steadytune_jobs_finished_total', { ...job, outcome: 'failed' }), 1);
    assert.equal(await sample(metrics, 'steadytune_jobs_finished_total', { ...job, outcome: 'succeeded' }), 1);
    // QUEUED created every outcome's series at 0, so increase() sees the first failure.
    assert.equal(await sample(metrics, 'steadytune_jobs_finished_total', { ...job, outcome: 'cancelled' }), 0);
    assert.equal((await values(metrics, 'steadytune_jobs_finished_total')).length, 3);
  });

  test('failed storage writes count by target and cause, every series present from the start', async () => {
    const metrics = new SteadytuneMetrics({ defaultMetrics: false });
    assert.equal((await values(metrics, 'steadytune_storage_write_failures_total')).length, 9);
    const faults = metrics.storageFaultListener();
    faults.writeFailed('checkpoint', 'no_space');
    faults.writeFailed('checkpoint', 'no_space');
    faults.writeFailed('job_store', 'io_error');
    assert.equal(await sample(metrics, 'steadytune_storage_write_failures_total', { target: 'checkpoint', cause: 'no_space' }), 2);
    assert.equal(await sample(metrics, 'steadytune_storage_write_failures_total', { target: 'job_store', cause: 'io_error' }), 1);
    assert.equal(await sample(metrics, 'steadytune_storage_write_failures_total', { target: 'model', cause: 'other' }), 0);
  });

  test('queue depth and worker utilisation are read from the bound pool at scrape time', async () => {
    const metrics = new SteadytuneMetrics({ defaultMetrics: false });
    assert.equal(await sample(metrics, 'steadytune_queue_depth', {}), 0);
    assert.equal(await sample(metrics, 'steadytune_worker_utilization_ratio', {}), 0);
    let queued = 3;
    let busy = 1;
    metrics.bindWorkerPool({ size: 4, queuedTasks: () => queued, busyWorkers: () => busy });
    assert.equal(await sample(metrics, 'steadytune_queue_depth', {}), 3);
    assert.equal(await sample(metrics, 'steadytune_worker_utilization_ratio', {}), 0.25);
    queued = 0;
    busy = 4;
    assert.equal(await sample(metrics, 'steadytune_queue_depth', {}), 0);
    assert.equal(await sample(metrics, 'steadytune_worker_utilization_ratio', {}), 1);
  });

  test('the registry holds the default Node metrics minus the ones promtool rejects', async () => {
    const metrics = new SteadytuneMetrics();
    const text = await metrics.exposition();
    assert.match(text, /^# TYPE process_cpu_seconds_total counter$/m);
    assert.match(text, /^# TYPE nodejs_active_handles gauge$/m);
    assert.doesNotMatch(text, /nodejs_active_(handles|requests|resources)_total/);
    // No job ids or other unbounded labels: only the documented label names appear.
    const labelNames = new Set(
      [...text.matchAll(/^steadytune_\w+\{([^}]*)\}/gm)].flatMap((m) => (m[1] ?? '').split(',').map((pair) => pair.split('=')[0])),
    );
    for (const name of labelNames)
      assert.ok(
        ['state', 'method', 'model_family', 'backend', 'scope', 'outcome', 'rpc_method', 'code', 'le', 'target', 'cause'].includes(
          name ?? '',
        ),
        name,
      );
  });
});
