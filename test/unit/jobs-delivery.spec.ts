// The delivery choice on hand-built runs: which seeds enter the delivered model, in which order,
// why the others do not, and the delivered model's metrics (a vote worked out by hand).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Evaluation, Verdict } from '../../server/engine/types.js';
import { candidatesOf, chooseDelivery, deliveredMetrics, deliveredSeeds, type DeliveryCandidate } from '../../server/jobs/delivery.js';
import { pendingRun } from '../../server/jobs/store.js';
import type { RunState, SeedRun } from '../../server/jobs/types.js';

function evaluation(balancedAccuracy: number, verdict: Verdict, predictions: number[] = [], macroF1 = balancedAccuracy): Evaluation {
  return {
    examples: predictions.length,
    loss: 0.5,
    accuracy: balancedAccuracy,
    balancedAccuracy,
    macroF1,
    perClassRecall: [],
    confusion: [],
    numClasses: 2,
    predictionCounts: [],
    representationCosine: 0.1,
    verdict,
    predictions: Int32Array.from(predictions),
  };
}

function candidate(seed: number, state: RunState, validation?: Evaluation): DeliveryCandidate {
  return { seed, state, ...(validation === undefined ? {} : { validation }) };
}

const RUNS: DeliveryCandidate[] = [
  candidate(42, 'SUCCEEDED', evaluation(0.8, 'ok')),
  candidate(52, 'SUCCEEDED', evaluation(0.5, 'collapsed')),
  candidate(62, 'SUCCEEDED', evaluation(0.9, 'ok')),
  candidate(72, 'SUCCEEDED', evaluation(0.52, 'degenerate')),
  candidate(82, 'FAILED'),
  candidate(92, 'CANCELLED'),
  candidate(102, 'SUCCEEDED', evaluation(0.85, 'ok')),
];
const FAILED = [
  { seed: 52, reason: 'collapsed' },
  { seed: 72, reason: 'degenerate' },
  { seed: 82, reason: 'failed' },
  { seed: 92, reason: 'cancelled' },
];

describe('delivery choice', () => {
  test('ENSEMBLE and ALL take every healthy seed in spec order; collapsed, degenerate, failed and cancelled runs never', () => {
    const ensemble = chooseDelivery('ensemble', RUNS);
    assert.deepEqual([ensemble.seeds, ensemble.excluded], [[42, 62, 102], FAILED]);
    assert.equal(
      ensemble.note,
      'majority vote of 3 healthy seeds (42, 62, 102); left out: 52 collapsed, 72 degenerate, 82 failed, 92 cancelled',
    );
    const all = chooseDelivery('all', RUNS);
    assert.deepEqual([all.mode, all.seeds, all.excluded], ['all', [42, 62, 102], FAILED]);
    assert.match(all.note, /^each of 3 healthy seeds \(42, 62, 102\); left out: /);
  });

  test('BEST_VALIDATION: highest validation balanced accuracy, then macro-F1, then the earlier seed', () => {
    const best = chooseDelivery('best_validation', RUNS);
    assert.deepEqual(best.seeds, [62]);
    assert.deepEqual(best.excluded, [...FAILED, { seed: 42, reason: 'not the best' }, { seed: 102, reason: 'not the best' }]);
    assert.equal(
      best.note,
      'seed 62: the best validation balanced accuracy (0.9000) of 3 healthy seeds; left out: 52 collapsed, 72 degenerate, 82 failed, 92 cancelled',
    );
    // A collapsed run with a higher score is still never chosen.
    assert.deepEqual(
      chooseDelivery('best_validation', [
        candidate(1, 'SUCCEEDED', evaluation(0.95, 'collapsed')),
        candidate(2, 'SUCCEEDED', evaluation(0.6, 'ok')),
      ]).seeds,
      [2],
    );
    const tied = [
      candidate(1, 'SUCCEEDED', evaluation(0.8, 'ok', [], 0.7)),
      candidate(2, 'SUCCEEDED', evaluation(0.8, 'ok', [], 0.75)),
      candidate(3, 'SUCCEEDED', evaluation(0.8, 'ok', [], 0.75)),
    ];
    assert.deepEqual(chooseDelivery('best_validation', tied).seeds, [2]);
  });

  test('nothing healthy: nothing delivered, and the note says why', () => {
    const none = chooseDelivery('ensemble', [candidate(112, 'SUCCEEDED', evaluation(0.5, 'collapsed')), candidate(122, 'FAILED')]);
    assert.deepEqual([none.seeds, none.note], [[], 'nothing delivered: no seed is healthy (112 collapsed, 122 failed)']);
    // While the job runs, unfinished seeds are neither delivered nor counted as failed.
    const running = chooseDelivery('ensemble', [candidate(1, 'RUNNING'), candidate(2, 'PENDING')]);
    assert.deepEqual([running.seeds, running.excluded, running.note], [[], [], 'nothing delivered: no seed has finished']);
  });

  test("candidates carry the validation metrics only: a run's test metrics cannot reach the choice", () => {
    const run: SeedRun = { ...pendingRun(7), state: 'SUCCEEDED', metrics: evaluation(0.7, 'ok'), testMetrics: evaluation(0.99, 'ok') };
    assert.deepEqual(candidatesOf([run]), [{ seed: 7, state: 'SUCCEEDED', validation: run.metrics }]);
  });
});

describe('delivered metrics', () => {
  // Labels 0 1 1 0; seed 1 predicts 0 1 0 0, seed 2 predicts 1 1 0 1, seed 3 predicts 0 0 1 1.
  // Per example the votes for 1 are 1, 2, 1, 2 of 3: the vote is 0 1 0 1 (3 models, no ties).
  const labels = Int32Array.from([0, 1, 1, 0]);
  const bySeed = new Map([
    [1, evaluation(0.75, 'ok', [0, 1, 0, 0])],
    [2, evaluation(0.25, 'ok', [1, 1, 0, 1])],
    [3, evaluation(0.25, 'ok', [0, 0, 1, 1])],
  ]);

  test('ENSEMBLE, ALL: the vote of the delivered seeds, scored by hand', () => {
    const vote = deliveredMetrics({ mode: 'ensemble', seeds: [1, 2, 3] }, bySeed, labels);
    // Vote 0 1 0 1 against 0 1 1 0: confusion [[1, 1], [1, 1]], accuracy 0.5.
    assert.deepEqual(Array.from(vote?.predictions ?? []), [0, 1, 0, 1]);
    assert.deepEqual([vote?.confusion, vote?.accuracy, vote?.balancedAccuracy], [[1, 1, 1, 1], 0.5, 0.5]);
    // Two seeds tie 1-1 on examples 0, 2 and 3: ties go to the lowest class id, 0.
    assert.deepEqual(Array.from(deliveredMetrics({ mode: 'all', seeds: [1, 2] }, bySeed, labels)?.predictions ?? []), [0, 1, 0, 0]);
    assert.equal(deliveredMetrics({ mode: 'ensemble', seeds: [1, 2] }, bySeed, undefined), undefined, 'a vote needs the labels');
  });

  test("BEST_VALIDATION: the one seed's own metrics; nothing delivered, no metrics", () => {
    assert.equal(deliveredMetrics({ mode: 'best_validation', seeds: [2] }, bySeed, undefined), bySeed.get(2));
    assert.equal(deliveredMetrics({ mode: 'ensemble', seeds: [] }, bySeed, labels), undefined);
    assert.equal(deliveredMetrics({ mode: 'ensemble', seeds: [1, 9] }, bySeed, labels), undefined, 'a seed without metrics');
  });

  test("deliveredSeeds: the summary's record first, else chosen now with the spec's mode (default ENSEMBLE)", () => {
    const runs: SeedRun[] = [
      { ...pendingRun(1), state: 'SUCCEEDED', metrics: evaluation(0.6, 'ok') },
      { ...pendingRun(2), state: 'SUCCEEDED', metrics: evaluation(0.9, 'ok') },
    ];
    assert.deepEqual(deliveredSeeds({ spec: {}, runs }).seeds, [1, 2]);
    assert.deepEqual(deliveredSeeds({ spec: { delivery: 'best_validation' }, runs }).seeds, [2]);
    const recorded = { mode: 'ensemble' as const, seeds: [1], excluded: [], note: 'recorded' };
    assert.equal(deliveredSeeds({ spec: {}, runs, summary: { delivery: recorded } }), recorded);
  });
});
