// The dataset references of a spec or an Evaluate request (wire DatasetRef) → the jobs
// layer's DatasetSelection: sources, splits and class selections, every bad field named by its
// proto path. Whether a registered dataset exists and has the split needs the registry
// (dataset-checks.ts).
import {
  BuiltinName,
  BuiltinSplit,
  DatasetSplit as WireDatasetSplit,
  type DatasetRef,
  type FineTuneSpec,
} from '../../client/gen/steadytune/v1/spec.js';
import type { DatasetSplit } from '../data/index.js';
import type { DatasetSelection } from '../jobs/types.js';
import type { FieldViolations } from './field-violations.js';
import { BUILTIN_NAMES, DATASET_SPLITS } from './spec-enums.js';

/** Both built-ins are 28x28 digits / garments in ten classes. */
const BUILTIN_CLASS_COUNT = 10;
const DATASET_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

// Only returned alongside violations (toJobSpec throws before anyone sees it).
export const PLACEHOLDER_SELECTION: DatasetSelection = {
  source: { kind: 'builtin', name: 'mnist', split: 'train' },
  classes: [],
  maxExamples: 0,
};

/**
 * A DatasetRef of a spec or of an Evaluate request; `role` is the split its place names (the
 * default of builtin.split and of split). Whether a registered dataset has the split is checked
 * against the registry (dataset-checks.ts).
 */
export function datasetSelection(v: FieldViolations, ref: DatasetRef, path: string, role: DatasetSplit): DatasetSelection | undefined {
  const classes = resolveClasses(v, ref, path);
  const source = ref.source;
  if (source === undefined) {
    v.add(path, 'one of builtin or dataset_id is required');
    return undefined;
  }
  const namedSplit =
    ref.split === undefined || ref.split === WireDatasetSplit.DATASET_SPLIT_UNSPECIFIED
      ? undefined
      : v.enumValue(`${path}.split`, ref.split, DATASET_SPLITS, 'DatasetSplit');
  if (source.$case === 'datasetId') {
    if (!DATASET_ID.test(source.value)) v.add(`${path}.dataset_id`, `must match ${DATASET_ID.source}`);
    // The role's split stays implicit, so specs stored before DatasetRef.split compare equal.
    const named = namedSplit === undefined || namedSplit === role ? {} : { split: namedSplit };
    return { source: { kind: 'registered', datasetId: source.value, ...named }, classes, maxExamples: ref.maxExamples };
  }
  if (namedSplit !== undefined) v.add(`${path}.split`, 'applies to registered datasets (dataset_id); built-ins take builtin.split');
  if (role === 'test') {
    v.add(`${path}.builtin`, 'built-in datasets have no test split (their held-out examples validate); register a dataset with one');
    return undefined;
  }
  const builtin = source.value;
  const unnamed = builtin.name === BuiltinName.BUILTIN_NAME_UNSPECIFIED;
  if (unnamed) v.add(`${path}.builtin.name`, 'required');
  const name = unnamed ? undefined : v.enumValue(`${path}.builtin.name`, builtin.name, BUILTIN_NAMES, 'BuiltinName');
  const split = v.enumValue(
    `${path}.builtin.split`,
    builtin.split,
    new Map<number, 'train' | 'validation'>([
      [BuiltinSplit.BUILTIN_SPLIT_UNSPECIFIED, role],
      [BuiltinSplit.BUILTIN_SPLIT_TRAIN, 'train'],
      [BuiltinSplit.BUILTIN_SPLIT_VALIDATION, 'validation'],
    ]),
    'BuiltinSplit',
  );
  if (name !== undefined) {
    classes.forEach((id, i) => {
      if (id >= BUILTIN_CLASS_COUNT) v.add(`${path}.classes[${i}]`, `must be < ${BUILTIN_CLASS_COUNT} for ${name}`);
    });
  }
  return {
    source: { kind: 'builtin', name: name ?? 'mnist', split: split ?? role },
    classes,
    maxExamples: ref.maxExamples,
  };
}

function resolveClasses(v: FieldViolations, ref: DatasetRef, path: string): number[] {
  const seen = new Set<number>();
  ref.classes.forEach((id, i) => {
    if (seen.has(id)) v.add(`${path}.classes[${i}]`, `duplicate class id ${id}`);
    seen.add(id);
  });
  if (ref.classes.length === 1) v.add(`${path}.classes`, 'a classifier needs at least 2 classes (or empty for all)');
  return [...ref.classes];
}

/**
 * A held-out selection (validation, test) beside `train`: empty classes inherit the training
 * selection ("keep all" would relabel differently); others must equal it.
 */
export function resolveHeldOut(
  v: FieldViolations,
  ref: DatasetRef,
  train: DatasetSelection | undefined,
  path: string,
  role: 'validation' | 'test',
): DatasetSelection | undefined {
  const selection = datasetSelection(v, ref, path, role);
  if (selection === undefined || train === undefined) return undefined;
  if (selection.classes.length === 0) return { ...selection, classes: train.classes };
  const same = selection.classes.length === train.classes.length && selection.classes.every((id, i) => id === train.classes[i]);
  if (!same) v.add(`${path}.classes`, 'must equal train.classes (same ids, same order) or be empty');
  return selection;
}

/** The test split may be neither the training nor the validation split: its numbers would not be held out. */
export function checkTestIsHeldOut(
  v: FieldViolations,
  test: DatasetSelection,
  others: { readonly train: DatasetSelection | undefined; readonly validation: DatasetSelection },
  path: string,
): void {
  for (const role of ['train', 'validation'] as const) {
    const other = others[role];
    if (other !== undefined && sameSplit(test, 'test', other, role))
      v.add(path, `names the ${role} split; the test split must be held out from training and validation`);
  }
}

/** Whether two selections read the same split of the same registered dataset. */
export function sameSplit(a: DatasetSelection, roleA: DatasetSplit, b: DatasetSelection, roleB: DatasetSplit): boolean {
  const x = a.source;
  const y = b.source;
  if (x.kind !== 'registered' || y.kind !== 'registered') return false;
  return x.datasetId === y.datasetId && (x.split ?? roleA) === (y.split ?? roleB);
}

// Default: the built-in's validation split with the training classes, so label spaces match.
export function resolveValidation(
  v: FieldViolations,
  spec: FineTuneSpec,
  train: DatasetSelection | undefined,
  path: string,
): DatasetSelection {
  if (spec.validation === undefined) {
    if (train?.source.kind === 'builtin') {
      return { source: { ...train.source, split: 'validation' }, classes: train.classes, maxExamples: 0 };
    }
    if (train !== undefined) v.add(`${path}.validation`, 'required when train is a registered dataset');
    return PLACEHOLDER_SELECTION;
  }
  return resolveHeldOut(v, spec.validation, train, `${path}.validation`, 'validation') ?? PLACEHOLDER_SELECTION;
}

export function knownClassCount(train: DatasetSelection | undefined): number | undefined {
  if (train === undefined) return undefined;
  if (train.classes.length > 0) return train.classes.length;
  return train.source.kind === 'builtin' ? BUILTIN_CLASS_COUNT : undefined;
}
