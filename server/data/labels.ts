// Maps row labels (names or ids) to class ids.
//
// A label is a class name if it equals a declared one; otherwise a non-negative integer
// (a JSON number, or a decimal string as CSV gives) is a class id. Without declared names:
// if every label is an integer the labels are ids and there are max + 1 classes (named
// "0", "1", ...); otherwise every label is a name and the classes are the distinct names
// sorted by UTF-16 code units, so ids do not depend on row order or locale.

import type { ViolationCollector } from './errors.js';
import type { DataLimits } from './limits.js';
import type { RawLabel, RawRow } from './rows.js';

export interface ResolvedLabels {
  readonly classNames: readonly string[];
  /** Class id per row, in row order; -1 for rows whose label was rejected. */
  readonly labels: Int32Array;
  /** True when the class names came from the data rather than the caller. */
  readonly inferred: boolean;
}

const CLASS_ID = /^(0|[1-9]\d*)$/;

function asClassId(label: RawLabel): number | undefined {
  if (typeof label === 'number') return label;
  return CLASS_ID.test(label) && label.length <= 15 ? Number(label) : undefined;
}

function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function checkDeclaredNames(names: readonly string[], violations: ViolationCollector): void {
  const seen = new Map<string, number>();
  names.forEach((name, index) => {
    if (typeof name !== 'string' || name.trim() === '') {
      violations.add(`classNames[${index}]`, 'must be a non-empty string');
      return;
    }
    const first = seen.get(name);
    if (first !== undefined) violations.add(`classNames[${index}]`, `duplicates classNames[${first}]`);
    else seen.set(name, index);
  });
}

export function resolveLabels(
  rows: readonly RawRow[],
  declared: readonly string[] | undefined,
  limits: DataLimits,
  violations: ViolationCollector,
): ResolvedLabels {
  const labels = new Int32Array(rows.length).fill(-1);
  let classNames: readonly string[];
  if (declared !== undefined) {
    checkDeclaredNames(declared, violations);
    classNames = declared;
    const idsByName = new Map(declared.map((name, id) => [name, id]));
    rows.forEach((row, index) => {
      const byName = typeof row.label === 'string' ? idsByName.get(row.label) : undefined;
      const id = byName ?? asClassId(row.label);
      if (id !== undefined && id < declared.length) labels[index] = id;
      else if (id !== undefined) {
        violations.add(`${row.field}.label`, `class id ${id} is out of range: ${declared.length} classes are declared`);
      } else violations.add(`${row.field}.label`, `${JSON.stringify(row.label)} is not a declared class name`);
    });
  } else if (rows.every((row) => asClassId(row.label) !== undefined)) {
    const ids = rows.map((row) => asClassId(row.label) ?? 0);
    const numClasses = ids.reduce((max, id) => Math.max(max, id + 1), 0);
    if (numClasses > limits.maxClasses) {
      violations.add('labels', `class ids go up to ${numClasses - 1}; the limit is ${limits.maxClasses} classes`);
      return { classNames: [], labels, inferred: true };
    }
    classNames = Array.from({ length: numClasses }, (_, id) => String(id));
    labels.set(ids);
  } else {
    const names = new Set<string>();
    for (const row of rows) {
      if (typeof row.label === 'string') names.add(row.label);
      else violations.add(`${row.field}.label`, `class id ${row.label} given, but other rows use class names`);
    }
    classNames = [...names].sort(compareCodeUnits);
    const idsByName = new Map(classNames.map((name, id) => [name, id]));
    rows.forEach((row, index) => {
      if (typeof row.label === 'string') labels[index] = idsByName.get(row.label) ?? -1;
    });
  }
  if (classNames.length > limits.maxClasses) {
    violations.add(declared ? 'classNames' : 'labels', `${classNames.length} classes; the limit is ${limits.maxClasses}`);
  }
  return { classNames, labels, inferred: declared === undefined };
}
