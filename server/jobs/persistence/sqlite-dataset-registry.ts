// The embedded store's dataset registry: registration rows in the jobs database (migration 3),
// contents as files (file-backed-dataset-registry.ts).
import type { Statement } from 'better-sqlite3';
import {
  FileBackedDatasetRegistry,
  type ContentRow,
  type FileBackedRegistryOptions,
  type RegistrationRow,
  type RegistrationRows,
} from './file-backed-dataset-registry.js';
import type { SqliteDatabase } from './sqlite-database.js';
import { writingTo } from '../storage-faults.js';

export { DATASET_CONTENT_DIR } from './file-backed-dataset-registry.js';

const SELECT_REGISTRATION = `
  SELECT r.tenant AS tenant, r.dataset_id AS datasetId, r.display_name AS displayName, r.format AS format,
         r.create_time AS createTime, c.content_hash AS contentHash, c.class_names AS classNames,
         c.class_counts AS classCounts, c.num_examples AS numExamples, c.report AS report, c.content_file AS contentFile
  FROM dataset_registrations r JOIN dataset_contents c ON c.id = r.dataset_id`;

class SqliteRegistrationRows implements RegistrationRows {
  private readonly statements: {
    readonly contentExists: Statement;
    readonly insertContent: Statement;
    readonly insertRegistration: Statement;
    readonly registration: Statement;
    readonly list: Statement;
  };

  constructor(private readonly db: SqliteDatabase) {
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

  async contentExists(id: string): Promise<boolean> {
    return this.statements.contentExists.get(id) !== undefined;
  }

  async insert(
    content: ContentRow,
    registration: { tenant: string; displayName: string; format: string; createTime: number },
  ): Promise<{ row: RegistrationRow; created: boolean }> {
    return writingTo('the dataset registry', () =>
      this.db
        .transaction(() => {
          this.statements.insertContent.run(
            content.id,
            content.contentHash,
            content.classNames,
            content.classCounts,
            content.numExamples,
            content.report,
            content.contentFile,
            content.contentBytes,
          );
          const inserted = this.statements.insertRegistration.run(
            registration.tenant,
            content.id,
            registration.displayName,
            registration.format,
            registration.createTime,
          );
          return {
            row: this.statements.registration.get(registration.tenant, content.id) as RegistrationRow,
            created: inserted.changes === 1,
          };
        })
        .immediate(),
    );
  }

  async get(tenant: string, id: string): Promise<RegistrationRow | undefined> {
    return this.statements.registration.get(tenant, id) as RegistrationRow | undefined;
  }

  async list(tenant: string): Promise<RegistrationRow[]> {
    return this.statements.list.all(tenant) as RegistrationRow[];
  }
}

export class SqliteDatasetRegistry extends FileBackedDatasetRegistry {
  constructor(db: SqliteDatabase, options: FileBackedRegistryOptions) {
    super(new SqliteRegistrationRows(db), options);
  }
}
