// Which accuracy the tables lead with: plain accuracy on a balanced evaluation set, balanced
// accuracy on an imbalanced one, where a model that predicts only the majority scores its share
// (96% on a 96:4 set) in plain accuracy and chance in balanced accuracy.
import type { EvalMetrics } from '../index.js';

export type HeadlineMetric = 'accuracy' | 'balancedAccuracy';

/**
 * An evaluation set is imbalanced when its largest class has at least 1.5 times the examples of
 * its smallest. Sets meant to be balanced stay under it (MNIST's digits differ by up to 1.25x),
 * and at 1.5x plain accuracy already overstates a majority-only model by 10 points.
 */
export const IMBALANCE_RATIO = 1.5;

/** True class sizes (the confusion matrix's row sums) show an imbalance; false when unknown. */
export function isImbalanced(metrics: EvalMetrics): boolean {
  const k = metrics.numClasses;
  if (k < 2 || metrics.confusion.length !== k * k) return false;
  const rowSum = (t: number): number => metrics.confusion.slice(t * k, (t + 1) * k).reduce((sum, n) => sum + n, 0);
  const sizes = Array.from({ length: k }, (_, t) => rowSum(t)).filter((n) => n > 0);
  return sizes.length >= 2 && Math.max(...sizes) >= IMBALANCE_RATIO * Math.min(...sizes);
}

/** Balanced accuracy when any of these evaluations was on an imbalanced set, else accuracy. */
export function headlineMetric(evaluations: readonly (EvalMetrics | undefined)[]): HeadlineMetric {
  return evaluations.some((metrics) => metrics !== undefined && isImbalanced(metrics)) ? 'balancedAccuracy' : 'accuracy';
}
