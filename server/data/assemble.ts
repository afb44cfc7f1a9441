// Cross-row validation and the build of the train/validation (and test) ExampleSets from parsed rows.
// Every check runs before anything is built, and any violation throws: callers never see a
// partial dataset.

import type { ExampleInputs, ExampleSet } from '../engine/tf-free.js';
import type { ViolationCollector } from './errors.js';
import { countClasses, splitPerClass } from './example-set.js';
import { resolveLabels } from './labels.js';
import type { DataLimits } from './limits.js';
import type { RawRow, RowInput } from './rows.js';
import { buildVocabulary, encodeTexts, type TextExample, type Vocabulary } from './tokenizer.js';

export interface TextOptions {
  /** Tokens per example including [CLS]/[SEP]; default 128. */
  readonly seqLen?: number;
  /** Vocabulary size including the special tokens; default 30000. */
  readonly maxVocabSize?: number;
  readonly minWordCount?: number;
}

export interface AssembleOptions {
  readonly classNames?: readonly string[];
  /** Share of each class held out for validation when no validation file is given. */
  readonly validationFraction: number;
  readonly text: TextOptions;
}

export interface AssembledDataset {
  readonly train: ExampleSet;
  readonly validation: ExampleSet;
  /** Only reported on (never trained or chosen on); absent when the source has none. */
  readonly test?: ExampleSet;
  readonly classNames: readonly string[];
  readonly vocabulary?: Vocabulary;
  /** Examples whose text lost tokens to seqLen. */
  readonly truncatedTexts: number;
  readonly notes: readonly string[];
  /** Image folders: the stored image shape (features are height x width x channels, channels last). */
  readonly imageShape?: { readonly height: number; readonly width: number; readonly channels: 1 | 3 };
}

const KIND_WORDS: Record<RowInput['kind'], string> = { features: 'features', text: 'text', pair: 'a text pair' };

function checkRowsAgree(rows: readonly RawRow[], violations: ViolationCollector): void {
  const first = rows[0];
  if (!first) return;
  const firstDim = first.input.kind === 'features' ? first.input.values.length : 0;
  const fieldsById = new Map<string, string>();
  for (const row of rows) {
    if (row.input.kind !== first.input.kind) {
      violations.add(row.field, `is ${KIND_WORDS[row.input.kind]}, but ${first.field} is ${KIND_WORDS[first.input.kind]}`);
    } else if (row.input.kind === 'features' && row.input.values.length !== firstDim) {
      violations.add(`${row.field}.features`, `has ${row.input.values.length} values, but ${first.field}.features has ${firstDim}`);
    }
    if (row.id !== undefined) {
      const earlier = fieldsById.get(row.id);
      if (earlier !== undefined) violations.add(`${row.field}.id`, `duplicates ${earlier}.id (${JSON.stringify(row.id)})`);
      else fieldsById.set(row.id, row.field);
    }
  }
}

function buildFeatures(rows: readonly RawRow[], indices: Int32Array): ExampleInputs {
  const dim = rows[0]?.input.kind === 'features' ? rows[0].input.values.length : 0;
  const values = new Float32Array(indices.length * dim);
  indices.forEach((rowIndex, position) => {
    const input = rows[rowIndex]?.input;
    if (input?.kind === 'features') values.set(input.values, position * dim);
  });
  return { kind: 'features', values, dim };
}

function textOf(row: RawRow | undefined): TextExample {
  const input = row?.input;
  if (input?.kind === 'pair') return { textA: input.textA, textB: input.textB };
  return { text: input?.kind === 'text' ? input.text : '' };
}

/** Each split's parsed rows; without validation rows a share of train is held out, test is optional. */
export interface SplitRows {
  readonly train: readonly RawRow[];
  readonly validation?: readonly RawRow[];
  readonly test?: readonly RawRow[];
}

export function assembleDataset(
  splits: SplitRows,
  options: AssembleOptions,
  limits: DataLimits,
  violations: ViolationCollector,
): AssembledDataset {
  const { train: trainRows, validation: validationRows, test: testRows } = splits;
  const rows = [...trainRows, ...(validationRows ?? []), ...(testRows ?? [])];
  const seqLen = options.text.seqLen ?? 128;
  if (trainRows.length === 0) violations.add('rows', 'has no examples');
  if (validationRows?.length === 0) violations.add('validation.rows', 'has no examples');
  if (testRows?.length === 0) violations.add('test.rows', 'has no examples');
  if (!(options.validationFraction >= 0 && options.validationFraction < 1)) {
    violations.add('validationFraction', `must be in [0, 1), got ${options.validationFraction}`);
  }
  if (rows[0] && rows[0].input.kind !== 'features' && !(Number.isInteger(seqLen) && seqLen >= 3 && seqLen <= 4096)) {
    violations.add('text.seqLen', `must be an integer in [3, 4096], got ${seqLen}`);
  }
  checkRowsAgree(rows, violations);
  const { classNames, labels } = resolveLabels(rows, options.classNames, limits, violations);
  violations.throwIfAny('dataset rejected');

  // Train and validation come first in `rows` (and in `labels`): a held-out share indexes them only.
  const heldOut =
    validationRows === undefined
      ? splitPerClass(labels.subarray(0, trainRows.length), classNames.length, options.validationFraction)
      : {
          train: Int32Array.from(trainRows, (_, index) => index),
          validation: Int32Array.from(validationRows, (_, index) => trainRows.length + index),
        };
  const testStart = trainRows.length + (validationRows?.length ?? 0);
  const split = { ...heldOut, test: testRows === undefined ? undefined : Int32Array.from(testRows, (_, index) => testStart + index) };
  const trainLabels = Int32Array.from(split.train, (index) => labels[index] ?? 0);
  const validationLabels = Int32Array.from(split.validation, (index) => labels[index] ?? 0);
  const testLabels = split.test && Int32Array.from(split.test, (index) => labels[index] ?? 0);
  // Whole-dataset checks run only once every row is valid, or a rejected row would show
  // up a second time as a missing class.
  const classField = options.classNames ? 'classNames' : 'labels';
  if (classNames.length < 2) violations.add(classField, `a classifier needs at least 2 classes, got ${classNames.length}`);
  const trainCounts = countClasses(trainLabels, classNames.length);
  trainCounts.forEach((count, id) => {
    if (count > 0) return;
    const field = options.classNames ? `classNames[${id}]` : 'labels';
    violations.add(field, `class ${JSON.stringify(classNames[id])} (id ${id}) has no training examples`);
  });
  violations.throwIfAny('dataset rejected');

  const notes: string[] = [];
  const validationCounts = countClasses(validationLabels, classNames.length);
  const missing = classNames.filter((_, id) => validationCounts[id] === 0);
  if (missing.length > 0) notes.push(`validation split has no examples of: ${missing.join(', ')}`);
  if (testLabels !== undefined) {
    const testCounts = countClasses(testLabels, classNames.length);
    const missingInTest = classNames.filter((_, id) => testCounts[id] === 0);
    if (missingInTest.length > 0) notes.push(`test split has no examples of: ${missingInTest.join(', ')}`);
  }

  const base = { numClasses: classNames.length, classNames };
  if (rows[0]?.input.kind === 'features') {
    return {
      train: { ...base, inputs: buildFeatures(rows, split.train), labels: trainLabels },
      validation: { ...base, inputs: buildFeatures(rows, split.validation), labels: validationLabels },
      ...(split.test && testLabels ? { test: { ...base, inputs: buildFeatures(rows, split.test), labels: testLabels } } : {}),
      classNames,
      truncatedTexts: 0,
      notes,
    };
  }
  const trainTexts = Array.from(split.train, (index) => textOf(rows[index]));
  const validationTexts = Array.from(split.validation, (index) => textOf(rows[index]));
  const testTexts = split.test && Array.from(split.test, (index) => textOf(rows[index]));
  const vocabulary = buildVocabulary(
    trainTexts.flatMap((example) => ('text' in example ? [example.text] : [example.textA, example.textB])),
    { maxSize: options.text.maxVocabSize, minCount: options.text.minWordCount },
  );
  const pairs = rows[0]?.input.kind === 'pair';
  const train = encodeTexts(trainTexts, vocabulary, seqLen, pairs);
  const validation = encodeTexts(validationTexts, vocabulary, seqLen, pairs);
  // The vocabulary is the training split's alone: held-out words are [UNK], as at Predict.
  const test = testTexts && encodeTexts(testTexts, vocabulary, seqLen, pairs);
  const truncatedTexts = train.truncated + validation.truncated + (test?.truncated ?? 0);
  if (truncatedTexts > 0) notes.push(`${truncatedTexts} examples were truncated to ${seqLen} tokens`);
  return {
    train: { ...base, inputs: train.inputs, labels: trainLabels },
    validation: { ...base, inputs: validation.inputs, labels: validationLabels },
    ...(test && testLabels ? { test: { ...base, inputs: test.inputs, labels: testLabels } } : {}),
    classNames,
    vocabulary,
    truncatedTexts,
    notes,
  };
}
