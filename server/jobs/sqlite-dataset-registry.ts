// The durable DatasetRegistry of the embedded store: the same contract as the in-memory one,
// with registration metadata as rows of the jobs database (migration 3) and each content's
// examples as one file, <dir>/<id>.bin, so a restarted server still finds what was registered
// and resumes jobs that train on it.
//
// Why files and not BLOBs: a registered dataset may be tens of MB (64 MiB sources by default).
// As a BLOB it would pass through the WAL, which every training step's event also appends to,
// and hold the database's single write lock while it is copied in. A file written atomically
// before its row commits keeps the database small and its commits short; a row never names a
// file that is not durable yet, and a file whose row never committed (a crash in between) is
// just rewritten by the next registration of the same content.
import { readFile } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Statement } from 'better-sqlite3';
import type { ExampleSet } from '../engine/types.js';
import {
  DatasetNotFoundError,
  DatasetUnavailableError,
  hashDatasetContent,
  readDatasetContent,
  Vocabulary,
  type DatasetContent,
  type DatasetFormat,
  type DatasetRegistration,
  type DatasetRegistry,
  type DatasetReport,
  type DatasetSource,
  type RegisteredDataset,
  type RegistrationResult,
  type RegistryOptions,
} from '../data/index.js';
import { writeAtomically } from './atomic-file.js';
import { decodeValue, encodeValue, type SqliteDatabase } from './sqlite-database.js';

/** The folder under the data directory that holds the content files. */
export const DATASET_CONTENT_DIR = 'datasets-store';

/** Decoded contents kept in memory: the datasets that running jobs and recent calls use. */
const CONTENT_CACHE_SIZE = 8;

interface RegistrationRow {
  readonly tenant: string;
  readonly dataset_id: string;
  readonly display_name: string;
  readonly format: string;
  readonly create_time: number;
  readonly content_hash: string;
  readonly class_names: string;
  readonly class_counts: string;
  readonly num_examples: number;
  readonly report: Buffer;
  readonly content_file: string;
}

/** What a content file holds: the splits and vocabulary, v8-serialized (typed arrays kept as they are). */
interface ContentFile {
  readonly version: 1;
  readonly train: ExampleSet;
  readonly validation: ExampleSet;
  readonly vocabulary: readonly string[] | null;
}

type Examples = Pick<RegisteredDataset, 'train' | 'validation' | 'vocabulary'>;

const SELECT_REGISTRATION = `
  SELECT r.tenant, r.dataset_id, r.display_name, r.format, r.create_time, c.content_hash, c.class_names,
         c.class_counts, c.num_examples, c.report, c.content_file
  FROM dataset_registrations r JOIN dataset_contents c ON c.id = r.dataset_id`;

export interface SqliteDatasetRegistryOptions extends RegistryOptions {
  /** Where the content files go: <dataDir>/datasets-store. */
  readonly contentDir: string;
}

export class SqliteDatasetRegistry implements DatasetRegistry {
  private readonly clock: () => number;
  private readonly statements: {
    readonly contentExists: Statement;
    readonly insertContent: Statement;
    readonly insertRegistration: Statement;
    readonly registration: Statement;
    readonly list: Statement;
  };
  /** Insertion-ordered, so the first key is the least recently used. */
  private readonly cache = new Map<string, Promise<Examples>>();

  constructor(private readonly db: SqliteDatabase, private readonly options: SqliteDatasetRegistryOptions) {
    this.clock = options.clock ?? Date.now;
    mkdirSync(options.contentDir, { recursive: true });
    this.statements = {
      contentExists: db.prepare('SELECT 1 FROM dataset_contents WHERE id = ?'),
      insertContent: db.prepare(`INSERT OR IGNORE INTO dataset_contents
        (id, content_hash, class_names, class_counts, num_examples, report, content_file, content_bytes)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
      insertRegistration: db.prepare(`INSERT OR IGNORE INTO dataset_registrations
        (tenant, dataset_id, display_name, format, create_time) VALUES (?, ?, ?, ?, ?)`),
      registration: db.prepare(`${SELECT_REGISTRATION} WHERE r.tenant = ? AND r.dataset_id = ?`),
      list: db.prepare(`${SELECT_REGISTRATION} WHERE r.tenant = ? ORDER BY r.create_time DESC, r.dataset_id ASC`),
    };
  }

  async register(tenant: string, source: DatasetSource, details: { readonly displayName?: string } = {}): Promise<RegistrationResult> {
    const content = await readDatasetContent(source, this.options);
    const file = `${content.id}.bin`;
    let bytes = 0;
    if (this.statements.contentExists.get(content.id) === undefined) {
      const encoded = encodeValue({
        version: 1, train: content.train, validation: content.validation, vocabulary: content.vocabulary?.tokens ?? null,
      } satisfies ContentFile);
      // Durable before the row that names it commits (see the top of this file).
      await writeAtomically(path.join(this.options.contentDir, file), encoded);
      bytes = encoded.byteLength;
    }
    const { row, created } = this.db.transaction(() => {
      // OR IGNORE: a concurrent registration of the same content (or by the same tenant) won.
      this.statements.insertContent.run(
        content.id, content.contentHash, JSON.stringify(content.classNames), JSON.stringify(content.classCounts),
        content.numExamples, encodeValue(content.report), file, bytes,
      );
      const inserted = this.statements.insertRegistration.run(
        tenant, content.id, details.displayName ?? '', source.format, this.clock(),
      );
      return { row: this.statements.registration.get(tenant, content.id) as RegistrationRow, created: inserted.changes === 1 };
    }).immediate();
    if (!this.cache.has(content.id)) this.remember(content.id, Promise.resolve(examplesOf(content)));
    return { ...registrationOf(row), created };
  }

  async get(tenant: string, id: string): Promise<RegisteredDataset> {
    const row = this.statements.registration.get(tenant, id) as RegistrationRow | undefined;
    if (row === undefined) throw new DatasetNotFoundError(id);
    return { ...registrationOf(row), ...(await this.examples(row)) };
  }

  async list(tenant: string): Promise<DatasetRegistration[]> {
    return (this.statements.list.all(tenant) as RegistrationRow[]).map(registrationOf);
  }

  private examples(row: RegistrationRow): Promise<Examples> {
    const cached = this.cache.get(row.dataset_id);
    if (cached !== undefined) {
      this.remember(row.dataset_id, cached);
      return cached;
    }
    const loading = this.load(row);
    // A failed read is not cached: the next call tries the file again.
    loading.catch(() => {
      if (this.cache.get(row.dataset_id) === loading) this.cache.delete(row.dataset_id);
    });
    this.remember(row.dataset_id, loading);
    return loading;
  }

  private async load(row: RegistrationRow): Promise<Examples> {
    let stored: ContentFile;
    try {
      stored = decodeValue<ContentFile>(await readFile(path.join(this.options.contentDir, row.content_file)));
    } catch (error) {
      throw new DatasetUnavailableError(`the stored content of dataset ${row.dataset_id} cannot be read (${String(error)}); register it again`);
    }
    const examples: Examples = {
      train: stored.train,
      validation: stored.validation,
      ...(stored.vocabulary === null ? {} : { vocabulary: new Vocabulary(stored.vocabulary) }),
    };
    // The hash names the content jobs and caches rely on: a damaged or swapped file must not pass for it.
    const hash = hashDatasetContent({ classNames: decodeNames(row), ...examples });
    if (hash !== row.content_hash) {
      throw new DatasetUnavailableError(`the stored content of dataset ${row.dataset_id} does not match its hash; register it again`);
    }
    return examples;
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
  return JSON.parse(row.class_names) as string[];
}

function examplesOf(content: DatasetContent): Examples {
  const { train, validation, vocabulary } = content;
  return { train, validation, ...(vocabulary === undefined ? {} : { vocabulary }) };
}

function registrationOf(row: RegistrationRow): DatasetRegistration {
  return {
    id: row.dataset_id,
    contentHash: row.content_hash,
    displayName: row.display_name,
    format: row.format as DatasetFormat,
    classNames: decodeNames(row),
    classCounts: JSON.parse(row.class_counts) as number[],
    numExamples: row.num_examples,
    report: decodeValue<DatasetReport>(row.report),
    createTime: row.create_time,
  };
}
