// Size limits applied before anything is parsed or kept, so one request cannot exhaust the
// server's memory. Operators tune them from config; the defaults fit a laptop.

export interface DataLimits {
  /** Largest file (or upload) accepted, and largest decompressed IDX payload. */
  readonly maxBytes: number;
  /** Most rows per file. */
  readonly maxRows: number;
  /** Longest `text`, `text_a` or `text_b` in characters (STEADYTUNE_MAX_TEXT_CHARS). */
  readonly maxTextChars: number;
  /** Longest line of a JSONL or CSV file in bytes, checked before it is parsed (STEADYTUNE_MAX_LINE_BYTES). */
  readonly maxLineBytes: number;
  /** Most features per row. */
  readonly maxFeatureDim: number;
  readonly maxClasses: number;
}

export const DEFAULT_DATA_LIMITS: DataLimits = {
  // Parsed rows cost several times their file size in JS arrays; 64 MiB still fits the
  // decompressed fashion-mnist training images (47 MB).
  maxBytes: 64 * 1024 * 1024,
  maxRows: 1_000_000,
  maxTextChars: 10_000,
  // A row of 100,000 features as JSON numbers is about 1 MB; longer lines are rarely data.
  maxLineBytes: 1024 * 1024,
  maxFeatureDim: 100_000,
  maxClasses: 10_000,
};

export function resolveLimits(overrides: Partial<DataLimits> = {}): DataLimits {
  return { ...DEFAULT_DATA_LIMITS, ...overrides };
}
