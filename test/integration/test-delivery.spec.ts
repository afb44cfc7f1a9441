// Delivery and the test split over the real server. The dataset is MNIST 3 vs 8 registered with
// a test split that is its validation split with every label flipped: on two classes a model's
// test balanced accuracy is then exactly 1 minus its validation balanced accuracy, so a choice
// that looked at the test split would pick the other seed. The spec is the auto-remedy one
// (full-batch SGD at learning rate 5), under which seed 112 collapses and 62, 102 do not.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  DatasetFormat,
  DatasetSplit,
  Delivery,
  GrpcStatus,
  JobState,
  Verdict,
  type DatasetRef,
  type EvalMetrics,
  type FineTuneSpec,
  type Job,
  type SeedRun,
} from '../../client/index.js';
import { runCli } from '../../client/cli/run.js';
import { collapsingSpec } from '../../bench/auto-remedy/collapsing-spec.js';
import { loadDataset } from '../../server/data/index.js';
import { applySelection } from '../../server/jobs/worker/dataset-selection.js';
import type { ExampleSet } from '../../server/engine/types.js';
import { collect, rejection, startTestServer, type TestServer } from '../fixtures/server-harness.js';

const HEALTHY = [62, 102];
const COLLAPSING = 112;
const SEEDS = [...HEALTHY, COLLAPSING];

/** The collapsing spec's examples (digits 3 and 8 relabelled 0 and 1, as the built-in selection does). */
async function digits(split: 'train' | 'validation', max: number): Promise<ExampleSet> {
  const loaded = await loadDataset({ builtin: 'mnist', split });
  return applySelection({ examples: loaded.examples, classNames: loaded.classNames }, { classes: [3, 8], maxExamples: max }, split)
    .examples;
}

function featuresOf(set: ExampleSet): number[][] {
  if (set.inputs.kind !== 'features') throw new Error('digits are features');
  const { values, dim } = set.inputs;
  return Array.from(set.labels, (_, i) => Array.from(values.subarray(i * dim, (i + 1) * dim)));
}

function jsonl(set: ExampleSet, label: (label: number) => number = (l) => l): Uint8Array {
  const rows = featuresOf(set).map((features, i) => JSON.stringify({ label: label(set.labels[i] ?? 0), features }));
  return new TextEncoder().encode(`${rows.join('\n')}\n`);
}

/** Plurality per example; a tie goes to the lowest class id. */
function vote(predictions: readonly number[][]): number[] {
  return (predictions[0] ?? []).map((_, i) => {
    const counts = [0, 0];
    for (const model of predictions) counts[model[i] ?? 0] = (counts[model[i] ?? 0] ?? 0) + 1;
    return (counts[1] ?? 0) > (counts[0] ?? 0) ? 1 : 0;
  });
}

function confusionOf(labels: readonly number[], predicted: readonly number[]): number[] {
  const confusion = [0, 0, 0, 0];
  labels.forEach((label, i) => (confusion[label * 2 + (predicted[i] ?? 0)] += 1));
  return confusion;
}

function near(actual: number | undefined, expected: number | undefined, what: string): void {
  assert.ok(actual !== undefined && expected !== undefined && Math.abs(actual - expected) < 1e-12, `${what}: ${actual} vs ${expected}`);
}

function runOf(job: Job, seed: number): SeedRun {
  return job.runs.find((run) => run.seed === seed) ?? assert.fail(`no run for seed ${seed}`);
}

function metricsOf(job: Job, seed: number): EvalMetrics {
  return runOf(job, seed).metrics ?? assert.fail(`seed ${seed} has no metrics`);
}

describe('delivery and the test split', () => {
  let server: TestServer;
  let validation: ExampleSet;
  let trainCounts: number[];
  let withTest: string;
  let withoutTest: string;
  const jobs = new Map<string, Promise<Job>>();

  async function runToEnd(spec: FineTuneSpec): Promise<Job> {
    const started = await server.client.startFineTune({ spec });
    assert.ok(started.job);
    await collect(server.client.streamMetrics(started.job.id));
    return server.client.getJob(started.job.id);
  }

  function registeredSpec(datasetId: string, seeds: number[], delivery?: Delivery): FineTuneSpec {
    const ref: DatasetRef = { source: { $case: 'datasetId', value: datasetId }, classes: [], maxExamples: 0 };
    return { ...collapsingSpec(seeds), train: ref, validation: { ...ref }, ...(delivery === undefined ? {} : { delivery }) };
  }

  before(async () => {
    server = await startTestServer({ concurrency: 2 });
    const train = await digits('train', 400);
    validation = await digits('validation', 200);
    trainCounts = [0, 1].map((c) => train.labels.filter((l) => l === c).length);
    const files = { train: jsonl(train), validation: jsonl(validation) };
    const registered = await server.client.uploadDataset({
      format: DatasetFormat.DATASET_FORMAT_JSONL,
      files: { ...files, test: jsonl(validation, (label) => 1 - label) },
    });
    withTest = registered.dataset?.id ?? assert.fail('no dataset');
    assert.equal(registered.dataset?.report?.test?.numExamples, 200);
    withoutTest =
      (await server.client.uploadDataset({ format: DatasetFormat.DATASET_FORMAT_JSONL, files })).dataset?.id ?? assert.fail('no dataset');
    assert.notEqual(withTest, withoutTest);
    jobs.set('ensemble', runToEnd(registeredSpec(withTest, SEEDS)));
    jobs.set('best', runToEnd(registeredSpec(withTest, SEEDS, Delivery.DELIVERY_BEST_VALIDATION)));
    jobs.set('none', runToEnd(registeredSpec(withoutTest, [COLLAPSING])));
  });
  after(() => server.stop());

  async function job(name: string): Promise<Job> {
    return (await jobs.get(name)) ?? assert.fail(`no job ${name}`);
  }

  /** Each seed's predicted classes on the validation examples, from Predict. */
  async function predictions(jobId: string, seed: number): Promise<number[]> {
    const examples = featuresOf(validation).map((features) => ({ features }));
    return (await server.client.predict({ jobId, seed, examples })).predictions.map((p) => p.label);
  }

  it('has seeds that really differ: 112 collapses, 62 and 102 train', async () => {
    const ensemble = await job('ensemble');
    assert.equal(ensemble.state, JobState.JOB_STATE_SUCCEEDED);
    assert.equal(metricsOf(ensemble, COLLAPSING).verdict, Verdict.VERDICT_COLLAPSED);
    for (const seed of HEALTHY) assert.equal(metricsOf(ensemble, seed).verdict, Verdict.VERDICT_OK, `seed ${seed}`);
    assert.notEqual(metricsOf(ensemble, 62).balancedAccuracy, metricsOf(ensemble, 102).balancedAccuracy);
    // The imbalance transform is none here: the training counts are the registered split's.
    assert.deepEqual(ensemble.trainingSet?.classCounts, trainCounts);
  });

  it('ENSEMBLE (the default) delivers the vote of the healthy seeds, without the collapsed one', async () => {
    const ensemble = await job('ensemble');
    const delivery = ensemble.summary?.delivery ?? assert.fail('no delivery');
    assert.deepEqual(
      [delivery.mode, delivery.seeds, delivery.excluded],
      [Delivery.DELIVERY_ENSEMBLE, HEALTHY, [{ seed: COLLAPSING, reason: 'collapsed' }]],
    );
    assert.match(delivery.note, /^majority vote of 2 healthy seeds \(62, 102\); left out: 112 collapsed$/);
    // The vote recomputed here from each healthy seed's Predict output.
    const expected = vote(await Promise.all(HEALTHY.map((seed) => predictions(ensemble.id, seed))));
    const labels = Array.from(validation.labels);
    assert.deepEqual(delivery.validation?.confusion, confusionOf(labels, expected));
    assert.deepEqual(await predictions(ensemble.id, 0), expected);
    const evaluated = await server.client.evaluate({ jobId: ensemble.id });
    assert.deepEqual(
      evaluated.evaluations.map((e) => e.seed),
      SEEDS,
      'every seed that trained is evaluated',
    );
    assert.deepEqual(evaluated.delivered?.seeds, HEALTHY);
    assert.deepEqual(evaluated.delivered?.metrics?.confusion, delivery.validation?.confusion);
  });

  it('reports the test split per seed and for the delivered model, and only reports it', async () => {
    const ensemble = await job('ensemble');
    for (const seed of SEEDS) {
      // Flipped labels: test balanced accuracy is exactly 1 - validation balanced accuracy.
      near(runOf(ensemble, seed).testMetrics?.balancedAccuracy, 1 - metricsOf(ensemble, seed).balancedAccuracy, `seed ${seed}`);
    }
    const delivery = ensemble.summary?.delivery;
    near(delivery?.test?.balancedAccuracy, 1 - (delivery?.validation?.balancedAccuracy ?? Number.NaN), 'delivered');
    // Evaluate on the test split names it; its numbers are the ones the job reported.
    const onTest = await server.client.evaluate({
      jobId: ensemble.id,
      dataset: { source: { $case: 'datasetId', value: withTest }, classes: [], maxExamples: 0, split: DatasetSplit.DATASET_SPLIT_TEST },
    });
    for (const { seed, metrics } of onTest.evaluations) assert.deepEqual(metrics?.confusion, runOf(ensemble, seed).testMetrics?.confusion);
    assert.deepEqual(onTest.delivered?.metrics?.confusion, delivery?.test?.confusion);
  });

  it('BEST_VALIDATION delivers the best healthy seed on validation, the worst on the (flipped) test split', async () => {
    const best = await job('best');
    const delivery = best.summary?.delivery ?? assert.fail('no delivery');
    const byValidation = [...HEALTHY].sort((a, b) => metricsOf(best, b).balancedAccuracy - metricsOf(best, a).balancedAccuracy);
    const [winner, other] = byValidation;
    assert.deepEqual([delivery.mode, delivery.seeds], [Delivery.DELIVERY_BEST_VALIDATION, [winner]]);
    assert.deepEqual(delivery.excluded, [
      { seed: COLLAPSING, reason: 'collapsed' },
      { seed: other, reason: 'not the best' },
    ]);
    const testOf = (seed: number | undefined): number => runOf(best, seed ?? 0).testMetrics?.balancedAccuracy ?? Number.NaN;
    assert.ok(testOf(winner) < testOf(other), `the test split would have chosen seed ${other}: ${testOf(winner)} < ${testOf(other)}`);
    assert.deepEqual(delivery.validation, metricsOf(best, winner ?? 0));
    assert.deepEqual(delivery.test, runOf(best, winner ?? 0).testMetrics);
    // Predict without a seed is that seed's model, probabilities and all.
    const examples = featuresOf(validation)
      .slice(0, 8)
      .map((features) => ({ features }));
    const [delivered, own] = await Promise.all([0, winner ?? 0].map((seed) => server.client.predict({ jobId: best.id, seed, examples })));
    assert.deepEqual(delivered?.predictions, own?.predictions);
  });

  it('says plainly when no seed is healthy: SUCCEEDED, nothing delivered, Predict without a seed refused', async () => {
    const none = await job('none');
    assert.equal(none.state, JobState.JOB_STATE_SUCCEEDED);
    const delivery = none.summary?.delivery ?? assert.fail('no delivery');
    assert.deepEqual([delivery.seeds, delivery.note], [[], 'nothing delivered: no seed is healthy (112 collapsed)']);
    assert.ok(none.notices.includes('delivery: nothing delivered: no seed is healthy (112 collapsed)'), none.notices.join('\n'));
    const refused = await rejection(predictions(none.id, 0));
    assert.equal(refused.code, GrpcStatus.FAILED_PRECONDITION);
    assert.match(refused.message, /delivers no model .*name a seed/);
    assert.equal((await predictions(none.id, COLLAPSING)).length, 200, 'a named seed still predicts');
    const evaluated = await server.client.evaluate({ jobId: none.id });
    assert.deepEqual([evaluated.evaluations.map((e) => e.seed), evaluated.delivered], [[COLLAPSING], undefined]);
    // No test split on this dataset: nothing is reported as test.
    assert.equal(runOf(none, COLLAPSING).testMetrics, undefined);
  });

  it('ExportModel bundles the delivered seeds only: never the collapsed one, nothing for a job that delivers nothing', async () => {
    const scratch = await mkdtemp(path.join(tmpdir(), 'steadytune-delivery-'));
    try {
      const ensemble = await server.client.exportModel((await job('ensemble')).id, path.join(scratch, 'ensemble'));
      assert.deepEqual(
        ensemble.files.map((file) => file.path),
        ['seed-62/model.safetensors', 'seed-102/model.safetensors', 'model.json', 'ensemble.json', 'run-card.json'],
      );
      const card = JSON.parse(await readFile(path.join(scratch, 'ensemble', 'run-card.json'), 'utf8'));
      assert.deepEqual(
        card.runs.map((run: { seed: number; delivered: boolean }) => [run.seed, run.delivered]),
        [
          [62, true],
          [102, true],
          [112, false],
        ],
      );
      assert.deepEqual(card.summary.delivery.seeds, HEALTHY);
      const best = await job('best');
      const winner = best.summary?.delivery?.seeds[0];
      const single = await server.client.exportModel(best.id, path.join(scratch, 'best'));
      assert.deepEqual(
        single.files.map((file) => file.path),
        [`seed-${winner}/model.safetensors`, 'model.json', 'run-card.json'],
      );
      const refused = await rejection(server.client.exportModel((await job('none')).id, path.join(scratch, 'none')));
      assert.equal(refused.code, GrpcStatus.FAILED_PRECONDITION);
      assert.match(refused.message, /delivers no model/);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it('names the field of a split a dataset lacks, and of a test split that is not held out', async () => {
    const ref = (datasetId: string, split?: DatasetSplit): DatasetRef => ({
      source: { $case: 'datasetId', value: datasetId },
      classes: [],
      maxExamples: 0,
      ...(split === undefined ? {} : { split }),
    });
    const invalid = async (promise: Promise<unknown>, field: string): Promise<string> => {
      const error = await rejection(promise);
      assert.equal(error.code, GrpcStatus.INVALID_ARGUMENT, error.message);
      return (
        error.fieldViolations.find((v) => v.field === field)?.description ??
        assert.fail(`no violation on ${field}: ${JSON.stringify(error.fieldViolations)}`)
      );
    };
    const spec = registeredSpec(withoutTest, [1]);
    assert.match(
      await invalid(server.client.startFineTune({ spec: { ...spec, test: ref(withoutTest) } }), 'spec.test.split'),
      /has no test split \(it has train, validation\)/,
    );
    assert.match(
      await invalid(
        server.client.startFineTune({ spec: { ...spec, test: ref(withoutTest, DatasetSplit.DATASET_SPLIT_VALIDATION) } }),
        'spec.test',
      ),
      /names the validation split/,
    );
    const ensemble = await job('ensemble');
    assert.match(
      await invalid(
        server.client.evaluate({ jobId: ensemble.id, dataset: ref(withoutTest, DatasetSplit.DATASET_SPLIT_TEST) }),
        'dataset.split',
      ),
      /has no test split/,
    );
  });

  it('CLI: eval --dataset ID:test and get show the test split, the delivery and the training counts', async () => {
    const ensemble = await job('ensemble');
    const cli = async (...argv: string[]) => {
      const output = { stdout: '', stderr: '' };
      const io = {
        stdout: { write: (text: string) => (output.stdout += text) },
        stderr: { write: (text: string) => (output.stderr += text) },
      };
      return { code: await runCli(['--server', server.address, ...argv], {}, io), ...output };
    };
    const evaluated = await cli('eval', ensemble.id, '--dataset', `${withTest}:test`);
    assert.equal(evaluated.code, 0, evaluated.stderr);
    assert.match(evaluated.stdout, /\n *delivered +200 /);
    assert.match(evaluated.stdout, /\ndelivered = seeds 62, 102\n/);
    const shown = await cli('get', ensemble.id);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`train classes +0: ${trainCounts[0]}, 1: ${trainCounts[1]} \\(400 examples\\)`));
    assert.match(shown.stdout, /TEST BAL +TEST VERDICT/);
    assert.match(
      shown.stdout,
      /\ndelivered {2}ensemble: seeds 62, 102\n {2}majority vote of 2 healthy seeds .*\n {2}validation {2}acc .*\n {2}test {8}acc .*\(reported only\)/,
    );
    const none = await cli('watch', (await job('none')).id);
    assert.equal(none.code, 3, 'a job that delivers nothing is no success for a script');
    assert.match(none.stdout, /delivered {2}NOTHING\n {2}nothing delivered: no seed is healthy \(112 collapsed\)/);
  });
});
