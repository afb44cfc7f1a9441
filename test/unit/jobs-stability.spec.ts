import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Evaluation, Verdict } from '../../server/engine/types.js';
import {
  describe as describeValues,
  evaluatePredictions,
  majorityVote,
  summarizeRuns,
  voteShares,
  DEFAULT_CI_WIDTH,
} from '../../server/jobs/stability.js';
import { BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, seedsForMeanWidth } from '../../server/jobs/uncertainty.js';

function closeTo(actual: number, expected: number, label: string): void {
  assert.ok(Math.abs(actual - expected) < 1e-12, `${label}: ${actual} vs ${expected}`);
}

function evaluation(accuracy: number, balancedAccuracy: number, macroF1: number, verdict: Verdict): Evaluation {
  return {
    examples: 10,
    loss: 0,
    accuracy,
    balancedAccuracy,
    macroF1,
    perClassRecall: [],
    confusion: [],
    numClasses: 2,
    predictionCounts: [],
    representationCosine: 0,
    verdict,
    predictions: new Int32Array(),
  };
}

describe('stability math', () => {
  test('describe: mean, sample std (n - 1), min, max by hand', () => {
    // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, squared deviations sum to 32, 32 / 7 → std 2.138089935...
    const stat = describeValues([2, 4, 4, 4, 5, 5, 7, 9]);
    closeTo(stat.mean, 5, 'mean');
    closeTo(stat.std, Math.sqrt(32 / 7), 'std');
    assert.equal(stat.min, 2);
    assert.equal(stat.max, 9);
    assert.deepEqual(describeValues([0.7]), { mean: 0.7, std: 0, min: 0.7, max: 0.7 });
    assert.deepEqual(describeValues([]), { mean: 0, std: 0, min: 0, max: 0 });
  });

  test('summarizeRuns: per-metric stats and verdict counts', () => {
    const summary = summarizeRuns([
      evaluation(0.9, 0.8, 0.7, 'ok'),
      evaluation(0.5, 0.5, 0.3, 'collapsed'),
      evaluation(0.7, 0.6, 0.5, 'degenerate'),
    ]);
    assert.equal(summary.runs, 3);
    // accuracy 0.9, 0.5, 0.7: mean 0.7, deviations ±0.2 and 0 → variance 0.08 / 2 = 0.04, std 0.2.
    closeTo(summary.accuracy.mean, 0.7, 'accuracy mean');
    closeTo(summary.accuracy.std, 0.2, 'accuracy std');
    closeTo(summary.balancedAccuracy.mean, 0.6333333333333333, 'balanced mean');
    closeTo(summary.macroF1.std, 0.2, 'f1 std');
    assert.equal(summary.macroF1.min, 0.3);
    assert.equal(summary.collapsed, 1);
    assert.equal(summary.degenerate, 1);
    assert.equal(summary.ensemble, undefined);
  });

  test('summarizeRuns: the uncertainty of the summary (failures, intervals, seeds needed)', () => {
    const summary = summarizeRuns([
      evaluation(0.9, 0.8, 0.7, 'ok'),
      evaluation(0.5, 0.5, 0.3, 'collapsed'),
      evaluation(0.7, 0.6, 0.5, 'degenerate'),
    ]);
    const u = summary.uncertainty;
    assert.ok(u !== undefined);
    assert.equal(u.confidence, 0.95);
    // Collapsed and degenerate both count as failed: 2 of 3, whose exact bound is 0.95^(1/3).
    assert.equal(u.failed, 2);
    closeTo(u.failureRateUpper, 0.95 ** (1 / 3), 'failure rate bound');
    assert.equal(u.requestedWidth, DEFAULT_CI_WIDTH);
    assert.equal(u.bootstrapResamples, BOOTSTRAP_RESAMPLES);
    assert.equal(u.bootstrapSeed, BOOTSTRAP_SEED);
    const mean = summary.balancedAccuracy.mean;
    assert.ok(u.balancedAccuracyMean !== undefined && u.balancedAccuracyMean.low <= mean && mean <= u.balancedAccuracyMean.high);
    // Balanced accuracy 0.8, 0.5, 0.6: std 0.1528; 2 t(0.975, n - 1) 0.1528 / sqrt(n) <= 0.05 first
    // at n 146 (0.04997; n 145 gives 0.05015, with SciPy's t).
    assert.equal(u.seedsForMeanWidth, seedsForMeanWidth(summary.balancedAccuracy.std, 0.05));
    assert.equal(u.seedsForMeanWidth, 146);

    const ten = summarizeRuns(
      Array.from({ length: 10 }, (_, i) => evaluation(0.8, 0.8 + i / 1000, 0.8, 'ok')),
      undefined,
      0.02,
    );
    assert.equal(ten.uncertainty?.failed, 0);
    closeTo(ten.uncertainty?.failureRateUpper ?? Number.NaN, 1 - 0.05 ** (1 / 10), '0 of 10');
    assert.equal(ten.uncertainty?.requestedWidth, 0.02);
    // std 0.00303: two seeds already give a t interval 2 × 12.71 × 0.00303 / sqrt(2) = 0.054 > 0.02; three: 0.0150.
    assert.equal(ten.uncertainty?.seedsForMeanWidth, 3);

    const one = summarizeRuns([evaluation(0.8, 0.8, 0.8, 'ok')]).uncertainty;
    assert.equal(one?.balancedAccuracyMean, undefined);
    assert.equal(one?.seedsForMeanWidth, undefined);
    closeTo(one?.failureRateUpper ?? Number.NaN, 0.95, '0 of 1: 1 - 0.05');
  });

  test('majorityVote: plurality per example, ties to the lowest class id', () => {
    const seeds = [Int32Array.from([0, 1, 2, 2, 1]), Int32Array.from([0, 1, 1, 0, 2]), Int32Array.from([1, 1, 2, 1, 0])];
    // ex0: 0,0,1 → 0; ex1: 1,1,1 → 1; ex2: 2,1,2 → 2; ex3: 2,0,1 → three-way tie → 0; ex4: 1,2,0 → tie → 0.
    assert.deepEqual(Array.from(majorityVote(seeds, 3)), [0, 1, 2, 0, 0]);
    // Two models disagreeing: the lower class wins regardless of seed order.
    assert.deepEqual(Array.from(majorityVote([Int32Array.from([2]), Int32Array.from([1])], 3)), [1]);
    assert.deepEqual(voteShares(seeds, 3)[0], [2 / 3, 1 / 3, 0]);
  });

  test('evaluatePredictions: confusion, recall, balanced accuracy and macro-F1 by hand', () => {
    // labels    0 0 0 0 1 1 2 2
    // predicted 0 0 0 1 1 0 0 0   (class 2 never predicted)
    const metrics = evaluatePredictions(Int32Array.from([0, 0, 0, 0, 1, 1, 2, 2]), Int32Array.from([0, 0, 0, 1, 1, 0, 0, 0]), 3);
    assert.deepEqual(metrics.confusion, [3, 1, 0, 1, 1, 0, 2, 0, 0]);
    assert.deepEqual(metrics.predictionCounts, [6, 2, 0]);
    closeTo(metrics.accuracy, 4 / 8, 'accuracy');
    assert.deepEqual(metrics.perClassRecall, [0.75, 0.5, 0]);
    closeTo(metrics.balancedAccuracy, (0.75 + 0.5 + 0) / 3, 'balanced accuracy');
    // F1: class 0 = 2*3/(4+6) = 0.6, class 1 = 2*1/(2+2) = 0.5, class 2 = 0.
    closeTo(metrics.macroF1, (0.6 + 0.5 + 0) / 3, 'macro-F1');
    // Class 0 takes 75% of the predictions on a 50% share, half the gap to 100%, but classes 1
    // and 2 keep mean recall 0.25: not collapsed. Balanced accuracy 0.417, chance-adjusted
    // (0.417 - 1/3) / (2/3) = 0.125 > 0.1: 'ok'.
    assert.equal(metrics.verdict, 'ok');
    assert.equal(evaluatePredictions(Int32Array.from([0, 1]), Int32Array.from([1, 1]), 2).verdict, 'collapsed');
    // Half right on each class of a binary task: balanced accuracy 0.5 = chance → degenerate.
    assert.equal(evaluatePredictions(Int32Array.from([0, 0, 1, 1]), Int32Array.from([0, 1, 0, 1]), 2).verdict, 'degenerate');
    assert.equal(evaluatePredictions(Int32Array.from([0, 1]), Int32Array.from([0, 1]), 2).verdict, 'ok');
  });

  test('an ensemble whose vote is known fixes errors no single seed fixes alone', () => {
    const labels = Int32Array.from([0, 1, 0, 1]);
    const seeds = [Int32Array.from([0, 1, 1, 1]), Int32Array.from([0, 0, 0, 1]), Int32Array.from([1, 1, 0, 1])];
    const vote = majorityVote(seeds, 2);
    assert.deepEqual(Array.from(vote), [0, 1, 0, 1]);
    const ensemble = evaluatePredictions(labels, vote, 2);
    assert.equal(ensemble.accuracy, 1);
    const summary = summarizeRuns(
      seeds.map((p) => evaluatePredictions(labels, p, 2)),
      ensemble,
    );
    closeTo(summary.accuracy.mean, 0.75, 'seed mean');
    assert.equal(summary.ensemble?.accuracy, 1);
  });
});

test('evaluatePredictions agrees with the engine on random predictions', async () => {
  // The engine's summarizeEvaluation lives in a TF.js module; the main thread must not load
  // that, so jobs/ repeats the arithmetic. This keeps the two in step.
  const { summarizeEvaluation } = await import('../../server/engine/evaluation.js');
  let state = 7;
  const random = (n: number): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };
  for (const [numClasses, examples, skew] of [
    [2, 40, 1],
    [5, 200, 3],
    [10, 300, 9],
    [3, 50, 0],
  ] as const) {
    const labels = Int32Array.from({ length: examples }, () => random(numClasses));
    // skew 0: everything predicted as class 1 (collapsed); otherwise noisy copies of the labels.
    const predictions = Int32Array.from(labels, (label) => (skew === 0 ? 1 : random(skew + 1) === 0 ? label : random(numClasses)));
    const ours = evaluatePredictions(labels, predictions, numClasses);
    const engine = summarizeEvaluation(labels, predictions, numClasses, 0, 0);
    for (const key of ['accuracy', 'balancedAccuracy', 'macroF1'] as const) closeTo(ours[key], engine[key], key);
    assert.deepEqual(ours.confusion, engine.confusion);
    assert.deepEqual(ours.perClassRecall, engine.perClassRecall);
    assert.equal(ours.verdict, engine.verdict);
  }
});
