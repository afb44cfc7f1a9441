// What a worker is sent for a dataset selection: built-ins it loads itself; registered datasets
// are looked up here on the main thread (per tenant) and travel as examples.
import { ServiceError } from '../common/errors.js';
import { missingSplit, splitExamples, splitsOf, type DatasetRegistry, type DatasetSplit } from '../data/index.js';
import type { DatasetSelection, Job } from './types.js';
import type { DatasetInput } from './worker/protocol.js';

/**
 * Registered datasets are the job's tenant's: another tenant's id is not found. `role` is the
 * split a registered selection that names none means.
 */
export async function datasetInputFor(
  registry: DatasetRegistry | undefined,
  tenant: string,
  selection: DatasetSelection,
  role: DatasetSplit,
): Promise<DatasetInput> {
  const { source } = selection;
  if (source.kind === 'builtin') return { selection };
  if (registry === undefined) {
    throw new ServiceError('FAILED_PRECONDITION', 'this server has no dataset registry; use a built-in dataset');
  }
  const dataset = await registry.get(tenant, source.datasetId);
  const split = source.split ?? role;
  const examples = splitExamples(dataset, split);
  // rpc/ checks the split before a job or an Evaluate gets here; this guards the rest.
  if (examples === undefined) throw missingSplit(dataset.id, split, splitsOf(dataset), 'dataset.split');
  return {
    selection,
    preloaded: { examples, classNames: dataset.classNames },
    contentKey: `${dataset.contentHash}/${split}`,
    ...(dataset.vocabulary === undefined ? {} : { vocabulary: dataset.vocabulary.tokens }),
  };
}

/**
 * Evaluate's dataset: empty classes on the job's own dataset (the same built-in or registered id)
 * mean the job's training classes, as for the spec's validation; "keep all" would relabel differently.
 */
export function withJobClasses(selection: DatasetSelection, job: Job): DatasetSelection {
  if (selection.classes.length > 0 || job.spec.train.classes.length === 0) return selection;
  const own = (other: DatasetSelection): boolean => {
    const a = selection.source;
    const b = other.source;
    return a.kind === 'builtin' ? b.kind === 'builtin' && a.name === b.name : b.kind === 'registered' && a.datasetId === b.datasetId;
  };
  return own(job.spec.train) || own(job.spec.validation) ? { ...selection, classes: job.spec.train.classes } : selection;
}
