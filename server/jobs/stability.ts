// The stability summary over a job's seeds and the ensemble vote: pure arithmetic on plain
// data, so it is tested against hand-computed numbers.
import type { Evaluation, Verdict } from '../engine/types.js';
import type { Stat, StabilitySummary } from './types.js';

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

/** Summary over the runs that produced validation metrics (failed and cancelled runs have none). */
export function summarizeRuns(runs: readonly Evaluation[], ensemble?: Evaluation): StabilitySummary {
  return {
    runs: runs.length,
    accuracy: describe(runs.map((r) => r.accuracy)),
    balancedAccuracy: describe(runs.map((r) => r.balancedAccuracy)),
    macroF1: describe(runs.map((r) => r.macroF1)),
    collapsed: runs.filter((r) => r.verdict === 'collapsed').length,
    degenerate: runs.filter((r) => r.verdict === 'degenerate').length,
    ...(ensemble === undefined ? {} : { ensemble }),
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
 * Classification metrics of hard predictions, computed as the engine computes them (the
 * ensemble vote has no probabilities, so loss and representation cosine are reported as 0).
 * Balanced accuracy averages recall over the classes present in `labels`; macro-F1 averages
 * over classes present in labels or predictions (sklearn's default label set).
 */
export function evaluatePredictions(labels: Int32Array, predictions: Int32Array, numClasses: number): Evaluation {
  if (labels.length !== predictions.length) throw new Error('labels and predictions differ in length');
  const confusion = new Array<number>(numClasses * numClasses).fill(0);
  labels.forEach((label, i) => {
    const cell = label * numClasses + (predictions[i] ?? 0);
    confusion[cell] = (confusion[cell] ?? 0) + 1;
  });
  const support = range(numClasses).map((c) => sum(range(numClasses).map((p) => confusion[c * numClasses + p] ?? 0)));
  const predictionCounts = range(numClasses).map((p) =>
    sum(range(numClasses).map((c) => confusion[c * numClasses + p] ?? 0)),
  );
  const truePositives = range(numClasses).map((c) => confusion[c * numClasses + c] ?? 0);
  const perClassRecall = range(numClasses).map((c) => ((support[c] ?? 0) > 0 ? (truePositives[c] ?? 0) / (support[c] ?? 1) : 0));
  const present = range(numClasses).filter((c) => (support[c] ?? 0) > 0);
  const scored = range(numClasses).filter((c) => (support[c] ?? 0) > 0 || (predictionCounts[c] ?? 0) > 0);
  const f1 = (c: number): number => {
    const denominator = (support[c] ?? 0) + (predictionCounts[c] ?? 0);
    return denominator === 0 ? 0 : (2 * (truePositives[c] ?? 0)) / denominator;
  };
  const examples = labels.length;
  const balancedAccuracy = mean(present.map((c) => perClassRecall[c] ?? 0));
  return {
    examples,
    loss: 0,
    accuracy: examples === 0 ? 0 : sum(truePositives) / examples,
    balancedAccuracy,
    macroF1: mean(scored.map(f1)),
    perClassRecall,
    confusion,
    numClasses,
    predictionCounts,
    representationCosine: 0,
    verdict: predictionVerdict(predictionCounts, balancedAccuracy, present.length),
    predictions,
  };
}

/** The engine's thresholds (engine/evaluation.ts), repeated here because importing that module loads TF.js. */
const COLLAPSED_SHARE = 0.95;
const DEGENERATE_MARGIN = 0.05;

/**
 * The engine's verdict rule: 'collapsed' when one class takes >= 95% of the predictions,
 * 'degenerate' when balanced accuracy is within 0.05 of chance, else 'ok'.
 */
export function predictionVerdict(predictionCounts: readonly number[], balancedAccuracy: number, classesPresent: number): Verdict {
  const examples = sum(predictionCounts);
  if (examples === 0 || classesPresent === 0) return 'ok';
  if (Math.max(...predictionCounts) / examples >= COLLAPSED_SHARE) return 'collapsed';
  if (balancedAccuracy <= 1 / classesPresent + DEGENERATE_MARGIN) return 'degenerate';
  return 'ok';
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function sum(values: readonly number[]): number {
  return values.reduce((total, v) => total + v, 0);
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : sum(values) / values.length;
}
