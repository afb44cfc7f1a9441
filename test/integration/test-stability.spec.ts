// Stability over the real server: one job, three seeds on a small long-tailed split. The
// summary must be the runs' own statistics, and the ensemble row the vote of the seeds'
// models, both recomputed here from what the API returns.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImbalanceKind, JobState, Verdict, type EvalMetrics, type Job, type SeedRun, type Stat } from '../../client/index.js';
import { loadDataset } from '../../server/data/index.js';
import { applySelection } from '../../server/jobs/worker/dataset-selection.js';
import { collect, startTestServer, tinySpec, type TestServer } from '../fixtures/server-harness.js';

const SEEDS = [42, 52, 62];
const VALIDATION_EXAMPLES = 200;
const CLASSES = 10;

/** Mean, sample std (n - 1), min, max: written out here, not borrowed from the server. */
function statOf(values: readonly number[]): Stat {
  const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
  const variance = values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / (values.length - 1);
  return { mean, std: Math.sqrt(variance), min: Math.min(...values), max: Math.max(...values) };
}

function assertStat(actual: Stat | undefined, expected: Stat, what: string): void {
  assert.ok(actual, what);
  for (const key of ['mean', 'std', 'min', 'max'] as const) {
    assert.ok(Math.abs(actual[key] - expected[key]) < 1e-12, `${what}.${key}: ${actual[key]} vs ${expected[key]}`);
  }
}

/** Plurality per example; a tie goes to the lowest class id. */
function vote(predictions: readonly number[][]): number[] {
  const examples = predictions[0]?.length ?? 0;
  return Array.from({ length: examples }, (_, i) => {
    const counts = new Array<number>(CLASSES).fill(0);
    for (const model of predictions) counts[model[i] ?? 0] = (counts[model[i] ?? 0] ?? 0) + 1;
    return counts.indexOf(Math.max(...counts));
  });
}

function scored(
  labels: readonly number[],
  predicted: readonly number[],
): Pick<EvalMetrics, 'accuracy' | 'balancedAccuracy' | 'confusion' | 'predictionCounts'> {
  const confusion = new Array<number>(CLASSES * CLASSES).fill(0);
  labels.forEach((label, i) => (confusion[label * CLASSES + (predicted[i] ?? 0)] += 1));
  const recalls = Array.from({ length: CLASSES }, (_, c) => {
    const row = confusion.slice(c * CLASSES, (c + 1) * CLASSES);
    const total = row.reduce((sum, n) => sum + n, 0);
    return total === 0 ? undefined : (row[c] ?? 0) / total;
  }).filter((recall): recall is number => recall !== undefined);
  return {
    accuracy: labels.filter((label, i) => label === predicted[i]).length / labels.length,
    balancedAccuracy: recalls.reduce((sum, r) => sum + r, 0) / recalls.length,
    confusion,
    predictionCounts: Array.from({ length: CLASSES }, (_, c) => predicted.filter((p) => p === c).length),
  };
}

describe('stability over seeds', () => {
  let server: TestServer;
  let job: Job;
  let runs: SeedRun[];

  before(async () => {
    server = await startTestServer();
    const spec = {
      ...tinySpec({ examples: 600, seeds: SEEDS, epochs: 2 }),
      imbalance: { kind: ImbalanceKind.IMBALANCE_KIND_LONG_TAILED, ratio: 10, seed: 0 },
      ensemble: true,
      ciWidth: 0.1,
    };
    const started = await server.client.startFineTune({ spec });
    assert.ok(started.job);
    await collect(server.client.streamMetrics(started.job.id));
    job = await server.client.getJob(started.job.id);
    runs = job.runs;
  });
  after(() => server.stop());

  it('returns one run per seed and a summary of exactly those runs', () => {
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED);
    assert.deepEqual(
      runs.map((run) => run.seed),
      SEEDS,
    );
    const metrics = runs.map((run) => run.metrics ?? assert.fail(`seed ${run.seed} has no metrics`));
    const { summary } = job;
    assert.equal(summary?.runs, 3);
    assertStat(summary?.accuracy, statOf(metrics.map((m) => m.accuracy)), 'accuracy');
    assertStat(summary?.balancedAccuracy, statOf(metrics.map((m) => m.balancedAccuracy)), 'balancedAccuracy');
    assertStat(summary?.macroF1, statOf(metrics.map((m) => m.macroF1)), 'macroF1');
    assert.equal(summary?.collapsed, metrics.filter((m) => m.verdict === Verdict.VERDICT_COLLAPSED).length);
    assert.equal(summary?.degenerate, metrics.filter((m) => m.verdict === Verdict.VERDICT_DEGENERATE).length);
    // The seeds really differ: a summary of three identical runs would prove nothing.
    assert.ok((summary?.accuracy?.std ?? 0) > 0);
  });

  it('states its uncertainty: exact failure bound, bootstrap intervals, seeds for the requested width', () => {
    const metrics = runs.map((run) => run.metrics ?? assert.fail(`seed ${run.seed} has no metrics`));
    const u = job.summary?.uncertainty ?? assert.fail('no uncertainty in the summary');
    const failed = metrics.filter((m) => m.verdict === Verdict.VERDICT_COLLAPSED || m.verdict === Verdict.VERDICT_DEGENERATE).length;
    assert.equal(u.failed, failed);
    // k of 3 failed: SciPy's beta.ppf(0.95, k + 1, 3 - k) (1 for 3 of 3).
    const bounds = [0.6315968501359612, 0.8646496378284161, 0.9830475724915585, 1];
    assert.ok(Math.abs(u.failureRateUpper - (bounds[failed] ?? Number.NaN)) < 1e-9, `${failed} of 3: ${u.failureRateUpper}`);
    const mean = statOf(metrics.map((m) => m.balancedAccuracy)).mean;
    assert.ok(u.balancedAccuracyMean && u.balancedAccuracyMean.low <= mean && mean <= u.balancedAccuracyMean.high, JSON.stringify(u));
    assert.ok(u.balancedAccuracyStd && u.balancedAccuracyStd.low <= u.balancedAccuracyStd.high);
    assert.deepEqual([u.confidence, u.requestedWidth, u.bootstrapResamples], [0.95, 0.1, 10000]);
    assert.ok(u.seedsForMeanWidth >= 2 && u.seedsForStdWidth >= 2, JSON.stringify(u));
  });

  it("scores the ensemble as the vote of the seeds' Predict outputs on the validation examples", async () => {
    // The job's validation split, selected as the worker selects it.
    const loaded = await loadDataset({ builtin: 'mnist', split: 'validation' });
    const { examples } = applySelection(
      { examples: loaded.examples, classNames: loaded.classNames },
      { classes: [], maxExamples: VALIDATION_EXAMPLES },
      'validation',
    );
    assert.equal(examples.inputs.kind, 'features');
    if (examples.inputs.kind !== 'features') return;
    const { values, dim } = examples.inputs;
    const labels = Array.from(examples.labels);
    const inputs = labels.map((_, i) => ({ features: Array.from(values.subarray(i * dim, (i + 1) * dim)) }));

    const perSeed: number[][] = [];
    for (const seed of SEEDS) {
      const response = await server.client.predict({ jobId: job.id, seed, examples: inputs });
      perSeed.push(response.predictions.map((p) => p.label));
    }
    // Each seed's Predict agrees with its own validation metrics...
    perSeed.forEach((predicted, index) => assert.deepEqual(scored(labels, predicted).confusion, runs[index]?.metrics?.confusion));
    // ...and the seeds disagree somewhere, so the vote is not any one of them.
    assert.ok(perSeed.some((predicted) => predicted.some((label, i) => label !== perSeed[0]?.[i])));

    const expected = scored(labels, vote(perSeed));
    const evaluated = await server.client.evaluate({ jobId: job.id, ensemble: true });
    for (const ensemble of [evaluated.ensemble, job.summary?.ensemble]) {
      assert.ok(ensemble);
      assert.equal(ensemble.examples, VALIDATION_EXAMPLES);
      assert.deepEqual(ensemble.confusion, expected.confusion);
      assert.deepEqual(ensemble.predictionCounts, expected.predictionCounts);
      assert.ok(Math.abs(ensemble.accuracy - expected.accuracy) < 1e-12);
      assert.ok(Math.abs(ensemble.balancedAccuracy - expected.balancedAccuracy) < 1e-12);
    }
    // Predict's own vote (seed 0) is the same vote.
    const voted = await server.client.predict({ jobId: job.id, seed: 0, examples: inputs });
    assert.deepEqual(
      voted.predictions.map((p) => p.label),
      vote(perSeed),
    );
  });
});
