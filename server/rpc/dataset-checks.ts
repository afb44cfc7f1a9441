// StartFineTune's and Evaluate's checks that need the registry: a registered dataset must be
// the caller's (another tenant's id is NOT_FOUND, as an unknown one), its classes and the split
// named must exist, and the model family must take its inputs (token ids for text families, square images for
// MobileNetV2). Caught here, a mismatch is INVALID_ARGUMENT instead of a failed job later.
import type { DatasetRegistry, DatasetReport, DatasetSplit } from '../data/index.js';
import type { ModelSpec } from '../engine/tf-free.js';
import { ServiceError } from '../common/errors.js';
import type { DatasetSelection, JobSpec } from '../jobs/types.js';
import { FieldViolations } from './field-violations.js';

const TOKEN_FAMILIES: ReadonlySet<ModelSpec['family']> = new Set(['transformer', 'glove_bag', 'hf_encoder']);

/**
 * Checks the spec's registered datasets and returns the spec with the defaults that need the
 * registry: an unset test split becomes the training dataset's, when it has one.
 */
export async function resolveRegisteredDatasets(spec: JobSpec, tenant: string, registry: DatasetRegistry | undefined): Promise<JobSpec> {
  const v = new FieldViolations();
  const selections: Array<[DatasetSelection, string, DatasetSplit]> = [
    [spec.train, 'spec.train', 'train'],
    [spec.validation, 'spec.validation', 'validation'],
  ];
  if (spec.test !== undefined) selections.push([spec.test, 'spec.test', 'test']);
  let trainHasTest = false;
  for (const [selection, field, role] of selections) {
    const { source } = selection;
    if (source.kind !== 'registered') continue;
    // An unknown (or another tenant's) id throws NOT_FOUND.
    const { report, id } = await requireRegistry(registry).get(tenant, source.datasetId);
    selection.classes.forEach((classId, i) => {
      if (classId >= report.classNames.length)
        v.add(`${field}.classes[${i}]`, `must be < ${report.classNames.length}, the classes of ${id}`);
    });
    checkSplit(v, id, report, source.split ?? role, `${field}.split`);
    if (role === 'train') {
      checkModelFits(v, spec.run.model, report, id);
      trainHasTest = report.test !== undefined && (source.split ?? role) !== 'test';
    }
  }
  v.throwIfAny('fine-tune spec');
  const { train } = spec;
  if (spec.test !== undefined || !trainHasTest || train.source.kind !== 'registered') return spec;
  return {
    ...spec,
    test: { source: { kind: 'registered', datasetId: train.source.datasetId, split: 'test' }, classes: train.classes, maxExamples: 0 },
  };
}

/** Evaluate's dataset: a registered one must be the caller's and have the split it names. */
export async function checkEvaluateDataset(
  selection: DatasetSelection | undefined,
  tenant: string,
  registry: DatasetRegistry | undefined,
): Promise<void> {
  if (selection?.source.kind !== 'registered') return;
  const { report, id } = await requireRegistry(registry).get(tenant, selection.source.datasetId);
  const v = new FieldViolations();
  checkSplit(v, id, report, selection.source.split ?? 'validation', 'dataset.split');
  v.throwIfAny('EvaluateRequest');
}

function requireRegistry(registry: DatasetRegistry | undefined): DatasetRegistry {
  if (registry === undefined) throw new ServiceError('FAILED_PRECONDITION', 'this server has no dataset registry; use a built-in dataset');
  return registry;
}

function checkSplit(v: FieldViolations, id: string, report: DatasetReport, split: DatasetSplit, field: string): void {
  if (split !== 'test' || report.test !== undefined) return;
  v.add(field, `${id} has no test split (it has train, validation); register it with one, or name another split`);
}

function checkModelFits(v: FieldViolations, model: ModelSpec, report: DatasetReport, id: string): void {
  const field = `spec.model.${model.family}`;
  const wantsTokens = TOKEN_FAMILIES.has(model.family);
  if (wantsTokens && report.inputKind !== 'tokens') {
    v.add(field, `needs a tokenized text dataset; ${id} has feature vectors`);
  } else if (!wantsTokens && report.inputKind !== 'features') {
    v.add(field, `needs feature vectors; ${id} has token ids (text)`);
  } else if (model.family === 'mobilenet_v2' && !isSquareImage(report)) {
    v.add(field, `needs square images (side^2 grayscale or 3 side^2 RGB values); ${id} has ${report.featureDim} values per example`);
  }
}

function isSquareImage(report: DatasetReport): boolean {
  if (report.imageShape !== undefined) return report.imageShape.height === report.imageShape.width;
  const dim = report.featureDim ?? 0;
  const gray = Math.round(Math.sqrt(dim));
  const rgb = Math.round(Math.sqrt(dim / 3));
  return dim > 0 && (gray * gray === dim || 3 * rgb * rgb === dim);
}
