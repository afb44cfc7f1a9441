// JSON Lines reader: one JSON object per line with `label` and either `features`,
// `text`, or `text_a` + `text_b` (optional `id`). Rows are numbered by 0-based line, blank
// lines included, so `rows[12]` is line 13 of the file.
// Parsing yields to the event loop every YIELD_EVERY_CHARS of input, so a large file (an
// upload of tens of MB) does not hold every other call until it is all parsed; lines are
// short enough to parse in one go (DataLimits.maxLineBytes, checked before).

import type { ViolationCollector } from './errors.js';
import type { DataLimits } from './limits.js';
import { describeValue, rowFromRecord, type RawRow } from './rows.js';

/** About a millisecond or two of JSON.parse between yields. */
const YIELD_EVERY_CHARS = 256 * 1024;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface ParsedRows {
  readonly rows: readonly RawRow[];
  /** Columns or keys present in the file that the reader does not use. */
  readonly ignoredFields: readonly string[];
}

/** Decodes UTF-8 strictly (a BOM is dropped); undefined after recording a violation. */
export function decodeUtf8(bytes: Uint8Array, field: string, violations: ViolationCollector): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    violations.add(field, 'is not valid UTF-8 text');
    return undefined;
  }
}

/**
 * Parses JSONL text into rows. `prefix` goes in front of every field name ('' for the
 * training file, 'validation.' for a separate validation file).
 */
export async function parseJsonlRows(
  text: string,
  prefix: string,
  limits: DataLimits,
  violations: ViolationCollector,
): Promise<ParsedRows> {
  const rows: RawRow[] = [];
  const ignoredKeys = new Set<string>();
  const lines = text.split('\n');
  let nonBlank = 0;
  let charsSinceYield = 0;
  for (let lineIndex = 0; lineIndex < lines.length; lineIndex += 1) {
    const line = lines[lineIndex]?.trim() ?? '';
    charsSinceYield += line.length + 1;
    if (charsSinceYield >= YIELD_EVERY_CHARS) {
      charsSinceYield = 0;
      await yieldToEventLoop();
    }
    if (line === '') continue;
    const field = `${prefix}rows[${lineIndex}]`;
    nonBlank += 1;
    if (nonBlank > limits.maxRows) {
      violations.add(`${prefix}rows`, `has more than ${limits.maxRows} rows (the limit)`);
      break;
    }
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      violations.add(field, `line ${lineIndex + 1} is not valid JSON: ${reason}`);
      continue;
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      violations.add(field, `must be a JSON object, got ${describeValue(record)}`);
      continue;
    }
    const row = rowFromRecord(record as Record<string, unknown>, field, limits, violations, ignoredKeys);
    if (row) rows.push(row);
  }
  return { rows, ignoredFields: [...ignoredKeys].sort() };
}
