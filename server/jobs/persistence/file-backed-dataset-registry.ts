// The durable DatasetRegistry, whatever database holds its rows: registration metadata as rows
// (SQLite in the embedded store, PostgreSQL in scale-out: RegistrationRows) and each content's
// examples as one file, <contentDir>/<id>.bin, so a restarted server, or another pod on the
// shared volume, finds what was registered and can train on it.
//
// Why files and not BLOBs: a registered dataset may be tens of MB (64 MiB sources by default).
// As a BLOB it would pass through the database's log, which every training step's event also
// appends to (SQLite), or through every API pod's connection pool (PostgreSQL). A file written
// atomically before its row commits keeps the database small and its commits short; a row never
// names a file that is not durable yet, and a file whose row never committed (a crash in
// between) is just rewritten by the next registration of the same content.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import {
  datasetNotFound,
  type DatasetContent,
  type DatasetFormat,
  type DatasetRegistration,
  type DatasetRegistry,
  type DatasetReport,
  type DatasetSource,
  type RegisteredDataset,
  type RegistrationResult,
  type RegistryOptions,
} from '../../data/index.js';
import { writeAtomically } from './atomic-file.js';
import type { StoredExamples } from './dataset-content-file.js';
import { sharedDatasetReader, type DatasetReader } from './dataset-reader.js';
import { decodeValue, encodeValue } from './value-codec.js';

/** The folder under the data directory that holds the content files. */
export const DATASET_CONTENT_DIR = 'datasets-store';

/** Decoded contents kept in memory: the datasets that running jobs and recent calls use. */
const CONTENT_CACHE_SIZE = 8;

/** The tenant-independent row of a content, stored once however many tenants register it. */
export interface ContentRow {
  readonly id: string;
  readonly contentHash: string;
  /** JSON arrays. */
  readonly classNames: string;
  readonly classCounts: string;
  readonly numExamples: number;
  /** DatasetReport, v8-serialized. */
  readonly report: Uint8Array;
  readonly contentFile: string;
  /** 0 when this registration found the file already written. */
  readonly contentBytes: number;
}

/** One tenant's registration joined with its content's row, as both databases return it. */
export interface RegistrationRow extends Omit<ContentRow, 'id' | 'contentBytes'> {
  readonly tenant: string;
  readonly datasetId: string;
  readonly displayName: string;
  readonly format: string;
  readonly createTime: number;
}

/** The SQL behind the registry; each database implements it. */
export interface RegistrationRows {
  contentExists(id: string): Promise<boolean>;
  /**
   * Inserts the content row and the tenant's registration, each only if absent (a concurrent
   * registration of the same content, or by the same tenant, may have won), in one transaction.
   */
  insert(
    content: ContentRow,
    registration: { tenant: string; displayName: string; format: string; createTime: number },
  ): Promise<{ readonly row: RegistrationRow; readonly created: boolean }>;
  get(tenant: string, id: string): Promise<RegistrationRow | undefined>;
  /** Newest first, ties by id. */
  list(tenant: string): Promise<RegistrationRow[]>;
}

type Examples = StoredExamples;

export interface FileBackedRegistryOptions extends RegistryOptions {
  /** Where the content files go: <dataDir>/datasets-store. */
  readonly contentDir: string;
  /** Where reading and decoding run (dataset-reader.ts); default: the process's shared reader threads. */
  readonly reader?: DatasetReader;
}

export class FileBackedDatasetRegistry implements DatasetRegistry {
  private readonly clock: () => number;
  private readonly reader: DatasetReader;
  /** Insertion-ordered, so the first key is the least recently used. */
  private readonly cache = new Map<string, Promise<Examples>>();

  constructor(
    private readonly rows: RegistrationRows,
    private readonly options: FileBackedRegistryOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.reader = options.reader ?? sharedDatasetReader();
    mkdirSync(options.contentDir, { recursive: true });
  }

  async register(tenant: string, source: DatasetSource, details: { readonly displayName?: string } = {}): Promise<RegistrationResult> {
    const { content, encoded } = await this.reader.read(source, { dataRoot: this.options.dataRoot, limits: this.options.limits });
    const file = `${content.id}.bin`;
    let bytes = 0;
    // Decided on the file, not only the row: registering again is how a lost or damaged content
    // file (a restored volume, a pod with another data directory) is repaired.
    const stored =
      (await this.rows.contentExists(content.id)) &&
      (await this.readStored(file, content.id, content.classNames, content.contentHash).then(
        () => true,
        () => false,
      ));
    if (!stored) {
      // Durable before the row that names it commits (see the top of this file).
      await writeAtomically(path.join(this.options.contentDir, file), encoded, "the dataset's content");
      bytes = encoded.byteLength;
    }
    const { row, created } = await this.rows.insert(
      {
        id: content.id,
        contentHash: content.contentHash,
        classNames: JSON.stringify(content.classNames),
        classCounts: JSON.stringify(content.classCounts),
        numExamples: content.numExamples,
        report: encodeValue(content.report),
        contentFile: file,
        contentBytes: bytes,
      },
      { tenant, displayName: details.displayName ?? '', format: source.format, createTime: this.clock() },
    );
    if (!this.cache.has(content.id)) this.remember(content.id, Promise.resolve(examplesOf(content)));
    return { ...registrationOf(row), created };
  }

  async get(tenant: string, id: string): Promise<RegisteredDataset> {
    const row = await this.rows.get(tenant, id);
    if (row === undefined) throw datasetNotFound(id);
    return { ...registrationOf(row), ...(await this.examples(row)) };
  }

  async list(tenant: string): Promise<DatasetRegistration[]> {
    return (await this.rows.list(tenant)).map(registrationOf);
  }

  private examples(row: RegistrationRow): Promise<Examples> {
    const cached = this.cache.get(row.datasetId);
    if (cached !== undefined) {
      this.remember(row.datasetId, cached);
      return cached;
    }
    const loading = this.load(row);
    // A failed read is not cached: the next call tries the file again.
    loading.catch(() => {
      if (this.cache.get(row.datasetId) === loading) this.cache.delete(row.datasetId);
    });
    this.remember(row.datasetId, loading);
    return loading;
  }

  private load(row: RegistrationRow): Promise<Examples> {
    return this.readStored(row.contentFile, row.datasetId, decodeNames(row), row.contentHash);
  }

  private readStored(file: string, datasetId: string, classNames: readonly string[], contentHash: string): Promise<Examples> {
    return this.reader.load({ file: path.join(this.options.contentDir, file), datasetId, classNames, contentHash });
  }

  private remember(id: string, examples: Promise<Examples>): void {
    this.cache.delete(id);
    this.cache.set(id, examples);
    for (const oldest of this.cache.keys()) {
      if (this.cache.size <= CONTENT_CACHE_SIZE) break;
      this.cache.delete(oldest);
    }
  }
}

function decodeNames(row: RegistrationRow): string[] {
  return JSON.parse(row.classNames) as string[];
}

function examplesOf(content: DatasetContent): Examples {
  const { train, validation, test, vocabulary } = content;
  return { train, validation, ...(test === undefined ? {} : { test }), ...(vocabulary === undefined ? {} : { vocabulary }) };
}

function registrationOf(row: RegistrationRow): DatasetRegistration {
  return {
    id: row.datasetId,
    contentHash: row.contentHash,
    displayName: row.displayName,
    format: row.format as DatasetFormat,
    classNames: decodeNames(row),
    classCounts: JSON.parse(row.classCounts) as number[],
    numExamples: row.numExamples,
    report: decodeValue<DatasetReport>(row.report),
    createTime: row.createTime,
  };
}
