// StartFineTune's checks that need the registry: a registered dataset must be the caller's
// (another tenant's id is NOT_FOUND, as an unknown one), its classes must exist, and the
// model family must take its inputs (token ids for text families, square images for
// MobileNetV2). Caught here, a mismatch is INVALID_ARGUMENT instead of a failed job later.
import type { DatasetRegistry, DatasetReport } from '../data/index.js';
import type { ModelSpec } from '../engine/tf-free.js';
import { ServiceError } from '../common/errors.js';
import type { DatasetSelection, JobSpec } from '../jobs/types.js';
import { FieldViolations } from './field-violations.js';

const TOKEN_FAMILIES: ReadonlySet<ModelSpec['family']> = new Set(['transformer', 'glove_bag', 'hf_encoder']);

export async function checkRegisteredDatasets(spec: JobSpec, tenant: string, registry: DatasetRegistry | undefined): Promise<void> {
  const v = new FieldViolations();
  const selections: Array<[DatasetSelection, string]> = [[spec.train, 'spec.train'], [spec.validation, 'spec.validation']];
  for (const [selection, field] of selections) {
    const { source } = selection;
    if (source.kind !== 'registered') continue;
    if (registry === undefined) throw new ServiceError('FAILED_PRECONDITION', 'this server has no dataset registry; use a built-in dataset');
    // An unknown (or another tenant's) id throws NOT_FOUND.
    const { report, id } = await registry.get(tenant, source.datasetId);
    selection.classes.forEach((classId, i) => {
      if (classId >= report.classNames.length) v.add(`${field}.classes[${i}]`, `must be < ${report.classNames.length}, the classes of ${id}`);
    });
    if (field === 'spec.train') checkModelFits(v, spec.run.model, report, id);
  }
  v.throwIfAny('fine-tune spec');
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
