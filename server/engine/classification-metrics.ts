// Classification metrics and the run's verdict (collapsed, degenerate, ok) from host-side
// predictions. Free of TF.js so the jobs layer (ensemble votes) uses the very same rule without
// loading a backend.
import type { Evaluation, Verdict } from './types.js';

/**
 * Collapse, first condition: the most-predicted class c closes at least this fraction of the gap
 * between its true share and 100%, (q_c - pi_c) / (1 - pi_c) >= 0.5, where q_c is its share of
 * the predictions and pi_c its share of the evaluation set. Measured against the class's own share
 * so it means the same on 50:50 (q_c >= 75%) as on 96:4 (q_c >= 98%): a fixed share such as 95%
 * is what a good model predicts for the majority of a 96:4 set. It tells a collapse (the other
 * classes' examples are absorbed by one class) from other near-zero-recall patterns, such as
 * swapped labels, which are judged by balanced accuracy instead.
 */
export const COLLAPSE_MIN_EXCESS_SHARE = 0.5;

/**
 * Collapse, second condition: the mean recall of the classes other than c (those present in the
 * evaluation set) is at most 0.1. Not 0: a saturated run still lets a few outliers through
 * (early runs predicting one class had 97-99.9% on it; docs/DSGD.md §Telemetry). On a balanced binary set every run
 * the former fixed rule ("one class takes >= 95% of the predictions") called collapsed has the
 * other class's recall <= 0.1, so it stays collapsed; a model that learned the minority of a 96:4
 * set recalls far more of it (the runs at 60-77% balanced accuracy did).
 */
export const COLLAPSE_MAX_OTHER_RECALL = 0.1;

/**
 * Degenerate: chance-adjusted balanced accuracy (BA - 1/k) / (1 - 1/k), over the k classes present,
 * at most 0.1 (0 = chance, 1 = perfect; sklearn's balanced_accuracy_score(adjusted=True)). On a
 * binary set that is BA <= 0.55, about 2.5 standard errors of chance on a 400-example balanced
 * set, so an honest near-chance model is not flagged by luck; scaling with the room above chance
 * keeps "near chance" equally strict for 10 classes (BA <= 0.19).
 */
export const DEGENERATE_MAX_ADJUSTED_BALANCED_ACCURACY = 0.1;

/**
 * The run's verdict from its confusion matrix (row = true class, column = predicted class,
 * row-major numClasses x numClasses), judged against the evaluation set's own class distribution:
 *
 * - 'collapsed' when the most-predicted class c takes a share of the predictions far beyond its
 *   true share, (q_c - pi_c) / (1 - pi_c) >= COLLAPSE_MIN_EXCESS_SHARE, AND the other present
 *   classes' mean recall is <= COLLAPSE_MAX_OTHER_RECALL: the model predicts one class whatever
 *   the input.
 * - else 'degenerate' when chance-adjusted balanced accuracy over the k present classes,
 *   (BA - 1/k) / (1 - 1/k), is <= DEGENERATE_MAX_ADJUSTED_BALANCED_ACCURACY: varied predictions
 *   that separate nothing.
 * - else 'ok'.
 *
 * A set with fewer than two classes present can show neither (there is no other class to ignore,
 * and chance is perfect): 'ok'. Every verdict in the service (epoch-end and final validation,
 * Evaluate, ensemble votes, the job summary, the collapse counter and auto-remedy) comes from here.
 */
export function classificationVerdict(confusion: readonly number[], numClasses: number): Verdict {
  if (confusion.length !== numClasses * numClasses) throw new Error(`confusion has ${confusion.length} cells for ${numClasses} classes`);
  const trueCounts = new Array<number>(numClasses).fill(0);
  const predictionCounts = new Array<number>(numClasses).fill(0);
  for (let t = 0; t < numClasses; t++) {
    for (let p = 0; p < numClasses; p++) {
      trueCounts[t] += confusion[t * numClasses + p];
      predictionCounts[p] += confusion[t * numClasses + p];
    }
  }
  const examples = trueCounts.reduce((sum, count) => sum + count, 0);
  const present = trueCounts.flatMap((count, k) => (count > 0 ? [k] : []));
  if (present.length < 2) return 'ok';
  const recall = (k: number): number => confusion[k * numClasses + k] / trueCounts[k];

  const top = predictionCounts.indexOf(Math.max(...predictionCounts));
  const predictedShare = predictionCounts[top] / examples;
  const trueShare = trueCounts[top] / examples;
  const others = present.filter((k) => k !== top);
  const otherRecall = others.reduce((sum, k) => sum + recall(k), 0) / others.length;
  // trueShare < 1 here: at least two classes are present.
  if ((predictedShare - trueShare) / (1 - trueShare) >= COLLAPSE_MIN_EXCESS_SHARE && otherRecall <= COLLAPSE_MAX_OTHER_RECALL)
    return 'collapsed';

  const chance = 1 / present.length;
  const balancedAccuracy = present.reduce((sum, k) => sum + recall(k), 0) / present.length;
  return (balancedAccuracy - chance) / (1 - chance) <= DEGENERATE_MAX_ADJUSTED_BALANCED_ACCURACY ? 'degenerate' : 'ok';
}

/** Accuracy, per-class metrics and verdict from host-side predictions. */
export function summarizeEvaluation(
  labels: Int32Array,
  predictions: Int32Array,
  numClasses: number,
  lossSum: number,
  representationCosine: number,
): Evaluation {
  const examples = labels.length;
  if (examples === 0) throw new Error('cannot evaluate on an empty example set');
  const confusion = new Array<number>(numClasses * numClasses).fill(0);
  for (let i = 0; i < examples; i++) confusion[labels[i] * numClasses + predictions[i]] += 1;
  const trueCounts = new Array<number>(numClasses).fill(0);
  const predictionCounts = new Array<number>(numClasses).fill(0);
  let hits = 0;
  for (let t = 0; t < numClasses; t++) {
    for (let p = 0; p < numClasses; p++) {
      trueCounts[t] += confusion[t * numClasses + p];
      predictionCounts[p] += confusion[t * numClasses + p];
    }
    hits += confusion[t * numClasses + t];
  }
  const perClassRecall = trueCounts.map((count, k) => (count > 0 ? confusion[k * numClasses + k] / count : 0));
  const presentClasses = trueCounts.filter((count) => count > 0).length;
  const balancedAccuracy = perClassRecall.reduce((sum, recall, k) => sum + (trueCounts[k] > 0 ? recall : 0), 0) / presentClasses;
  // Macro-F1 over classes that occur as truth or prediction (sklearn's default label set).
  let f1Sum = 0;
  let f1Classes = 0;
  for (let k = 0; k < numClasses; k++) {
    if (trueCounts[k] === 0 && predictionCounts[k] === 0) continue;
    const truePositives = confusion[k * numClasses + k];
    const precision = predictionCounts[k] > 0 ? truePositives / predictionCounts[k] : 0;
    const recall = perClassRecall[k];
    f1Sum += precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    f1Classes += 1;
  }
  return {
    examples,
    loss: lossSum / examples,
    accuracy: hits / examples,
    balancedAccuracy,
    macroF1: f1Sum / f1Classes,
    perClassRecall,
    confusion,
    numClasses,
    predictionCounts,
    representationCosine,
    verdict: classificationVerdict(confusion, numClasses),
    predictions,
  };
}
