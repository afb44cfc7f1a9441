// Which model a job delivers. Pure: chosen from the runs' states and final validation metrics
// alone. A seed whose run did not succeed, or whose validation verdict (the engine's
// classificationVerdict) is collapsed or degenerate, never enters the delivered model. The
// choice takes no test metrics: its input type (DeliveryCandidate) has none, and the job
// evaluates its test split only after choosing (job-execution.ts).
import type { Evaluation } from '../engine/tf-free.js';
import { evaluatePredictions, majorityVote } from './stability.js';
import type { Delivery, DeliveryMode, ExclusionReason, RunState, SeedRun } from './types.js';

/**
 * The vote of the healthy seeds: it averages out the seed-to-seed spread this service exists to
 * fight, and it is what Predict without a seed answered before delivery existed (then over
 * every seed). Picking one seed on a small validation split mostly picks its noise.
 */
export const DEFAULT_DELIVERY: DeliveryMode = 'ensemble';

/** What the choice may look at: a run's state and its final validation metrics, nothing else. */
export interface DeliveryCandidate {
  readonly seed: number;
  readonly state: RunState;
  readonly validation?: Evaluation;
}

export type DeliveryChoice = Pick<Delivery, 'mode' | 'seeds' | 'excluded' | 'note'>;

export function candidatesOf(runs: readonly SeedRun[]): DeliveryCandidate[] {
  return runs.map((run) => ({ seed: run.seed, state: run.state, ...(run.metrics === undefined ? {} : { validation: run.metrics }) }));
}

/** Why a run cannot be delivered; undefined for a healthy one. */
export function exclusionOf(candidate: DeliveryCandidate): ExclusionReason | 'unfinished' | undefined {
  switch (candidate.state) {
    case 'SUCCEEDED': {
      const verdict = candidate.validation?.verdict;
      if (verdict === undefined) return 'failed';
      return verdict === 'ok' ? undefined : verdict;
    }
    case 'FAILED':
      return 'failed';
    case 'CANCELLED':
      return 'cancelled';
    default:
      return 'unfinished';
  }
}

/**
 * The delivered seeds, in the order of `candidates` (the spec's seed order). BEST_VALIDATION
 * takes the highest validation balanced accuracy, then macro-F1, then the earliest seed.
 */
export function chooseDelivery(mode: DeliveryMode, candidates: readonly DeliveryCandidate[]): DeliveryChoice {
  const healthy = candidates.filter((candidate) => exclusionOf(candidate) === undefined);
  const failed = candidates.flatMap((candidate) => {
    const reason = exclusionOf(candidate);
    // A run still training is neither delivered nor failed: the choice is provisional until the job ends.
    return reason === undefined || reason === 'unfinished' ? [] : [{ seed: candidate.seed, reason }];
  });
  const leftOut = failed.length === 0 ? '' : `; left out: ${failed.map(({ seed, reason }) => `${seed} ${reason}`).join(', ')}`;
  if (healthy.length === 0) {
    const why =
      failed.length === 0
        ? 'no seed has finished'
        : `no seed is healthy (${failed.map(({ seed, reason }) => `${seed} ${reason}`).join(', ')})`;
    return { mode, seeds: [], excluded: failed, note: `nothing delivered: ${why}` };
  }
  if (mode === 'best_validation') {
    const best = healthy.reduce((winner, candidate) => (better(candidate, winner) ? candidate : winner));
    const others = healthy.filter((candidate) => candidate !== best).map(({ seed }) => ({ seed, reason: 'not the best' as const }));
    const score = best.validation?.balancedAccuracy ?? 0;
    return {
      mode,
      seeds: [best.seed],
      excluded: [...failed, ...others],
      note: `seed ${best.seed}: the best validation balanced accuracy (${score.toFixed(4)}) of ${healthy.length} healthy ${plural(healthy.length, 'seed')}${leftOut}`,
    };
  }
  const seeds = healthy.map(({ seed }) => seed);
  const what = mode === 'ensemble' ? 'majority vote of' : 'each of';
  return {
    mode,
    seeds,
    excluded: failed,
    note: `${what} ${seeds.length} healthy ${plural(seeds.length, 'seed')} (${seeds.join(', ')})${leftOut}`,
  };
}

function better(candidate: DeliveryCandidate, winner: DeliveryCandidate): boolean {
  const a = candidate.validation;
  const b = winner.validation;
  if (a === undefined || b === undefined) return false;
  if (a.balancedAccuracy !== b.balancedAccuracy) return a.balancedAccuracy > b.balancedAccuracy;
  // Equal on both: the earlier seed (the one already held) stays.
  return a.macroF1 > b.macroF1;
}

function plural(count: number, word: string): string {
  return count === 1 ? word : `${word}s`;
}

/**
 * The delivered model's metrics on one dataset, from each delivered seed's metrics there:
 * BEST_VALIDATION's one seed as it is; otherwise the seeds' majority vote scored against
 * `labels` (a vote has no probabilities: its loss and representation cosine are 0).
 */
export function deliveredMetrics(
  choice: Pick<Delivery, 'mode' | 'seeds'>,
  bySeed: ReadonlyMap<number, Evaluation>,
  labels: Int32Array | undefined,
): Evaluation | undefined {
  const evaluations = choice.seeds.flatMap((seed) => bySeed.get(seed) ?? []);
  const first = evaluations[0];
  if (first === undefined || evaluations.length !== choice.seeds.length) return undefined;
  if (choice.mode === 'best_validation') return first;
  if (labels === undefined) return undefined;
  return evaluatePredictions(
    labels,
    majorityVote(
      evaluations.map((e) => e.predictions),
      first.numClasses,
    ),
    first.numClasses,
  );
}

/** The job's delivered seeds: as its summary recorded them, or (a job still running, or ended before delivery existed) as chosen now. */
export function deliveredSeeds(job: {
  readonly spec: { readonly delivery?: DeliveryMode };
  readonly runs: readonly SeedRun[];
  readonly summary?: { readonly delivery?: Delivery };
}): Pick<Delivery, 'mode' | 'seeds' | 'note'> {
  return job.summary?.delivery ?? chooseDelivery(job.spec.delivery ?? DEFAULT_DELIVERY, candidatesOf(job.runs));
}
