// What `get`, `watch` and `eval` show of the model a job delivers, its test split, and the
// training examples per class the seeds train on.
import { deliveryToJSON, verdictToJSON, type DeliveredModel, type EvalMetrics, type Job, type TrainingSet } from '../index.js';
import { enumLabel, formatNumber } from './format.js';

/** `acc 0.9100 bal 0.9050 f1 0.9040 verdict ok`. */
export function metricsLine(metrics: EvalMetrics): string {
  return (
    `acc ${formatNumber(metrics.accuracy)} bal ${formatNumber(metrics.balancedAccuracy)} ` +
    `f1 ${formatNumber(metrics.macroF1)} verdict ${enumLabel(verdictToJSON(metrics.verdict), 'VERDICT_')}`
  );
}

/**
 * `delivered  ensemble: seeds 62, 102` and its note, then the delivered model on validation and
 * on test; `delivered  NOTHING` says plainly that no seed is healthy. Empty without a delivery.
 */
export function deliveryLines(delivery: DeliveredModel | undefined): string[] {
  if (delivery === undefined) return [];
  const mode = enumLabel(deliveryToJSON(delivery.mode), 'DELIVERY_');
  const what =
    delivery.seeds.length === 0 ? 'NOTHING' : `${mode}: ${delivery.seeds.length === 1 ? 'seed' : 'seeds'} ${delivery.seeds.join(', ')}`;
  return [
    `delivered  ${what}`,
    `  ${delivery.note}`,
    ...(delivery.validation === undefined ? [] : [`  validation  ${metricsLine(delivery.validation)}`]),
    ...(delivery.test === undefined ? [] : [`  test        ${metricsLine(delivery.test)}  (reported only)`]),
  ];
}

/** `0: 400, 1: 40 (440 examples)`; undefined before a run has loaded its data. */
export function trainingSetLabel(trainingSet: TrainingSet | undefined): string | undefined {
  if (trainingSet === undefined || trainingSet.classCounts.length === 0) return undefined;
  const total = trainingSet.classCounts.reduce((sum, n) => sum + n, 0);
  return `${trainingSet.classCounts.map((count, id) => `${id}: ${count}`).join(', ')} (${total} examples)`;
}

/** The job's per-seed test metrics, when any run has them: `test` rows under the seed table. */
export function hasTestMetrics(job: Pick<Job, 'runs'>): boolean {
  return job.runs.some((run) => run.testMetrics !== undefined);
}
