// Image-folder reader: one sub-directory per class (its name is the class name) holding PNG
// or JPEG files; every image becomes one example's pixel values in [0, 1] (image-decode.ts).
// Classes are the folder names sorted by code units (or options' declared names), images
// within a class are taken in file-name order, so ids and the content hash do not depend on
// the file system. Sizes: with `imageSize` every image is resized to imageSize x imageSize;
// without it an image whose size differs from the first one's is rejected (silently
// stretching mixed shapes would hide a broken export). Every problem is collected, then the
// whole dataset is rejected: nothing is returned partially.
import path from 'node:path';

import type { ExampleSet } from '../engine/tf-free.js';
import type { AssembledDataset } from './assemble.js';
import { listConfinedDirectory, readConfinedFile } from './confined-file.js';
import type { ViolationCollector } from './errors.js';
import { countClasses, selectExamples, splitPerClass } from './example-set.js';
import { type DecodedImage, decodeImage, imageValues } from './image-decode.js';
import type { DataLimits } from './limits.js';

/** A folder under the data root, or uploaded files keyed `<class>/<file name>`. */
export type FolderRef = { readonly path: string } | { readonly files: ReadonlyMap<string, Uint8Array> };

export interface ImageFolderSource {
  readonly format: 'image_folder';
  readonly train: FolderRef;
  readonly validation?: FolderRef;
  /** Held-out images that are only ever reported on. */
  readonly test?: FolderRef;
  readonly classNames?: readonly string[];
  readonly validationFraction?: number;
  /** Resize every image to imageSize x imageSize; absent: all images must share the first one's size. */
  readonly imageSize?: number;
  /** RGB channels last; default grayscale. */
  readonly color?: boolean;
}

export interface ImageShape {
  readonly height: number;
  readonly width: number;
  readonly channels: 1 | 3;
}

interface ImageFile {
  readonly className: string;
  /** `<class>/<file name>`: names the file in violations. */
  readonly relative: string;
  readonly bytes: Uint8Array;
}

interface FolderContext {
  readonly dataRoot?: string;
  readonly limits: DataLimits;
  readonly violations: ViolationCollector;
  readonly ignored: string[];
}

const IMAGE_EXTENSION = /\.(png|jpe?g)$/i;
const fileField = (prefix: string, relative: string): string => `${prefix}files[${JSON.stringify(relative)}]`;

async function filesOnDisk(folder: string, prefix: string, context: FolderContext): Promise<ImageFile[]> {
  const { dataRoot, limits, violations } = context;
  const top = await listConfinedDirectory(folder, dataRoot, `${prefix}path`, violations);
  if (top === undefined) return [];
  const files: ImageFile[] = [];
  let totalBytes = 0;
  for (const classEntry of top) {
    if (!classEntry.directory) {
      context.ignored.push(classEntry.name);
      continue;
    }
    const entries = await listConfinedDirectory(
      path.join(folder, classEntry.name),
      dataRoot,
      fileField(prefix, `${classEntry.name}/`),
      violations,
    );
    for (const entry of entries ?? []) {
      const relative = `${classEntry.name}/${entry.name}`;
      if (entry.directory || !IMAGE_EXTENSION.test(entry.name)) {
        context.ignored.push(relative);
        continue;
      }
      if (files.length >= limits.maxRows) {
        violations.add(`${prefix}path`, `holds more than ${limits.maxRows} images (the limit)`);
        return files;
      }
      const bytes = await readConfinedFile(
        { path: path.join(folder, relative) },
        dataRoot,
        limits,
        fileField(prefix, relative),
        violations,
      );
      if (bytes === undefined) continue;
      totalBytes += bytes.byteLength;
      if (totalBytes > limits.maxBytes) {
        violations.add(`${prefix}path`, `images add up to more than ${limits.maxBytes} bytes (the limit)`);
        return files;
      }
      files.push({ className: classEntry.name, relative, bytes });
    }
    if (entries !== undefined && !files.some((file) => file.className === classEntry.name)) {
      violations.add(fileField(prefix, `${classEntry.name}/`), 'class folder holds no PNG or JPEG images');
    }
  }
  return files;
}

function filesUploaded(uploaded: ReadonlyMap<string, Uint8Array>, prefix: string, context: FolderContext): ImageFile[] {
  const { limits, violations } = context;
  const files: ImageFile[] = [];
  let totalBytes = 0;
  const names = [...uploaded.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const relative of names) {
    const parts = relative.split('/');
    const [className = '', fileName = ''] = parts;
    if (parts.length !== 2 || className === '' || fileName === '' || className.startsWith('.')) {
      violations.add(fileField(prefix, relative), 'must be named <class>/<image file>');
      continue;
    }
    if (fileName.startsWith('.') || !IMAGE_EXTENSION.test(fileName)) {
      context.ignored.push(relative);
      continue;
    }
    const bytes = uploaded.get(relative) ?? new Uint8Array();
    totalBytes += bytes.byteLength;
    if (files.length >= limits.maxRows || totalBytes > limits.maxBytes) {
      violations.add(`${prefix}files`, `more than ${limits.maxRows} images or ${limits.maxBytes} bytes (the limits)`);
      break;
    }
    files.push({ className, relative, bytes });
  }
  return files;
}

interface DecodedSplit {
  readonly values: Float32Array[];
  readonly classNames: readonly string[];
}

/** Decodes in order; the first decoded image fixes the shape when images are not resized. */
function decodeAll(
  files: readonly ImageFile[],
  prefix: string,
  source: ImageFolderSource,
  shape: { value?: ImageShape & { from: string } },
  context: FolderContext,
): DecodedSplit {
  const { violations, limits } = context;
  const values: Float32Array[] = [];
  const classNames: string[] = [];
  const channels = source.color === true ? 3 : 1;
  for (const file of files) {
    let decoded: DecodedImage;
    try {
      decoded = decodeImage(file.bytes);
    } catch (error) {
      violations.add(
        fileField(prefix, file.relative),
        `cannot be read as an image: ${error instanceof Error ? error.message : String(error)}`,
      );
      continue;
    }
    const height = source.imageSize ?? decoded.height;
    const width = source.imageSize ?? decoded.width;
    if (shape.value === undefined) {
      if (height * width * channels > limits.maxFeatureDim) {
        violations.add(
          fileField(prefix, file.relative),
          `${width}x${height}x${channels} is over the ${limits.maxFeatureDim}-value limit: set options.image_size`,
        );
        return { values, classNames };
      }
      shape.value = { height, width, channels, from: file.relative };
    } else if (shape.value.height !== height || shape.value.width !== width) {
      violations.add(
        fileField(prefix, file.relative),
        `is ${decoded.width}x${decoded.height}, but ${shape.value.from} is ${shape.value.width}x${shape.value.height}: set options.image_size to resize every image`,
      );
      continue;
    }
    values.push(imageValues(decoded, channels === 3, source.imageSize));
    classNames.push(file.className);
  }
  return { values, classNames };
}

function toExampleSet(split: DecodedSplit, classIds: ReadonlyMap<string, number>, dim: number, classNames: readonly string[]): ExampleSet {
  const values = new Float32Array(split.values.length * dim);
  split.values.forEach((row, index) => values.set(row, index * dim));
  const labels = Int32Array.from(split.classNames, (name) => classIds.get(name) ?? 0);
  return { inputs: { kind: 'features', values, dim }, labels, numClasses: classNames.length, classNames };
}

function resolveClasses(
  trainFiles: readonly ImageFile[],
  declared: readonly string[] | undefined,
  violations: ViolationCollector,
): string[] {
  const folders = [...new Set(trainFiles.map((file) => file.className))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (declared === undefined) return folders;
  for (const folder of folders) {
    if (!declared.includes(folder))
      violations.add(fileField('', `${folder}/`), `folder ${JSON.stringify(folder)} is not one of classNames`);
  }
  declared.forEach((name, index) => {
    if (!folders.includes(name))
      violations.add(`classNames[${index}]`, `class ${JSON.stringify(name)} has no training images (no such folder)`);
  });
  return [...declared];
}

export async function readImageFolder(
  source: ImageFolderSource,
  context: { dataRoot?: string; limits: DataLimits },
  violations: ViolationCollector,
): Promise<AssembledDataset & { imageShape: ImageShape }> {
  const folderContext: FolderContext = { ...context, violations, ignored: [] };
  const collect = (ref: FolderRef, prefix: string): Promise<ImageFile[]> | ImageFile[] =>
    'files' in ref ? filesUploaded(ref.files, prefix, folderContext) : filesOnDisk(ref.path, prefix, folderContext);
  const trainFiles = await collect(source.train, '');
  const validationFiles = source.validation === undefined ? undefined : await collect(source.validation, 'validation.');
  const testFiles = source.test === undefined ? undefined : await collect(source.test, 'test.');
  const fraction = source.validationFraction ?? 0.2;
  if (!(fraction >= 0 && fraction < 1)) violations.add('validationFraction', `must be in [0, 1), got ${fraction}`);
  if (source.imageSize !== undefined && !(Number.isInteger(source.imageSize) && source.imageSize >= 1 && source.imageSize <= 1024)) {
    violations.add('imageSize', `must be an integer in [1, 1024], got ${source.imageSize}`);
  }
  violations.throwIfAny('dataset rejected');
  const classNames = resolveClasses(trainFiles, source.classNames, violations);
  if (classNames.length < 2)
    violations.add(source.classNames ? 'classNames' : 'path', `a classifier needs at least 2 classes, got ${classNames.length}`);
  for (const [files, prefix] of [
    [validationFiles, 'validation.'],
    [testFiles, 'test.'],
  ] as const) {
    for (const file of files ?? []) {
      if (!classNames.includes(file.className))
        violations.add(fileField(prefix, `${file.className}/`), `${JSON.stringify(file.className)} is not a training class`);
    }
  }
  violations.throwIfAny('dataset rejected');

  const shape: { value?: ImageShape & { from: string } } = {};
  const decodedTrain = decodeAll(trainFiles, '', source, shape, folderContext);
  const decodedValidation =
    validationFiles === undefined ? undefined : decodeAll(validationFiles, 'validation.', source, shape, folderContext);
  const decodedTest = testFiles === undefined ? undefined : decodeAll(testFiles, 'test.', source, shape, folderContext);
  violations.throwIfAny('dataset rejected');
  const { height, width, channels } = shape.value ?? { height: 0, width: 0, channels: 1 };
  const dim = height * width * channels;
  const classIds = new Map(classNames.map((name, id) => [name, id]));
  let train = toExampleSet(decodedTrain, classIds, dim, classNames);
  let validation: ExampleSet;
  if (decodedValidation === undefined) {
    const split = splitPerClass(train.labels, classNames.length, fraction);
    validation = selectExamples(train, split.validation);
    train = selectExamples(train, split.train);
  } else {
    validation = toExampleSet(decodedValidation, classIds, dim, classNames);
  }
  const notes: string[] = [];
  const validationCounts = countClasses(validation.labels, classNames.length);
  const missing = classNames.filter((_, id) => validationCounts[id] === 0);
  if (missing.length > 0) notes.push(`validation split has no examples of: ${missing.join(', ')}`);
  const test = decodedTest === undefined ? undefined : toExampleSet(decodedTest, classIds, dim, classNames);
  if (test !== undefined) {
    const testCounts = countClasses(test.labels, classNames.length);
    const missingInTest = classNames.filter((_, id) => testCounts[id] === 0);
    if (missingInTest.length > 0) notes.push(`test split has no examples of: ${missingInTest.join(', ')}`);
  }
  if (source.imageSize !== undefined) notes.push(`images resized to ${source.imageSize}x${source.imageSize}`);
  if (folderContext.ignored.length > 0) {
    const shown = folderContext.ignored.slice(0, 5).join(', ');
    notes.push(`ignored ${folderContext.ignored.length} non-image entries: ${shown}${folderContext.ignored.length > 5 ? ', ...' : ''}`);
  }
  return {
    train,
    validation,
    ...(test === undefined ? {} : { test }),
    classNames,
    truncatedTexts: 0,
    notes,
    imageShape: { height, width, channels },
  };
}
