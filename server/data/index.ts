// The data layer's public surface; nothing else under server/data is imported from outside.

import type { ExampleSet } from '../engine/tf-free.js';
import { BUILTIN_DATASET_NAMES, loadBuiltin, type BuiltinDatasetName, type BuiltinOptions, type SplitName } from './builtin.js';
import { ServiceError } from '../common/errors.js';
import { countClasses } from './example-set.js';
import { splitExamples, splitsOf, type DatasetRegistry, type DatasetSplit } from './registry.js';

export type DatasetRef =
  | { readonly builtin: BuiltinDatasetName; readonly split: SplitName }
  | { readonly tenant: string; readonly datasetId: string; readonly split: DatasetSplit };

export interface LoadOptions extends BuiltinOptions {
  /** Needed for `datasetId` refs. */
  readonly registry?: DatasetRegistry;
}

export interface LoadedDataset {
  readonly examples: ExampleSet;
  readonly classNames: readonly string[];
  /** Examples per class id in this split. */
  readonly classCounts: readonly number[];
  /** Present for registered datasets. */
  readonly contentHash?: string;
}

const BUILTIN_SPLITS: readonly string[] = ['train', 'validation'];
const SPLITS: readonly string[] = ['train', 'validation', 'test'];

/** Loads one split of a built-in or registered dataset. */
export async function loadDataset(ref: DatasetRef, options: LoadOptions = {}): Promise<LoadedDataset> {
  const known = 'builtin' in ref ? BUILTIN_SPLITS : SPLITS;
  if (!known.includes(ref.split)) {
    throw ServiceError.invalidArgument('unknown split', [
      {
        field: 'split',
        description: `must be ${known.map((name) => JSON.stringify(name)).join(' or ')}, got ${JSON.stringify(ref.split)}`,
      },
    ]);
  }
  if ('builtin' in ref) {
    if (!BUILTIN_DATASET_NAMES.includes(ref.builtin)) {
      throw ServiceError.invalidArgument('unknown built-in dataset', [
        { field: 'builtin', description: `must be one of ${BUILTIN_DATASET_NAMES.join(', ')}, got ${JSON.stringify(ref.builtin)}` },
      ]);
    }
    const examples = await loadBuiltin(ref.builtin, ref.split, options);
    return {
      examples,
      classNames: examples.classNames ?? [],
      classCounts: countClasses(examples.labels, examples.numClasses),
    };
  }
  if (!options.registry) throw new Error('loadDataset: a datasetId ref needs options.registry');
  const dataset = await options.registry.get(ref.tenant, ref.datasetId);
  const examples = splitExamples(dataset, ref.split);
  if (examples === undefined) throw missingSplit(dataset.id, ref.split, splitsOf(dataset), 'split');
  return {
    examples,
    classNames: dataset.classNames,
    classCounts: countClasses(examples.labels, examples.numClasses),
    contentHash: dataset.contentHash,
  };
}

/** INVALID_ARGUMENT naming `field`: a split (test) the dataset was registered without. */
export function missingSplit(datasetId: string, split: DatasetSplit, has: readonly DatasetSplit[], field: string): ServiceError {
  return ServiceError.invalidArgument(`dataset ${datasetId} has no ${split} split`, [
    { field, description: `${datasetId} has no ${split} split (it has ${has.join(', ')}); register it with one, or name another split` },
  ]);
}

export { BUILTIN_DATASET_NAMES, FASHION_MNIST_CLASS_NAMES, MNIST_CLASS_NAMES } from './builtin.js';
export type { BuiltinDatasetName, BuiltinOptions, SplitName } from './builtin.js';
export { applyImbalance, imbalancedClassCounts } from './imbalance.js';
export type { ImbalanceKind, ImbalanceSpec } from './imbalance.js';
export { InMemoryDatasetRegistry, readDatasetContent, splitExamples, splitsOf } from './registry.js';
export type {
  DatasetContent,
  DatasetSplit,
  DatasetRegistration,
  DatasetRegistry,
  DatasetReport,
  RegisteredDataset,
  RegistrationResult,
  RegistryOptions,
  SplitSummary,
} from './registry.js';
export type { DatasetFormat, DatasetSource, IdxFiles, IdxSource, TabularSource } from './source.js';
export type { FolderRef, ImageFolderSource, ImageShape } from './image-folder.js';
export { hashDatasetContent, hashExampleSet } from './content-hash.js';
export type { FileRef } from './confined-file.js';
export type { TextOptions } from './assemble.js';
export { DEFAULT_DATA_LIMITS } from './limits.js';
export { LineLengthGuard, lineTooLong } from './line-limit.js';
export type { DataLimits } from './limits.js';
export { datasetNotFound, datasetUnavailable } from './errors.js';
export { encodeTexts, Vocabulary } from './tokenizer.js';
export type { TextExample } from './tokenizer.js';
export { FileFeatureCache, FileVectorCache, vocabularyKey } from './features-cache.js';
export {
  DEFAULT_MODEL_MAX_BYTES,
  gloveFileChunks,
  readHfCheckpointFiles,
  readLayersModelFiles,
  WINK_GLOVE_SOURCE,
} from './pretrained-files.js';
export type { HfCheckpointFiles, LayersModelFiles, PretrainedFileOptions } from './pretrained-files.js';
