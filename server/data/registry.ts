// The dataset registry: validates a source once, fingerprints it, and keeps the built splits
// for jobs to load by id. In memory for now; the durability issue adds a SQLite
// implementation of the same interface.

import type { ExampleSet } from '../engine/types.js';
import { hashDatasetContent } from './content-hash.js';
import { DatasetNotFoundError } from './errors.js';
import { countClasses } from './example-set.js';
import { resolveLimits, type DataLimits } from './limits.js';
import { readDatasetSource, type DatasetSource } from './source.js';
import type { Vocabulary } from './tokenizer.js';

export interface SplitSummary {
  readonly numExamples: number;
  /** Examples per class id. */
  readonly classCounts: readonly number[];
}

/** What validation found, for the client: shapes, counts and non-fatal notes. */
export interface DatasetReport {
  readonly inputKind: 'features' | 'tokens';
  /** Features per example ('features'). */
  readonly featureDim?: number;
  /** Tokens per example and vocabulary size ('tokens'). */
  readonly seqLen?: number;
  readonly vocabSize?: number;
  readonly textPairs?: boolean;
  readonly classNames: readonly string[];
  readonly train: SplitSummary;
  readonly validation: SplitSummary;
  readonly truncatedTexts: number;
  /** Non-fatal findings, e.g. classes missing from validation, ignored columns. */
  readonly notes: readonly string[];
}

export interface DatasetRegistration {
  /** Content-addressed: registering the same content again returns the same id. */
  readonly id: string;
  /** sha256 (hex) of the canonical content; see content-hash.ts. */
  readonly contentHash: string;
  readonly classNames: readonly string[];
  /** Training examples per class id. */
  readonly classCounts: readonly number[];
  /** Train plus validation. */
  readonly numExamples: number;
  readonly report: DatasetReport;
}

export interface RegisteredDataset extends DatasetRegistration {
  readonly train: ExampleSet;
  readonly validation: ExampleSet;
  /** Token strings by id, for text datasets (to encode Predict inputs the same way). */
  readonly vocabulary?: Vocabulary;
}

export interface DatasetRegistry {
  /** Validates and stores a source; throws DatasetValidationError listing every violation. */
  register(source: DatasetSource): Promise<DatasetRegistration>;
  /** Throws DatasetNotFoundError for an unknown id. */
  get(id: string): Promise<RegisteredDataset>;
}

export interface RegistryOptions {
  /** Directory that path sources resolve under; without it only uploaded bytes are accepted. */
  readonly dataRoot?: string;
  readonly limits?: Partial<DataLimits>;
}

function summarize(set: ExampleSet): SplitSummary {
  return { numExamples: set.labels.length, classCounts: countClasses(set.labels, set.numClasses) };
}

function registrationOf(stored: RegisteredDataset): DatasetRegistration {
  const { id, contentHash, classNames, classCounts, numExamples, report } = stored;
  return { id, contentHash, classNames, classCounts, numExamples, report };
}

export class InMemoryDatasetRegistry implements DatasetRegistry {
  private readonly datasets = new Map<string, RegisteredDataset>();
  private readonly limits: DataLimits;

  constructor(private readonly options: RegistryOptions = {}) {
    this.limits = resolveLimits(options.limits);
  }

  async register(source: DatasetSource): Promise<DatasetRegistration> {
    const dataset = await readDatasetSource(source, { dataRoot: this.options.dataRoot, limits: this.limits });
    const contentHash = hashDatasetContent(dataset);
    const id = `ds_${contentHash.slice(0, 32)}`;
    const existing = this.datasets.get(id);
    if (existing) return registrationOf(existing);

    const { train, validation, classNames, vocabulary } = dataset;
    const trainSummary = summarize(train);
    const inputs = train.inputs;
    const report: DatasetReport = {
      inputKind: inputs.kind,
      ...(inputs.kind === 'features'
        ? { featureDim: inputs.dim }
        : { seqLen: inputs.seqLen, vocabSize: inputs.vocabSize, textPairs: inputs.segmentIds !== undefined }),
      classNames,
      train: trainSummary,
      validation: summarize(validation),
      truncatedTexts: dataset.truncatedTexts,
      notes: dataset.notes,
    };
    const stored: RegisteredDataset = {
      id,
      contentHash,
      classNames,
      classCounts: trainSummary.classCounts,
      numExamples: train.labels.length + validation.labels.length,
      report,
      train,
      validation,
      ...(vocabulary ? { vocabulary } : {}),
    };
    this.datasets.set(id, stored);
    return registrationOf(stored);
  }

  async get(id: string): Promise<RegisteredDataset> {
    const stored = this.datasets.get(id);
    if (!stored) throw new DatasetNotFoundError(id);
    return stored;
  }
}
