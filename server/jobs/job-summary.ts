// A finished job's stability summary: statistics over its seeds' validations and, when the
// job asks for it, their ensemble vote scored against the validation labels.
import type { Evaluation } from '../engine/tf-free.js';
import type { ModelFiles } from './persistence/model-files.js';
import { evaluatePredictions, majorityVote, summarizeRuns } from './stability.js';
import type { WorkerPool } from './worker-pool.js';
import type { DatasetInput } from './worker/protocol.js';
import type { DatasetSelection, Job, JobLogger, StabilitySummary } from './types.js';

export interface SummaryContext {
  readonly pool: WorkerPool;
  readonly models: ModelFiles;
  readonly logger: JobLogger;
  readonly datasetInput: (selection: DatasetSelection, split: 'train' | 'validation') => Promise<DatasetInput>;
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
  if (!job.spec.ensemble || first === undefined || firstSeed === undefined) return summarizeRuns(evaluations, undefined, ciWidth);
  const voteLabels = labels ?? (await labelsFromModel(job, firstSeed, context));
  if (voteLabels === undefined) return summarizeRuns(evaluations, undefined, ciWidth);
  const vote = majorityVote(evaluations.map((e) => e.predictions), first.numClasses);
  return summarizeRuns(evaluations, evaluatePredictions(voteLabels, vote, first.numClasses), ciWidth);
}

async function labelsFromModel(job: Job, seed: number, context: SummaryContext): Promise<Int32Array | undefined> {
  try {
    const { weights, card } = await context.models.load(job.id, seed);
    const dataset = await context.datasetInput(job.spec.validation, 'validation');
    return (await context.pool.run({ kind: 'evaluate', card, models: [{ seed, weights }], dataset }).result).labels;
  } catch (error) {
    context.logger.warn('no ensemble vote: the validation labels are unavailable', {
      jobId: job.id,
      error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
}
