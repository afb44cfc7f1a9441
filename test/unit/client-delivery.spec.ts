// The CLI's side of delivery and test splits: `--dataset NAME[:SPLIT]` for eval, `--delivery` for
// start, the words `get` and `watch` print, and watch's exit code for a job that delivers nothing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BuiltinName, BuiltinSplit, DatasetSplit, Delivery, Job, JobState, RunState, Verdict } from '../../client/index.js';
import { parseCommandLine } from '../../client/cli/args.js';
import { deliveryLines, trainingSetLabel } from '../../client/cli/delivery.js';
import { jobDetail, jobResults } from '../../client/cli/reports.js';
import { parseDatasetRef, specFromFlags } from '../../client/cli/spec-flags.js';
import { jobOutcome } from '../../client/cli/watch.js';

const metrics = (balancedAccuracy: number, verdict: Verdict) => ({
  accuracy: balancedAccuracy,
  balancedAccuracy,
  macroF1: balancedAccuracy,
  verdict,
});

function finished(seeds: number[], note: string): Job {
  return Job.fromPartial({
    id: 'job-1',
    state: JobState.JOB_STATE_SUCCEEDED,
    spec: { seeds: [62, 112], train: { source: { $case: 'datasetId', value: 'ds_a' } }, delivery: Delivery.DELIVERY_ENSEMBLE },
    trainingSet: { classCounts: [400, 40] },
    runs: [
      {
        seed: 62,
        state: RunState.RUN_STATE_SUCCEEDED,
        metrics: metrics(0.9, Verdict.VERDICT_OK),
        testMetrics: metrics(0.85, Verdict.VERDICT_OK),
      },
      {
        seed: 112,
        state: RunState.RUN_STATE_SUCCEEDED,
        metrics: metrics(0.5, Verdict.VERDICT_COLLAPSED),
        testMetrics: metrics(0.5, Verdict.VERDICT_COLLAPSED),
      },
    ],
    summary: {
      runs: 2,
      delivery: {
        mode: Delivery.DELIVERY_ENSEMBLE,
        seeds,
        note,
        excluded: [{ seed: 112, reason: 'collapsed' }],
        ...(seeds.length === 0 ? {} : { validation: metrics(0.9, Verdict.VERDICT_OK), test: metrics(0.85, Verdict.VERDICT_OK) }),
      },
    },
  });
}

describe('CLI delivery and test splits', () => {
  it('--dataset NAME[:SPLIT]: registered datasets take any split, built-ins train and validation', () => {
    assert.deepEqual(parseDatasetRef('dataset', 'ds_abc:test'), {
      source: { $case: 'datasetId', value: 'ds_abc' },
      classes: [],
      maxExamples: 0,
      split: DatasetSplit.DATASET_SPLIT_TEST,
    });
    assert.deepEqual(parseDatasetRef('dataset', 'ds_abc').split, undefined, 'the place decides: validation for eval');
    const builtin = parseDatasetRef('dataset', 'mnist:train', [3, 8]);
    assert.deepEqual(
      [builtin.source, builtin.classes],
      [{ $case: 'builtin', value: { name: BuiltinName.BUILTIN_NAME_MNIST, split: BuiltinSplit.BUILTIN_SPLIT_TRAIN } }, [3, 8]],
    );
    assert.throws(() => parseDatasetRef('dataset', 'mnist:test'), /built-in datasets have no test split/);
    assert.throws(() => parseDatasetRef('dataset', 'ds_abc:holdout'), /'holdout' is not one of train, validation, test/);
    assert.deepEqual(
      { ...parseCommandLine(['eval', 'job', '--dataset', 'ds_abc:test', '--classes', '1,0']).flags },
      { dataset: 'ds_abc:test', classes: '1,0' },
    );
  });

  it('--delivery sets the spec field; an unknown mode is a usage error', () => {
    assert.equal(specFromFlags({ delivery: 'best' }).delivery, Delivery.DELIVERY_BEST_VALIDATION);
    assert.equal(specFromFlags({ delivery: 'all' }).delivery, Delivery.DELIVERY_ALL);
    assert.equal(specFromFlags({}).delivery, undefined);
    assert.throws(() => specFromFlags({ delivery: 'median' }), /--delivery: 'median' is not one of ensemble, best, best_validation, all/);
  });

  it('get and watch show the delivered model, the test columns and the training counts', () => {
    const job = finished([62], 'majority vote of 1 healthy seed (62); left out: 112 collapsed');
    for (const text of [jobDetail(job), jobResults(job)]) {
      assert.match(text, /SEED .* TEST BAL +TEST VERDICT\n/);
      assert.match(text, /\n +62 .* 0\.8500 +ok\n/);
      assert.match(
        text,
        /\ndelivered {2}ensemble: seed 62\n {2}majority vote of 1 healthy seed \(62\); left out: 112 collapsed\n {2}validation {2}acc 0\.9000 .*\n {2}test {8}acc 0\.8500 .*\(reported only\)/,
      );
    }
    assert.match(jobDetail(job), /\ntrain classes +0: 400, 1: 40 \(440 examples\)\n/);
    assert.match(jobDetail(job), /\ntest +the training dataset's test split \(reported only\)\n/);
    assert.equal(trainingSetLabel(undefined), undefined);
    assert.deepEqual(deliveryLines(undefined), []);
  });

  it('a job that delivers nothing says so and exits 3 from watch and start --wait', () => {
    const none = finished([], 'nothing delivered: no seed is healthy (112 collapsed)');
    assert.match(jobResults(none), /\ndelivered {2}NOTHING\n {2}nothing delivered: no seed is healthy \(112 collapsed\)/);
    assert.equal(jobOutcome(none), 3);
    assert.equal(jobOutcome(finished([62], 'ok')), 0);
    // Summaries from before delivery existed keep their outcome.
    assert.equal(jobOutcome(Job.fromPartial({ state: JobState.JOB_STATE_SUCCEEDED, summary: { runs: 1 } })), 0);
  });
});
