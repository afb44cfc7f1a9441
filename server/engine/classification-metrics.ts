// Classification metrics and the collapse verdict from host-side predictions. Free of TF.js so
// the jobs layer (ensemble votes) uses the very same rule without loading a backend.
import type { Evaluation, Verdict } from './types.js';

/**
 * A run is 'collapsed' when one class takes at least this share of the predictions. Not 1.0:
 * a saturated run still lets a handful of outliers through (early runs predicting one class had
 * 97-99.9% on it; docs/DSGD.md §Telemetry); 0.95 also stays above the majority share of the
 * evaluation sets we use (balanced, or long-tailed validation whose head class holds well under 95%).
 */
export const COLLAPSED_SHARE = 0.95;

/**
 * Balanced accuracy within this of chance (1 / classes present) with varied predictions is
 * 'degenerate': the model separates nothing. 0.05 is about 2.5 standard errors of chance on a
 * 400-example binary set, so an honest near-chance model is not flagged by luck.
 */
export const DEGENERATE_MARGIN = 0.05;

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
  const topShare = Math.max(...predictionCounts) / examples;
  const verdict: Verdict =
    topShare >= COLLAPSED_SHARE ? 'collapsed'
    : balancedAccuracy <= 1 / presentClasses + DEGENERATE_MARGIN ? 'degenerate'
    : 'ok';
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
    verdict,
    predictions,
  };
}
