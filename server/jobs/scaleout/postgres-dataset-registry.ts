// The scale-out dataset registry: registration rows in the shared PostgreSQL (migration 2),
// contents as files on the shared volume (file-backed-dataset-registry.ts). A dataset one API
// pod registered is visible to every other API pod, and the worker pod that trains on it reads
// the same file.
import type { Pool } from 'pg';
import {
  FileBackedDatasetRegistry,
  type ContentRow,
  type FileBackedRegistryOptions,
  type RegistrationRow,
  type RegistrationRows,
} from '../persistence/file-backed-dataset-registry.js';
import { inTransaction } from './postgres-transaction.js';

const SELECT_REGISTRATION = `
  SELECT r.tenant, r.dataset_id, r.display_name, r.format, r.create_time, c.content_hash, c.class_names,
         c.class_counts, c.num_examples, c.report, c.content_file
  FROM dataset_registrations r JOIN dataset_contents c ON c.id = r.dataset_id`;

interface Row {
  readonly tenant: string;
  readonly dataset_id: string;
  readonly display_name: string;
  readonly format: string;
  /** bigint: node-postgres returns it as a string. */
  readonly create_time: string;
  readonly content_hash: string;
  readonly class_names: string;
  readonly class_counts: string;
  readonly num_examples: number;
  readonly report: Buffer;
  readonly content_file: string;
}

function registrationRow(row: Row): RegistrationRow {
  return {
    tenant: row.tenant,
    datasetId: row.dataset_id,
    displayName: row.display_name,
    format: row.format,
    createTime: Number(row.create_time),
    contentHash: row.content_hash,
    classNames: row.class_names,
    classCounts: row.class_counts,
    numExamples: row.num_examples,
    report: row.report,
    contentFile: row.content_file,
  };
}

class PostgresRegistrationRows implements RegistrationRows {
  constructor(private readonly pool: Pool) {}

  async contentExists(id: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('SELECT 1 FROM dataset_contents WHERE id = $1', [id]);
    return (rowCount ?? 0) > 0;
  }

  async insert(
    content: ContentRow,
    registration: { tenant: string; displayName: string; format: string; createTime: number },
  ): Promise<{ row: RegistrationRow; created: boolean }> {
    return inTransaction(this.pool, async (client) => {
      // ON CONFLICT DO NOTHING: a concurrent registration of the same content (or by the same tenant) won.
      await client.query(
        `INSERT INTO dataset_contents (id, content_hash, class_names, class_counts, num_examples, report, content_file, content_bytes)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
        [
          content.id,
          content.contentHash,
          content.classNames,
          content.classCounts,
          content.numExamples,
          Buffer.from(content.report),
          content.contentFile,
          content.contentBytes,
        ],
      );
      const inserted = await client.query(
        `INSERT INTO dataset_registrations (tenant, dataset_id, display_name, format, create_time)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant, dataset_id) DO NOTHING`,
        [registration.tenant, content.id, registration.displayName, registration.format, registration.createTime],
      );
      const { rows } = await client.query<Row>(`${SELECT_REGISTRATION} WHERE r.tenant = $1 AND r.dataset_id = $2`, [
        registration.tenant,
        content.id,
      ]);
      const row = rows[0];
      if (row === undefined) throw new Error(`dataset ${content.id} vanished while it was registered`);
      return { row: registrationRow(row), created: inserted.rowCount === 1 };
    });
  }

  async get(tenant: string, id: string): Promise<RegistrationRow | undefined> {
    const { rows } = await this.pool.query<Row>(`${SELECT_REGISTRATION} WHERE r.tenant = $1 AND r.dataset_id = $2`, [tenant, id]);
    return rows[0] === undefined ? undefined : registrationRow(rows[0]);
  }

  async list(tenant: string): Promise<RegistrationRow[]> {
    const { rows } = await this.pool.query<Row>(
      `${SELECT_REGISTRATION} WHERE r.tenant = $1 ORDER BY r.create_time DESC, r.dataset_id ASC`,
      [tenant],
    );
    return rows.map(registrationRow);
  }
}

export class PostgresDatasetRegistry extends FileBackedDatasetRegistry {
  constructor(pool: Pool, options: FileBackedRegistryOptions) {
    super(new PostgresRegistrationRows(pool), options);
  }
}
