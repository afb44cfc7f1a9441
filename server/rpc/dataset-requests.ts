// Dataset requests (wire) → the data layer's DatasetSource: format, split files and options
// checked field by field (proto paths), defaults applied by the data layer. Also renames the
// data layer's violation fields to the request's, so BadRequest names what the caller sent.
import { DatasetFormat as WireDatasetFormat, type DatasetFiles, type DatasetOptions } from '../../client/gen/steadytune/v1/dataset.js';
import type { FieldViolation } from '../common/errors.js';
import type { DatasetFormat, DatasetSource, FileRef, FolderRef } from '../data/index.js';
import type { FieldViolations } from './field-violations.js';

export const DATASET_FORMATS: ReadonlyMap<number, DatasetFormat> = new Map([
  [WireDatasetFormat.DATASET_FORMAT_JSONL, 'jsonl'],
  [WireDatasetFormat.DATASET_FORMAT_CSV, 'csv'],
  [WireDatasetFormat.DATASET_FORMAT_IDX, 'idx'],
  [WireDatasetFormat.DATASET_FORMAT_IMAGE_FOLDER, 'image_folder'],
]);

const MAX_CLASS_NAMES = 10_000;
const MAX_NAME_CHARS = 256;
const MAX_PATH_CHARS = 1024;

/** One split's files, whichever way they arrived (paths under the data root or uploaded bytes). */
export interface SplitFiles {
  /** jsonl, csv. */
  readonly file?: FileRef;
  /** idx. */
  readonly images?: FileRef;
  readonly labels?: FileRef;
  /** image_folder. */
  readonly folder?: FolderRef;
}

/** Format from the wire: UNSPECIFIED and unknown numbers are violations. */
export function resolveFormat(v: FieldViolations, format: number, field: string): DatasetFormat | undefined {
  if (format === WireDatasetFormat.DATASET_FORMAT_UNSPECIFIED) {
    v.add(field, 'required: DATASET_FORMAT_JSONL, _CSV, _IDX or _IMAGE_FOLDER');
    return undefined;
  }
  return v.enumValue(field, format, DATASET_FORMATS, 'DatasetFormat');
}

/** RegisterDataset's paths as split files; checks that the format's fields, and only those, are set. */
export function filesFromPaths(v: FieldViolations, format: DatasetFormat | undefined, files: DatasetFiles, field: string): SplitFiles {
  const path = (name: string, value: string): { path: string } => {
    if (value === '') v.add(`${field}.${name}`, `required for ${format} datasets`);
    else if (value.length > MAX_PATH_CHARS) v.add(`${field}.${name}`, `at most ${MAX_PATH_CHARS} characters`);
    return { path: value };
  };
  const unused = (name: string, value: string): void => {
    if (value !== '') v.add(`${field}.${name}`, `does not apply to ${format} datasets`);
  };
  if (format === 'idx') {
    unused('path', files.path);
    return { images: path('images_path', files.imagesPath), labels: path('labels_path', files.labelsPath) };
  }
  unused('images_path', files.imagesPath);
  unused('labels_path', files.labelsPath);
  return format === 'image_folder' ? { folder: path('path', files.path) } : { file: path('path', files.path) };
}

/** Checked options in the data layer's terms (zero values left out: its defaults apply). */
export function resolveOptions(v: FieldViolations, format: DatasetFormat | undefined, options: DatasetOptions | undefined, field: string) {
  const o = options ?? { classNames: [], seqLen: 0, maxVocabSize: 0, minWordCount: 0, imageSize: 0, color: false };
  if (o.classNames.length > MAX_CLASS_NAMES) v.add(`${field}.class_names`, `at most ${MAX_CLASS_NAMES} classes`);
  o.classNames.forEach((name, i) => {
    if (name.length > MAX_NAME_CHARS) v.add(`${field}.class_names[${i}]`, `at most ${MAX_NAME_CHARS} characters`);
  });
  if (o.validationFraction !== undefined) {
    v.real(`${field}.validation_fraction`, o.validationFraction, { min: 0, max: 1, openMax: true });
  }
  const text = format === 'jsonl' || format === 'csv';
  const onlyFor = (name: string, set: boolean, applies: boolean, what: string): void => {
    if (set && !applies) v.add(`${field}.${name}`, `applies to ${what} only`);
  };
  onlyFor('seq_len', o.seqLen !== 0, text, 'jsonl and csv text');
  onlyFor('max_vocab_size', o.maxVocabSize !== 0, text, 'jsonl and csv text');
  onlyFor('min_word_count', o.minWordCount !== 0, text, 'jsonl and csv text');
  onlyFor('image_size', o.imageSize !== 0, format === 'image_folder', 'DATASET_FORMAT_IMAGE_FOLDER');
  onlyFor('color', o.color, format === 'image_folder', 'DATASET_FORMAT_IMAGE_FOLDER');
  if (o.seqLen !== 0) v.integer(`${field}.seq_len`, o.seqLen, o.seqLen, 3, 4096);
  if (o.maxVocabSize !== 0) v.integer(`${field}.max_vocab_size`, o.maxVocabSize, o.maxVocabSize, 5, 1_000_000);
  if (o.imageSize !== 0) v.integer(`${field}.image_size`, o.imageSize, o.imageSize, 1, 1024);
  return {
    ...(o.classNames.length === 0 ? {} : { classNames: [...o.classNames] }),
    ...(o.validationFraction === undefined ? {} : { validationFraction: o.validationFraction }),
    text: {
      ...(o.seqLen === 0 ? {} : { seqLen: o.seqLen }),
      ...(o.maxVocabSize === 0 ? {} : { maxVocabSize: o.maxVocabSize }),
      ...(o.minWordCount === 0 ? {} : { minWordCount: o.minWordCount }),
    },
    ...(o.imageSize === 0 ? {} : { imageSize: o.imageSize }),
    color: o.color,
  };
}

type ResolvedOptions = ReturnType<typeof resolveOptions>;

/** The splits of a registration: train, and optionally validation (else held out) and test. */
export interface DatasetSplitFiles {
  readonly train: SplitFiles;
  readonly validation?: SplitFiles;
  readonly test?: SplitFiles;
}

/** The data layer's source; call only once the format and files had no violations. */
export function datasetSource(format: DatasetFormat, splits: DatasetSplitFiles, options: ResolvedOptions): DatasetSource {
  const { text, imageSize, color, ...common } = options;
  const need = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('datasetSource: a split lacks the files its format needs');
    return value;
  };
  /** The optional splits, each mapped as `files` maps its files. */
  const optional = <T>(files: (split: SplitFiles) => T): { validation?: T; test?: T } => ({
    ...(splits.validation ? { validation: files(splits.validation) } : {}),
    ...(splits.test ? { test: files(splits.test) } : {}),
  });
  switch (format) {
    case 'jsonl':
    case 'csv':
      return { format, train: need(splits.train.file), ...optional((split) => need(split.file)), ...common, text };
    case 'idx': {
      const idxFiles = (split: SplitFiles) => ({ images: need(split.images), labels: need(split.labels) });
      return { format, train: idxFiles(splits.train), ...optional(idxFiles), ...common };
    }
    case 'image_folder':
      return {
        format,
        train: need(splits.train.folder),
        ...optional((split) => need(split.folder)),
        ...common,
        ...(imageSize === undefined ? {} : { imageSize }),
        color,
      };
  }
}

const OPTION_FIELDS: ReadonlyArray<[RegExp, string]> = [
  [/^classNames(.*)$/, 'options.class_names$1'],
  [/^validationFraction$/, 'options.validation_fraction'],
  [/^text\.seqLen$/, 'options.seq_len'],
  [/^imageSize$/, 'options.image_size'],
];

/** Data-layer field → RegisterDatasetRequest field (rows keep their row and column names). */
export const REGISTER_FIELDS: ReadonlyArray<[RegExp, string]> = [
  [/^path$/, 'train.path'],
  [/^(images|labels)\.path$/, 'train.$1_path'],
  [/^validation\.(images|labels)\.path$/, 'validation.$1_path'],
  [/^test\.(images|labels)\.path$/, 'test.$1_path'],
  [/^files\[/, 'train.files['],
  ...OPTION_FIELDS,
];

/** Data-layer field → uploaded file name (UploadChunk.file) or header option. */
export const UPLOAD_FIELDS: ReadonlyArray<[RegExp, string]> = [
  [/^path$/, 'files["train"]'],
  [/^validation\.path$/, 'files["validation"]'],
  [/^test\.path$/, 'files["test"]'],
  [/^(images|labels)\.path$/, 'files["train/$1"]'],
  [/^validation\.(images|labels)\.path$/, 'files["validation/$1"]'],
  [/^test\.(images|labels)\.path$/, 'files["test/$1"]'],
  [/^files\["(.*)$/, 'files["train/$1'],
  [/^validation\.files\["(.*)$/, 'files["validation/$1'],
  [/^test\.files\["(.*)$/, 'files["test/$1'],
  ...OPTION_FIELDS.map(([pattern, to]): [RegExp, string] => [pattern, `header.${to}`]),
];

export function renameFields(violations: readonly FieldViolation[], rules: ReadonlyArray<[RegExp, string]>): FieldViolation[] {
  return violations.map(({ field, description }) => {
    const rule = rules.find(([pattern]) => pattern.test(field));
    return { field: rule === undefined ? field : field.replace(rule[0], rule[1]), description };
  });
}
