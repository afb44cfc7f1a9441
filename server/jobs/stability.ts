// The stability summary over a job's seeds and the ensemble vote: pure arithmetic on plain
// data, so it is tested against hand-computed numbers.
import { summarizeEvaluation, type Evaluation } from '../engine/tf-free.js';
import type { Stat, StabilitySummary, StabilityUncertainty } from './types.js';
import {
  BOOTSTRAP_RESAMPLES,
  BOOTSTRAP_SEED,
  bootstrapMeanAndStd,
  CONFIDENCE,
  excessKurtosis,
  failureRateUpperBound,
  seedsForMeanWidth,
  seedsForStdWidth,
} from './uncertainty.js';

/**
 * Full width of the 95% interval of mean balanced accuracy that "seeds needed" aims at when the
 * spec names none: 0.05, the mean to within ±2.5 points, finer than the gaps between methods
 * that matter on small data and reachable with tens of seeds at a typical seed std of 0.03–0.05.
 */
export const DEFAULT_CI_WIDTH = 0.05;

/** Mean, sample standard deviation (n - 1; 0 for a single value), min and max. */
export function describe(values: readonly number[]): Stat {
  const n = values.length;
  if (n === 0) return { mean: 0, std: 0, min: 0, max: 0 };
  const mean = values.reduce((sum, v) => sum + v, 0) / n;
  const squares = values.reduce((sum, v) => sum + (v - mean) ** 2, 0);
  return {
    mean,
    std: n > 1 ? Math.sqrt(squares / (n - 1)) : 0,
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

/**
 * Summary over the runs that produced validation metrics (failed and cancelled runs have none),
 * with its uncertainty; `ciWidth` is the interval width the seeds-needed figures aim at.
 */
export function summarizeRuns(runs: readonly Evaluation[], ensemble?: Evaluation, ciWidth = DEFAULT_CI_WIDTH): StabilitySummary {
  const balanced = runs.map((r) => r.balancedAccuracy);
  const failed = runs.filter((r) => r.verdict === 'collapsed' || r.verdict === 'degenerate').length;
  return {
    runs: runs.length,
    accuracy: describe(runs.map((r) => r.accuracy)),
    balancedAccuracy: describe(runs.map((r) => r.balancedAccuracy)),
    macroF1: describe(runs.map((r) => r.macroF1)),
    collapsed: runs.filter((r) => r.verdict === 'collapsed').length,
    degenerate: runs.filter((r) => r.verdict === 'degenerate').length,
    ...(ensemble === undefined ? {} : { ensemble }),
    uncertainty: stabilityUncertainty(balanced, failed, ciWidth),
  };
}

/**
 * The failure rate's exact upper bound, bootstrap intervals of the mean and spread of balanced
 * accuracy, and the seeds each interval needs to be `ciWidth` wide (from the observed std).
 */
export function stabilityUncertainty(balancedAccuracies: readonly number[], failed: number, ciWidth: number): StabilityUncertainty {
  const runs = balancedAccuracies.length;
  const intervals = bootstrapMeanAndStd(balancedAccuracies);
  const { std } = describe(balancedAccuracies);
  return {
    confidence: CONFIDENCE,
    failed,
    failureRateUpper: failureRateUpperBound(failed, runs),
    ...(intervals === undefined ? {} : { balancedAccuracyMean: intervals.mean, balancedAccuracyStd: intervals.std }),
    bootstrapResamples: BOOTSTRAP_RESAMPLES,
    bootstrapSeed: BOOTSTRAP_SEED,
    requestedWidth: ciWidth,
    ...(runs < 2
      ? {}
      : {
          seedsForMeanWidth: seedsForMeanWidth(std, ciWidth),
          seedsForStdWidth: seedsForStdWidth(std, excessKurtosis(balancedAccuracies), ciWidth),
        }),
  };
}

/** How many of the models voted for each class, per example: counts[i * numClasses + c]. */
export function voteCounts(predictions: readonly Int32Array[], numClasses: number): Int32Array {
  const examples = predictions[0]?.length ?? 0;
  const counts = new Int32Array(examples * numClasses);
  for (const modelPredictions of predictions) {
    if (modelPredictions.length !== examples) throw new Error('every model must predict every example');
    modelPredictions.forEach((label, i) => {
      counts[i * numClasses + label] = (counts[i * numClasses + label] ?? 0) + 1;
    });
  }
  return counts;
}

/**
 * Plurality vote of the seeds' predicted classes. Ties go to the lowest class id: a fixed,
 * seed-order-independent rule, so the same models always give the same vote.
 */
export function majorityVote(predictions: readonly Int32Array[], numClasses: number): Int32Array {
  const counts = voteCounts(predictions, numClasses);
  const examples = counts.length / numClasses;
  const votes = new Int32Array(examples);
  for (let i = 0; i < examples; i += 1) {
    let best = 0;
    for (let c = 1; c < numClasses; c += 1) {
      // Strictly greater: an equal count keeps the lower class id.
      if ((counts[i * numClasses + c] ?? 0) > (counts[i * numClasses + best] ?? 0)) best = c;
    }
    votes[i] = best;
  }
  return votes;
}

/** Per example, the share of models that voted for each class (Predict's "probabilities" for a vote). */
export function voteShares(predictions: readonly Int32Array[], numClasses: number): number[][] {
  const counts = voteCounts(predictions, numClasses);
  const models = predictions.length;
  const rows: number[][] = [];
  for (let i = 0; i < counts.length / numClasses; i += 1) {
    rows.push(Array.from(counts.subarray(i * numClasses, (i + 1) * numClasses), (n) => n / models));
  }
  return rows;
}

/**
 * Classification metrics of hard predictions with the engine's own rule (the ensemble vote has
 * no probabilities, so loss and representation cosine are reported as 0).
 */
export function evaluatePredictions(labels: Int32Array, predictions: Int32Array, numClasses: number): Evaluation {
  if (labels.length !== predictions.length) throw new Error('labels and predictions differ in length');
  return summarizeEvaluation(labels, predictions, numClasses, 0, 0);
}
