// The dataset registry: validates a source once, fingerprints it, and keeps the built splits
// for jobs to load by id, per tenant. This file holds the contract, the read-and-fingerprint
// step every implementation shares, and the in-memory one; the durable one (SQLite rows plus
// content files) lives with the embedded store in jobs/.

import type { ExampleSet } from '../engine/tf-free.js';
import { hashDatasetContent } from './content-hash.js';
import { datasetNotFound } from './errors.js';
import { countClasses } from './example-set.js';
import { resolveLimits, type DataLimits } from './limits.js';
import type { AssembledDataset } from './assemble.js';
import { readDatasetSource, type DatasetFormat, type DatasetSource } from './source.js';
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
  /** Image folders: the stored image shape. */
  readonly imageShape?: { readonly height: number; readonly width: number; readonly channels: 1 | 3 };
  readonly classNames: readonly string[];
  readonly train: SplitSummary;
  readonly validation: SplitSummary;
  /** Present when the dataset has a test split. */
  readonly test?: SplitSummary;
  readonly truncatedTexts: number;
  /** Non-fatal findings, e.g. classes missing from validation, ignored columns. */
  readonly notes: readonly string[];
}

export interface DatasetRegistration {
  /** Content-addressed: registering the same content again returns the same id. */
  readonly id: string;
  /** sha256 (hex) of the canonical content; see content-hash.ts. */
  readonly contentHash: string;
  /** The caller's name for it (the first registration's, for repeated content). */
  readonly displayName: string;
  readonly format: DatasetFormat;
  readonly classNames: readonly string[];
  /** Training examples per class id. */
  readonly classCounts: readonly number[];
  /** Train plus validation. */
  readonly numExamples: number;
  readonly report: DatasetReport;
  /** Epoch milliseconds of the tenant's first registration of this content. */
  readonly createTime: number;
}

export interface RegistrationResult extends DatasetRegistration {
  /** False when the tenant had already registered the same content. */
  readonly created: boolean;
}

/** The splits a dataset may have: every dataset has train and validation, some have test. */
export type DatasetSplit = 'train' | 'validation' | 'test';

export interface RegisteredDataset extends DatasetRegistration {
  readonly train: ExampleSet;
  readonly validation: ExampleSet;
  /** Only ever reported on: never trained on, and never behind a choice. */
  readonly test?: ExampleSet;
  /** Token strings by id, for text datasets (to encode Predict inputs the same way). */
  readonly vocabulary?: Vocabulary;
}

/** Every method is tenant-scoped: another tenant's dataset is not found. */
export interface DatasetRegistry {
  /** Validates and stores a source; throws INVALID_ARGUMENT listing every violation. */
  register(tenant: string, source: DatasetSource, details?: { readonly displayName?: string }): Promise<RegistrationResult>;
  /** Throws NOT_FOUND for an unknown id, or one of another tenant. */
  get(tenant: string, id: string): Promise<RegisteredDataset>;
  /** The tenant's datasets, newest first. */
  list(tenant: string): Promise<DatasetRegistration[]>;
}

export interface RegistryOptions {
  /** Directory that path sources resolve under; without it only uploaded bytes are accepted. */
  readonly dataRoot?: string;
  readonly limits?: Partial<DataLimits>;
  /** Epoch milliseconds; default Date.now. */
  readonly clock?: () => number;
}

/** The tenant-independent part of a registration: stored once per content, however many register it. */
export type DatasetContent = Omit<RegisteredDataset, 'displayName' | 'format' | 'createTime'>;

interface TenantEntry {
  readonly displayName: string;
  readonly format: DatasetFormat;
  readonly createTime: number;
}

function summarize(set: ExampleSet): SplitSummary {
  return { numExamples: set.labels.length, classCounts: countClasses(set.labels, set.numClasses) };
}

function reportOf(dataset: AssembledDataset): DatasetReport {
  const inputs = dataset.train.inputs;
  return {
    inputKind: inputs.kind,
    ...(inputs.kind === 'features'
      ? { featureDim: inputs.dim }
      : { seqLen: inputs.seqLen, vocabSize: inputs.vocabSize, textPairs: inputs.segmentIds !== undefined }),
    ...(dataset.imageShape === undefined ? {} : { imageShape: dataset.imageShape }),
    classNames: dataset.classNames,
    train: summarize(dataset.train),
    validation: summarize(dataset.validation),
    ...(dataset.test === undefined ? {} : { test: summarize(dataset.test) }),
    truncatedTexts: dataset.truncatedTexts,
    notes: dataset.notes,
  };
}

/** Reads, validates and fingerprints a source: the work every registry does before it stores anything. */
export async function readDatasetContent(source: DatasetSource, options: RegistryOptions = {}): Promise<DatasetContent> {
  const dataset = await readDatasetSource(source, { dataRoot: options.dataRoot, limits: resolveLimits(options.limits) });
  const contentHash = hashDatasetContent(dataset);
  const { train, validation, test, classNames, vocabulary } = dataset;
  const report = reportOf(dataset);
  return {
    id: datasetIdOf(contentHash),
    contentHash,
    classNames,
    classCounts: report.train.classCounts,
    report,
    train,
    validation,
    ...(test === undefined ? {} : { test }),
    numExamples: train.labels.length + validation.labels.length,
    ...(vocabulary ? { vocabulary } : {}),
  };
}

/** The splits a dataset has, in their canonical order. */
export function splitsOf(dataset: Pick<RegisteredDataset, 'test'>): DatasetSplit[] {
  return dataset.test === undefined ? ['train', 'validation'] : ['train', 'validation', 'test'];
}

/** One split's examples; undefined for a test split the dataset lacks. */
export function splitExamples(
  dataset: Pick<RegisteredDataset, 'train' | 'validation' | 'test'>,
  split: DatasetSplit,
): ExampleSet | undefined {
  return split === 'train' ? dataset.train : split === 'validation' ? dataset.validation : dataset.test;
}

/** Content-addressed ids: the same content gets the same id on every server. */
function datasetIdOf(contentHash: string): string {
  return `ds_${contentHash.slice(0, 32)}`;
}

function registrationOf(content: DatasetContent, entry: TenantEntry): DatasetRegistration {
  const { id, contentHash, classNames, classCounts, numExamples, report } = content;
  return { id, contentHash, classNames, classCounts, numExamples, report, ...entry };
}

/**
 * Content is stored once however many tenants register it; each tenant sees only the ids it
 * registered itself. In memory: registrations do not survive a restart.
 */
export class InMemoryDatasetRegistry implements DatasetRegistry {
  private readonly contents = new Map<string, DatasetContent>();
  private readonly tenants = new Map<string, Map<string, TenantEntry>>();
  private readonly clock: () => number;

  constructor(private readonly options: RegistryOptions = {}) {
    this.clock = options.clock ?? Date.now;
  }

  async register(tenant: string, source: DatasetSource, details: { readonly displayName?: string } = {}): Promise<RegistrationResult> {
    const read = await readDatasetContent(source, this.options);
    const { id } = read;
    // Repeated content keeps the first copy, so every tenant's splits are the same objects.
    const content = this.contents.get(id) ?? read;
    this.contents.set(id, content);
    const entries = this.tenants.get(tenant) ?? new Map<string, TenantEntry>();
    this.tenants.set(tenant, entries);
    const existing = entries.get(id);
    if (existing !== undefined) return { ...registrationOf(content, existing), created: false };
    const entry: TenantEntry = { displayName: details.displayName ?? '', format: source.format, createTime: this.clock() };
    entries.set(id, entry);
    return { ...registrationOf(content, entry), created: true };
  }

  async get(tenant: string, id: string): Promise<RegisteredDataset> {
    const entry = this.tenants.get(tenant)?.get(id);
    const content = this.contents.get(id);
    if (entry === undefined || content === undefined) throw datasetNotFound(id);
    return { ...content, ...entry };
  }

  async list(tenant: string): Promise<DatasetRegistration[]> {
    const entries = [...(this.tenants.get(tenant) ?? new Map<string, TenantEntry>())];
    return entries
      .flatMap(([id, entry]) => {
        const content = this.contents.get(id);
        return content === undefined ? [] : [registrationOf(content, entry)];
      })
      .sort((a, b) => b.createTime - a.createTime || (a.id < b.id ? -1 : 1));
  }
}
