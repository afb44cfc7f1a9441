// A cap on the bytes of one line, checked as bytes arrive: a file that is one huge line is
// refused once it crosses the cap, before the rest is buffered or handed to JSON.parse (which
// would hold the event loop for seconds and take several times the line's size in memory).

import type { DataLimits } from './limits.js';

export interface LineViolation {
  readonly field: string;
  readonly description: string;
}

/** Follows one file's lines across chunks; reports the first line longer than the cap. */
export class LineLengthGuard {
  private lineIndex = 0;
  private lineBytes = 0;

  constructor(private readonly maxLineBytes: number) {}

  /** The 0-based index of the line that crosses the cap within `chunk`, or undefined. */
  feed(chunk: Uint8Array): number | undefined {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      const end = newline < 0 ? chunk.length : newline;
      this.lineBytes += end - start;
      if (this.lineBytes > this.maxLineBytes) return this.lineIndex;
      if (newline < 0) return undefined;
      this.lineIndex += 1;
      this.lineBytes = 0;
      start = newline + 1;
    }
  }
}

/**
 * The violation for an over-long line. JSONL rows are numbered by line, so the field names the
 * row; a CSV row may span lines (quoted newlines), so there it names the file's rows.
 */
export function lineTooLong(
  format: 'jsonl' | 'csv',
  prefix: string,
  lineIndex: number,
  limits: Pick<DataLimits, 'maxLineBytes'>,
): LineViolation {
  return {
    field: format === 'jsonl' ? `${prefix}rows[${lineIndex}]` : `${prefix}rows`,
    description: `line ${lineIndex + 1} is longer than ${limits.maxLineBytes} bytes, the server's line limit`,
  };
}

/** Checks a whole file already in memory (a registration); undefined when every line fits. */
export function findLongLine(
  bytes: Uint8Array,
  format: 'jsonl' | 'csv',
  prefix: string,
  limits: Pick<DataLimits, 'maxLineBytes'>,
): LineViolation | undefined {
  const line = new LineLengthGuard(limits.maxLineBytes).feed(bytes);
  return line === undefined ? undefined : lineTooLong(format, prefix, line, limits);
}
