// UploadDataset's client stream → a DatasetSource over the uploaded bytes. The header comes
// first, then chunks; everything is buffered (up to the configured limit) and only validated
// once the stream ends, so a broken or cancelled upload registers nothing. Two caps hold while
// bytes arrive: the whole upload's size, and (JSONL, CSV) the length of one line, so that a file
// of one huge line is refused at the cap instead of being buffered and parsed in one go.
import type { UploadDatasetRequest, UploadHeader } from '../../client/gen/steadytune/v1/dataset.js';
import { LineLengthGuard, lineTooLong, type DatasetFormat, type DatasetSource } from '../data/index.js';
import { FieldViolations } from './field-violations.js';
import { datasetSource, resolveFormat, resolveOptions, type DatasetSplitFiles, type SplitFiles } from './dataset-requests.js';

export interface ParsedUpload {
  readonly source: DatasetSource;
  readonly displayName: string;
}

const MAX_FILE_NAME_CHARS = 512;
const SPLITS = ['train', 'validation', 'test'] as const;
/** The data layer's field prefix of each tabular upload file (rows[3], validation.rows[3]). */
const TABULAR_PREFIXES: ReadonlyMap<string, string> = new Map([
  ['train', ''],
  ['validation', 'validation.'],
  ['test', 'test.'],
]);

export interface UploadLimits {
  /** All chunks together. */
  readonly maxBytes: number;
  /** One line of a JSONL or CSV file. */
  readonly maxLineBytes: number;
}

/** Reads the whole stream; throws INVALID_ARGUMENT naming the bad part. */
export async function readUpload(messages: AsyncIterable<UploadDatasetRequest>, limits: UploadLimits): Promise<ParsedUpload> {
  const { maxBytes } = limits;
  let header: UploadHeader | undefined;
  let tabular: 'jsonl' | 'csv' | undefined;
  const lineGuards = new Map<string, LineLengthGuard>();
  const files = new Map<string, Buffer[]>();
  let total = 0;
  let index = 0;
  for await (const message of messages) {
    const part = message.part;
    const at = `requests[${index}]`;
    index += 1;
    if (index === 1) {
      if (part?.$case !== 'header') fail(`${at}.header`, 'the first message must be the header');
      header = part.value;
      // A bad format is reported with the rest once the stream ends.
      const format = resolveFormat(new FieldViolations(), header.format, 'header.format');
      tabular = format === 'jsonl' || format === 'csv' ? format : undefined;
      continue;
    }
    if (part?.$case !== 'chunk') fail(`${at}.chunk`, 'every message after the header must be a chunk');
    const { file, data } = part.value;
    if (file === '' || file.length > MAX_FILE_NAME_CHARS)
      fail(`${at}.chunk.file`, `must name the file (1..${MAX_FILE_NAME_CHARS} characters)`);
    total += data.byteLength;
    // Checked as bytes arrive: an oversized upload is refused before it is all buffered.
    if (total > maxBytes) fail(`${at}.chunk.data`, `the upload is over the ${maxBytes}-byte limit`);
    const prefix = TABULAR_PREFIXES.get(file);
    if (tabular !== undefined && prefix !== undefined) {
      const guard = lineGuards.get(file) ?? new LineLengthGuard(limits.maxLineBytes);
      lineGuards.set(file, guard);
      const line = guard.feed(data);
      if (line !== undefined) {
        const violation = lineTooLong(tabular, prefix, line, limits);
        fail(violation.field, violation.description);
      }
    }
    const parts = files.get(file) ?? [];
    parts.push(data);
    files.set(file, parts);
  }
  if (header === undefined) fail('header', 'the upload is empty: send the header, then the files in chunks');
  const v = new FieldViolations();
  const format = resolveFormat(v, header.format, 'header.format');
  const options = resolveOptions(v, format, header.options, 'header.options');
  checkDisplayName(v, header.displayName, 'header.display_name');
  const joined = new Map([...files].map(([name, parts]) => [name, new Uint8Array(Buffer.concat(parts))]));
  const splits = format === undefined ? undefined : splitFiles(v, format, joined);
  v.throwIfAny('UploadDataset');
  if (format === undefined || splits === undefined) throw new Error('unreachable: violations were thrown');
  return { source: datasetSource(format, splits, options), displayName: header.displayName };
}

/** The uploaded files by split, per the naming UploadChunk documents. */
function splitFiles(v: FieldViolations, format: DatasetFormat, files: ReadonlyMap<string, Uint8Array>): DatasetSplitFiles | undefined {
  const known = new Set<string>();
  const bytes = (name: string): { bytes: Uint8Array } | undefined => {
    known.add(name);
    const data = files.get(name);
    return data === undefined ? undefined : { bytes: data };
  };
  const result: Partial<Record<(typeof SPLITS)[number], SplitFiles>> = {};
  for (const split of SPLITS) {
    let entry: SplitFiles | undefined;
    if (format === 'jsonl' || format === 'csv') {
      const file = bytes(split);
      entry = file && { file };
    } else if (format === 'idx') {
      const images = bytes(`${split}/images`);
      const labels = bytes(`${split}/labels`);
      if ((images === undefined) !== (labels === undefined))
        v.add(`files["${split}/${images ? 'labels' : 'images'}"]`, 'missing: IDX needs images and labels');
      entry = images && labels && { images, labels };
    } else {
      const prefix = `${split}/`;
      const folder = new Map(
        [...files].filter(([name]) => name.startsWith(prefix)).map(([name, data]) => [name.slice(prefix.length), data]),
      );
      folder.forEach((_, name) => known.add(prefix + name));
      entry = folder.size > 0 ? { folder: { files: folder } } : undefined;
    }
    if (entry !== undefined) result[split] = entry;
  }
  for (const name of files.keys()) {
    if (!known.has(name)) v.add(`files[${JSON.stringify(name)}]`, `is not a file name a ${format} upload takes (see UploadChunk)`);
  }
  if (result.train === undefined) {
    v.add('files["train"]', `missing: the upload has no training files for ${format}`);
    return undefined;
  }
  return {
    train: result.train,
    ...(result.validation === undefined ? {} : { validation: result.validation }),
    ...(result.test === undefined ? {} : { test: result.test }),
  };
}

export function checkDisplayName(v: FieldViolations, name: string, field: string): void {
  if (name.length > 256) v.add(field, 'at most 256 characters');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters break logs and terminals
  if (/[\u0000-\u001f\u007f]/.test(name)) v.add(field, 'must not contain control characters');
}

function fail(field: string, description: string): never {
  const v = new FieldViolations();
  v.add(field, description);
  v.throwIfAny('UploadDataset');
  throw new Error('unreachable');
}
