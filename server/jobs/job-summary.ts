// A finished job's stability summary: statistics over its seeds' validations, their ensemble
// vote when the job asks for it, and the model the job delivers; then, once the delivery is
// chosen, each trained seed and the delivered model on the job's test split (reported only).
import type { DatasetSplit } from '../data/index.js';
import type { Evaluation } from '../engine/tf-free.js';
import { candidatesOf, chooseDelivery, DEFAULT_DELIVERY, deliveredMetrics } from './delivery.js';
import type { ModelFiles } from './persistence/model-files.js';
import { evaluatePredictions, majorityVote, summarizeRuns } from './stability.js';
import type { WorkerPool } from './worker-pool.js';
import type { DatasetInput } from './worker/protocol.js';
import type { DatasetSelection, Delivery, Job, JobLogger, StabilitySummary } from './types.js';

export interface SummaryContext {
  readonly pool: WorkerPool;
  readonly models: ModelFiles;
  readonly logger: JobLogger;
  readonly datasetInput: (selection: DatasetSelection, split: DatasetSplit) => Promise<DatasetInput>;
}

/**
 * @param labels the validation labels, when a run of this process reported them; otherwise
 * (every run ended before a restart) they come from evaluating one saved model.
 */
export async function summarizeJob(
  job: Job,
  finished: ReadonlyMap<number, Evaluation>,
  labels: Int32Array | undefined,
  context: SummaryContext,
): Promise<StabilitySummary> {
  const seeds = job.spec.seeds.filter((seed) => finished.has(seed));
  const evaluations = seeds.flatMap((seed) => finished.get(seed) ?? []);
  const first = evaluations[0];
  const firstSeed = seeds[0];
  const { ciWidth } = job.spec;
  const choice = chooseDelivery(job.spec.delivery ?? DEFAULT_DELIVERY, candidatesOf(job.runs));
  const votes = job.spec.ensemble || (choice.mode !== 'best_validation' && choice.seeds.length > 0);
  const voteLabels = votes && firstSeed !== undefined ? (labels ?? (await labelsFromModel(job, firstSeed, context))) : undefined;
  const validation = deliveredMetrics(choice, finished, voteLabels);
  const delivery: Delivery = { ...choice, ...(validation === undefined ? {} : { validation }) };
  const ensemble =
    job.spec.ensemble && first !== undefined && voteLabels !== undefined
      ? evaluatePredictions(
          voteLabels,
          majorityVote(
            evaluations.map((e) => e.predictions),
            first.numClasses,
          ),
          first.numClasses,
        )
      : undefined;
  return { ...summarizeRuns(evaluations, ensemble, ciWidth), delivery };
}

async function labelsFromModel(job: Job, seed: number, context: SummaryContext): Promise<Int32Array | undefined> {
  try {
    const { weights, card } = await context.models.load(job.id, seed);
    const dataset = await context.datasetInput(job.spec.validation, 'validation');
    return (await context.pool.run({ kind: 'evaluate', card, models: [{ seed, weights }], dataset }).result).labels;
  } catch (error) {
    context.logger.warn('no vote on validation: the validation labels are unavailable', {
      jobId: job.id,
      error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
}

export interface TestSplitReport {
  /** Each trained seed's final weights on the test split. */
  readonly bySeed: ReadonlyMap<number, Evaluation>;
  /** The summary with the delivered model's test metrics added. */
  readonly summary: StabilitySummary;
}

/**
 * Every seed that trained, and the delivered model, on the job's test split. Called with the
 * summary whose delivery is already chosen: nothing here feeds back into a choice. Undefined
 * when the job has no test split or no trained seed.
 */
export async function reportTestSplit(job: Job, summary: StabilitySummary, context: SummaryContext): Promise<TestSplitReport | undefined> {
  const test = job.spec.test;
  const trained = job.runs.filter((run) => run.state === 'SUCCEEDED');
  if (test === undefined || trained.length === 0) return undefined;
  const loaded = await Promise.all(trained.map(async (run) => ({ seed: run.seed, ...(await context.models.load(job.id, run.seed)) })));
  const card = loaded[0]?.card;
  if (card === undefined) return undefined;
  const dataset = await context.datasetInput(test, 'test');
  const models = loaded.map(({ seed, weights }) => ({ seed, weights }));
  const result = await context.pool.run({ kind: 'evaluate', card, models, dataset }).result;
  const bySeed = new Map(result.evaluations.map((e) => [e.seed, e.metrics]));
  const { delivery } = summary;
  const delivered = delivery === undefined ? undefined : deliveredMetrics(delivery, bySeed, result.labels);
  return {
    bySeed,
    summary: delivery === undefined || delivered === undefined ? summary : { ...summary, delivery: { ...delivery, test: delivered } },
  };
}
