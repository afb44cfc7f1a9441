// CSV reader. The header names the columns: `label` (required) and optional `id`; then either
// `text`, or `text_a` + `text_b`; or, when no text column exists, every other column is a
// feature in header order (the common `label,pixel1,...,pixel784` layout). Rows are numbered
// by 0-based data record after the header: `rows[0]` is the first record below it.

import { CsvError, parse } from 'csv-parse/sync';

import type { ViolationCollector } from './errors.js';
import type { ParsedRows } from './jsonl.js';
import type { DataLimits } from './limits.js';
import { checkText, type RawRow, type RowInput } from './rows.js';

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const NON_FINITE = /^[+-]?(nan|inf|infinity)$/i;

interface CsvLayout {
  readonly labelColumn: number;
  readonly idColumn: number | undefined;
  readonly input:
    | { readonly kind: 'features'; readonly columns: readonly number[] }
    | { readonly kind: 'text'; readonly column: number }
    | { readonly kind: 'pair'; readonly columnA: number; readonly columnB: number };
  readonly ignored: readonly string[];
}

function layoutFromHeader(header: readonly string[], field: string, violations: ViolationCollector): CsvLayout | undefined {
  const names = header.map((name) => name.trim());
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) violations.add(field, `column ${JSON.stringify(name)} appears twice`);
    seen.add(name);
  }
  const column = (name: string): number | undefined => {
    const index = names.indexOf(name);
    return index < 0 ? undefined : index;
  };
  const labelColumn = column('label');
  if (labelColumn === undefined) violations.add(field, 'has no label column');
  const idColumn = column('id');
  const text = column('text');
  const textA = column('text_a');
  const textB = column('text_b');
  if (labelColumn === undefined || seen.size !== names.length) return undefined;

  const used = (index: number): boolean => [labelColumn, idColumn, text, textA, textB].includes(index);
  const others = names.map((_, index) => index).filter((index) => !used(index));
  if (text !== undefined && (textA !== undefined || textB !== undefined)) {
    violations.add(field, 'must have either a text column or text_a and text_b columns, not both');
    return undefined;
  }
  if ((textA === undefined) !== (textB === undefined)) {
    violations.add(field, 'text_a and text_b columns must come together');
    return undefined;
  }
  const ignored = (text ?? textA) === undefined ? [] : others.map((index) => names[index] ?? '');
  if (text !== undefined) return { labelColumn, idColumn, input: { kind: 'text', column: text }, ignored };
  if (textA !== undefined && textB !== undefined) {
    return { labelColumn, idColumn, input: { kind: 'pair', columnA: textA, columnB: textB }, ignored };
  }
  if (others.length === 0) {
    violations.add(field, 'needs feature columns, a text column, or text_a and text_b columns');
    return undefined;
  }
  return { labelColumn, idColumn, input: { kind: 'features', columns: others }, ignored };
}

function parseFeature(cell: string, field: string, columnName: string, violations: ViolationCollector): number | undefined {
  const trimmed = cell.trim();
  const problem =
    trimmed === ''
      ? 'is empty'
      : NON_FINITE.test(trimmed)
        ? `is not finite (${trimmed})`
        : !DECIMAL.test(trimmed)
          ? `is not a number (${JSON.stringify(trimmed)})`
          : Number.isFinite(Number(trimmed))
            ? undefined
            : `is not finite (${trimmed})`;
  if (problem === undefined) return Number(trimmed);
  violations.add(field, `${problem} in column ${JSON.stringify(columnName)}`);
  return undefined;
}

function rowFromRecord(
  record: readonly string[],
  header: readonly string[],
  layout: CsvLayout,
  field: string,
  limits: DataLimits,
  violations: ViolationCollector,
): RawRow | undefined {
  const before = violations.count;
  if (record.length !== header.length) {
    const where = layout.input.kind === 'features' ? `${field}.features` : field;
    violations.add(where, `has ${record.length} cells; the header has ${header.length}`);
    return undefined;
  }
  const cell = (index: number): string => record[index] ?? '';
  const label = cell(layout.labelColumn).trim();
  if (label === '') violations.add(`${field}.label`, 'is missing');
  const id = layout.idColumn === undefined ? undefined : cell(layout.idColumn).trim();
  if (id === '') violations.add(`${field}.id`, 'is empty');

  let input: RowInput | undefined;
  const spec = layout.input;
  if (spec.kind === 'features') {
    const values = spec.columns.map((column, index) =>
      parseFeature(cell(column), `${field}.features[${index}]`, header[column] ?? '', violations),
    );
    if (values.every((value): value is number => value !== undefined)) input = { kind: 'features', values };
  } else if (spec.kind === 'text') {
    const text = checkText(cell(spec.column), `${field}.text`, limits, violations);
    if (text !== undefined) input = { kind: 'text', text };
  } else {
    const textA = checkText(cell(spec.columnA), `${field}.text_a`, limits, violations);
    const textB = checkText(cell(spec.columnB), `${field}.text_b`, limits, violations);
    if (textA !== undefined && textB !== undefined) input = { kind: 'pair', textA, textB };
  }
  if (violations.count !== before || input === undefined) return undefined;
  return id === undefined ? { field, label, input } : { field, id, label, input };
}

/** Parses CSV text into rows; `prefix` is prepended to field names as in parseJsonlRows. */
export function parseCsvRows(text: string, prefix: string, limits: DataLimits, violations: ViolationCollector): ParsedRows {
  let records: string[][];
  try {
    records = parse(text, {
      bom: true,
      skip_empty_lines: true,
      // Ragged records are reported per row below rather than failing the whole parse.
      relax_column_count: true,
      max_record_size: Math.max(128_000, 4 * limits.maxTextChars, 32 * limits.maxFeatureDim),
    });
  } catch (error) {
    const reason = error instanceof CsvError || error instanceof Error ? error.message : String(error);
    violations.add(`${prefix}rows`, `is not valid CSV: ${reason}`);
    return { rows: [], ignoredFields: [] };
  }
  const [header, ...body] = records;
  if (header === undefined) {
    violations.add(`${prefix}header`, 'is missing (the file is empty)');
    return { rows: [], ignoredFields: [] };
  }
  const layout = layoutFromHeader(header, `${prefix}header`, violations);
  if (!layout) return { rows: [], ignoredFields: [] };
  if (body.length > limits.maxRows) {
    violations.add(`${prefix}rows`, `has ${body.length} rows; the limit is ${limits.maxRows}`);
    return { rows: [], ignoredFields: [] };
  }
  const rows: RawRow[] = [];
  body.forEach((record, index) => {
    const row = rowFromRecord(record, header, layout, `${prefix}rows[${index}]`, limits, violations);
    if (row) rows.push(row);
  });
  return { rows, ignoredFields: layout.ignored };
}
