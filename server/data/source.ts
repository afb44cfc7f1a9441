// Reads a dataset source (files under the data root, or uploaded bytes) into validated
// train/validation (and optional test) ExampleSets. Every file is read and checked before anything is built,
// and any violation throws INVALID_ARGUMENT: nothing is returned partially.

import type { ExampleSet } from '../engine/tf-free.js';
import { assembleDataset, type AssembledDataset, type TextOptions } from './assemble.js';
import { readConfinedFile, type FileRef } from './confined-file.js';
import { parseCsvRows } from './csv.js';
import { ViolationCollector } from './errors.js';
import { countClasses, selectExamples, splitPerClass } from './example-set.js';
import { idxToExamples, parseIdx } from './idx.js';
import { readImageFolder, type ImageFolderSource } from './image-folder.js';
import { decodeUtf8, parseJsonlRows, type ParsedRows } from './jsonl.js';
import type { DataLimits } from './limits.js';
import { findLongLine } from './line-limit.js';

export const DEFAULT_VALIDATION_FRACTION = 0.2;

/** JSONL or CSV rows; see jsonl.ts and csv.ts for the columns. */
export interface TabularSource {
  readonly format: 'jsonl' | 'csv';
  readonly train: FileRef;
  /** Without it, validationFraction of each class is held out (see splitPerClass). */
  readonly validation?: FileRef;
  /** Held-out examples that are only ever reported on. */
  readonly test?: FileRef;
  /** Declares the classes and their ids; otherwise they are inferred (see labels.ts). */
  readonly classNames?: readonly string[];
  readonly validationFraction?: number;
  readonly text?: TextOptions;
}

export interface IdxFiles {
  readonly images: FileRef;
  readonly labels: FileRef;
}

export interface IdxSource {
  readonly format: 'idx';
  readonly train: IdxFiles;
  readonly validation?: IdxFiles;
  readonly test?: IdxFiles;
  readonly classNames?: readonly string[];
  readonly validationFraction?: number;
}

export type DatasetSource = TabularSource | IdxSource | ImageFolderSource;
export type DatasetFormat = DatasetSource['format'];

export interface ReadContext {
  /** Paths in a source resolve under this directory and may not leave it. */
  readonly dataRoot?: string;
  readonly limits: DataLimits;
}

async function parseTabularFile(
  bytes: Uint8Array,
  format: TabularSource['format'],
  prefix: string,
  limits: DataLimits,
  violations: ViolationCollector,
): Promise<ParsedRows> {
  const longLine = findLongLine(bytes, format, prefix, limits);
  if (longLine !== undefined) {
    violations.add(longLine.field, longLine.description);
    return { rows: [], ignoredFields: [] };
  }
  const text = decodeUtf8(bytes, `${prefix}path`, violations);
  if (text === undefined) return { rows: [], ignoredFields: [] };
  return format === 'csv' ? parseCsvRows(text, prefix, limits, violations) : parseJsonlRows(text, prefix, limits, violations);
}

async function readTabular(source: TabularSource, context: ReadContext, violations: ViolationCollector): Promise<AssembledDataset> {
  const { limits } = context;
  const files = [{ split: 'train', ref: source.train, prefix: '' }];
  if (source.validation) files.push({ split: 'validation', ref: source.validation, prefix: 'validation.' });
  if (source.test) files.push({ split: 'test', ref: source.test, prefix: 'test.' });
  const contents = await Promise.all(
    files.map(({ ref, prefix }) => readConfinedFile(ref, context.dataRoot, limits, `${prefix}path`, violations)),
  );
  violations.throwIfAny('dataset rejected');

  // One file after another: each yields to the event loop while it parses (jsonl.ts).
  const parsed: ParsedRows[] = [];
  for (const [index, { prefix }] of files.entries()) {
    parsed.push(await parseTabularFile(contents[index] ?? new Uint8Array(), source.format, prefix, limits, violations));
  }
  const rowsOf = (split: string) => {
    const index = files.findIndex((file) => file.split === split);
    return index < 0 ? undefined : (parsed[index]?.rows ?? []);
  };
  // No throw yet: cross-row checks on the rows that parsed still add useful violations.
  const dataset = assembleDataset(
    { train: rowsOf('train') ?? [], validation: rowsOf('validation'), test: rowsOf('test') },
    {
      classNames: source.classNames,
      validationFraction: source.validationFraction ?? DEFAULT_VALIDATION_FRACTION,
      text: source.text ?? {},
    },
    limits,
    violations,
  );
  const ignored = [...new Set(parsed.flatMap((file) => file.ignoredFields))];
  if (ignored.length === 0) return dataset;
  return { ...dataset, notes: [...dataset.notes, `ignored fields: ${ignored.join(', ')}`] };
}

async function readIdx(source: IdxSource, context: ReadContext, violations: ViolationCollector): Promise<AssembledDataset> {
  const { limits } = context;
  const parts = [{ files: source.train, prefix: '' }];
  if (source.validation) parts.push({ files: source.validation, prefix: 'validation.' });
  // The test split, when given, is always the last part.
  if (source.test) parts.push({ files: source.test, prefix: 'test.' });
  const sets = await Promise.all(
    parts.map(async ({ files, prefix }) => {
      const fields = { images: `${prefix}images`, labels: `${prefix}labels` };
      const [imageBytes, labelBytes] = await Promise.all([
        readConfinedFile(files.images, context.dataRoot, limits, `${fields.images}.path`, violations),
        readConfinedFile(files.labels, context.dataRoot, limits, `${fields.labels}.path`, violations),
      ]);
      const images = imageBytes && parseIdx(imageBytes, fields.images, limits, violations);
      const labels = labelBytes && parseIdx(labelBytes, fields.labels, limits, violations);
      return images && labels ? idxToExamples(images, labels, fields, limits, violations, source.classNames) : undefined;
    }),
  );
  violations.throwIfAny('dataset rejected');
  let train = sets[0];
  let validation = source.validation ? sets[1] : undefined;
  const test = source.test ? sets.at(-1) : undefined;
  if (!train) throw new Error('IDX training set missing without a violation');
  // Without declared names the files must agree on the class count, so take the largest.
  const numClasses = Math.max(train.numClasses, validation?.numClasses ?? 0, test?.numClasses ?? 0);
  const classNames = source.classNames ?? Array.from({ length: numClasses }, (_, id) => String(id));
  const withClasses = (set: ExampleSet): ExampleSet => ({ ...set, numClasses, classNames });
  if (!validation) {
    const fraction = source.validationFraction ?? DEFAULT_VALIDATION_FRACTION;
    if (!(fraction >= 0 && fraction < 1)) violations.add('validationFraction', `must be in [0, 1), got ${fraction}`);
    violations.throwIfAny('dataset rejected');
    const split = splitPerClass(train.labels, numClasses, fraction);
    validation = selectExamples(train, split.validation);
    train = selectExamples(train, split.train);
  }
  for (const [set, field] of [
    [validation, 'validation.images'],
    [test, 'test.images'],
  ] as const) {
    if (set?.inputs.kind === 'features' && train.inputs.kind === 'features' && set.inputs.dim !== train.inputs.dim) {
      violations.add(field, `has ${set.inputs.dim} values per row; the training images have ${train.inputs.dim}`);
    }
  }
  if (numClasses < 2) violations.add('labels', `a classifier needs at least 2 classes, got ${numClasses}`);
  countClasses(train.labels, numClasses).forEach((count, id) => {
    if (count === 0) {
      violations.add(source.classNames ? `classNames[${id}]` : 'labels', `class ${id} has no training examples`);
    }
  });
  violations.throwIfAny('dataset rejected');
  return {
    train: withClasses(train),
    validation: withClasses(validation),
    ...(test === undefined ? {} : { test: withClasses(test) }),
    classNames,
    truncatedTexts: 0,
    notes: [],
  };
}

/** Reads and validates a source; throws INVALID_ARGUMENT listing every violation. */
export async function readDatasetSource(source: DatasetSource, context: ReadContext): Promise<AssembledDataset> {
  const violations = new ViolationCollector();
  switch (source.format) {
    case 'jsonl':
    case 'csv':
      return readTabular(source, context, violations);
    case 'idx':
      return readIdx(source, context, violations);
    case 'image_folder':
      return readImageFolder(source, context, violations);
    default:
      violations.add(
        'format',
        `must be "jsonl", "csv", "idx" or "image_folder", got ${JSON.stringify((source as { format: unknown }).format)}`,
      );
      violations.throwIfAny('dataset rejected');
      throw new Error('unreachable');
  }
}
