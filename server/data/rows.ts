// The format-independent row model that the JSONL and CSV readers produce, and the checks
// of single fields that both formats share. Cross-row checks live in assemble.ts.

import type { ViolationCollector } from './errors.js';
import type { DataLimits } from './limits.js';

/** A class name, or a class id (a non-negative integer, or a decimal string in CSV). */
export type RawLabel = string | number;

export type RowInput =
  | { readonly kind: 'features'; readonly values: readonly number[] }
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'pair'; readonly textA: string; readonly textB: string };

export interface RawRow {
  /** How violations name this row, e.g. `rows[12]` or `validation.rows[3]`. */
  readonly field: string;
  readonly id?: string;
  readonly label: RawLabel;
  readonly input: RowInput;
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** Checks a label value from JSON; strings are class names, integers class ids. */
export function checkLabel(value: unknown, field: string, violations: ViolationCollector): RawLabel | undefined {
  if (value === undefined || value === null) {
    violations.add(field, 'is missing');
    return undefined;
  }
  if (typeof value === 'string') {
    if (value.trim() === '') {
      violations.add(field, 'must not be empty');
      return undefined;
    }
    return value;
  }
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  violations.add(
    field,
    `must be a class name or a non-negative integer class id, got ${typeof value === 'number' ? String(value) : describeValue(value)}`,
  );
  return undefined;
}

/** Row ids are compared as strings, so `7` and `"7"` are the same id. */
export function checkId(value: unknown, field: string, violations: ViolationCollector): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  violations.add(field, `must be a non-empty string or an integer, got ${describeValue(value)}`);
  return undefined;
}

export function checkText(value: unknown, field: string, limits: DataLimits, violations: ViolationCollector): string | undefined {
  if (typeof value !== 'string') {
    violations.add(field, `must be a string, got ${describeValue(value)}`);
    return undefined;
  }
  if (value.length > limits.maxTextChars) {
    violations.add(field, `is ${value.length} characters; the limit is ${limits.maxTextChars}`);
    return undefined;
  }
  return value;
}

function checkFeatures(value: unknown, field: string, limits: DataLimits, violations: ViolationCollector): number[] | undefined {
  if (!Array.isArray(value)) {
    violations.add(field, `must be an array of numbers, got ${describeValue(value)}`);
    return undefined;
  }
  if (value.length > limits.maxFeatureDim) {
    violations.add(field, `has ${value.length} values; the limit is ${limits.maxFeatureDim}`);
    return undefined;
  }
  const values: number[] = new Array<number>(value.length);
  let valid = true;
  value.forEach((item: unknown, index) => {
    // JSON has no NaN, but 1e999 parses to Infinity, and null or strings slip in easily.
    if (typeof item === 'number' && Number.isFinite(item)) {
      values[index] = item;
    } else {
      valid = false;
      const what = typeof item === 'number' ? String(item) : describeValue(item);
      violations.add(`${field}[${index}]`, `must be a finite number, got ${what}`);
    }
  });
  return valid ? values : undefined;
}

const ROW_KEYS = new Set(['id', 'label', 'features', 'text', 'text_a', 'text_b']);

/**
 * Reads one JSON object as a row; returns undefined after recording violations.
 * Keys other than ROW_KEYS are ignored and reported through `ignoredKeys`.
 */
export function rowFromRecord(
  record: Readonly<Record<string, unknown>>,
  field: string,
  limits: DataLimits,
  violations: ViolationCollector,
  ignoredKeys: Set<string>,
): RawRow | undefined {
  for (const key of Object.keys(record)) if (!ROW_KEYS.has(key)) ignoredKeys.add(key);
  const before = violations.count;
  const label = checkLabel(record.label, `${field}.label`, violations);
  const id = record.id === undefined ? undefined : checkId(record.id, `${field}.id`, violations);

  const hasFeatures = record.features !== undefined;
  const hasText = record.text !== undefined;
  const hasPair = record.text_a !== undefined || record.text_b !== undefined;
  let input: RowInput | undefined;
  if ([hasFeatures, hasText, hasPair].filter(Boolean).length > 1) {
    violations.add(field, 'must have only one of features, text, or text_a and text_b');
  } else if (hasFeatures) {
    const values = checkFeatures(record.features, `${field}.features`, limits, violations);
    if (values) input = { kind: 'features', values };
  } else if (hasText) {
    const text = checkText(record.text, `${field}.text`, limits, violations);
    if (text !== undefined) input = { kind: 'text', text };
  } else if (hasPair) {
    if (record.text_a === undefined) violations.add(`${field}.text_a`, 'is missing (text_b needs text_a)');
    if (record.text_b === undefined) violations.add(`${field}.text_b`, 'is missing (text_a needs text_b)');
    const textA = record.text_a === undefined ? undefined : checkText(record.text_a, `${field}.text_a`, limits, violations);
    const textB = record.text_b === undefined ? undefined : checkText(record.text_b, `${field}.text_b`, limits, violations);
    if (textA !== undefined && textB !== undefined) input = { kind: 'pair', textA, textB };
  } else {
    violations.add(field, 'needs features, text, or text_a and text_b');
  }
  if (violations.count !== before || label === undefined || input === undefined) return undefined;
  return id === undefined ? { field, label, input } : { field, id, label, input };
}
