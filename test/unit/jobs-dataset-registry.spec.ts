// The durable dataset registries (SQLite embedded, PostgreSQL in scale-out): what a tenant
// registered is still there, byte for byte, after the database is closed and opened again (a
// server restart, or another pod), and a damaged content file is reported, never passed off as
// the registered content. PostgreSQL runs where the scale-out services are (CI), else skips.
import assert from 'node:assert/strict';
import { readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Pool } from 'pg';

import { hasCode } from '../../server/common/errors.js';
import { loadDataset, type DatasetRegistry } from '../../server/data/index.js';
import { DATASET_CONTENT_DIR, type FileBackedRegistryOptions } from '../../server/jobs/persistence/file-backed-dataset-registry.js';
import { openJobDatabase } from '../../server/jobs/persistence/sqlite-database.js';
import { SqliteDatasetRegistry } from '../../server/jobs/persistence/sqlite-dataset-registry.js';
import { migratePostgres } from '../../server/jobs/scaleout/postgres-schema.js';
import { PostgresDatasetRegistry } from '../../server/jobs/scaleout/postgres-dataset-registry.js';
import { SCALEOUT_SKIP_REASON, scaleOutServices, uniqueName } from '../fixtures/scaleout-services.js';
import { jsonl, makeTempRoot, type TempRoot } from '../fixtures/data-fixtures.js';

const ROWS = [
  { label: 'spam', features: [0.5, 1] },
  { label: 'ham', features: [0.25, 0] },
  { label: 'spam', features: [1, 1] },
  { label: 'ham', features: [0, 0] },
  { label: 'ham', features: [0.75, 0.5] },
];
const TEXTS = [
  { label: 'pos', text: 'good film' },
  { label: 'neg', text: 'bad film' },
  { label: 'pos', text: 'great fun' },
  { label: 'neg', text: 'dull plot' },
];

/** A registry over a database that outlives each open(): a reopen is a restart or another pod. */
interface RegistryKind {
  readonly name: string;
  readonly skip: string | false;
  open(options: FileBackedRegistryOptions): Promise<{ registry: DatasetRegistry; close(): Promise<void> }>;
  cleanup(): Promise<void>;
}

const services = scaleOutServices();
const schema = uniqueName('registry');

const KINDS: readonly RegistryKind[] = [
  {
    name: 'SQLite',
    skip: false,
    async open(options) {
      const db = openJobDatabase(path.join(path.dirname(options.contentDir), 'steadytune.db'));
      return {
        registry: new SqliteDatasetRegistry(db, options),
        close: async () => {
          db.close();
        },
      };
    },
    async cleanup() {},
  },
  {
    name: 'PostgreSQL',
    skip: services === undefined ? SCALEOUT_SKIP_REASON : false,
    async open(options) {
      const url = services?.databaseUrl ?? '';
      const pool = new Pool({ connectionString: url, options: `-c search_path=${schema}`, max: 2 });
      await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await migratePostgres(pool);
      return { registry: new PostgresDatasetRegistry(pool, options), close: () => pool.end() };
    },
    async cleanup() {
      if (services === undefined) return;
      const admin = new Pool({ connectionString: services.databaseUrl, max: 1 });
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    },
  },
];

for (const kind of KINDS)
  describe(`${kind.name} dataset registry`, { skip: kind.skip }, () => {
    let root: TempRoot;
    let clockMs = 1_000;
    const contentDir = (): string => path.join(root.dir, 'data', DATASET_CONTENT_DIR);
    const open = () => kind.open({ dataRoot: root.dir, contentDir: contentDir(), clock: () => (clockMs += 1) });

    before(async () => {
      root = await makeTempRoot();
      await root.write('mail.jsonl', jsonl(ROWS));
      await root.write('reviews.jsonl', jsonl(TEXTS));
    });
    after(async () => {
      await root.remove();
      await kind.cleanup();
    });

    it('gets the same datasets (hash, report, examples, vocabulary) after reopening the database', async () => {
      const first = await open();
      const mail = await first.registry.register('acme', { format: 'jsonl', train: { path: 'mail.jsonl' } }, { displayName: 'mail' });
      const reviews = await first.registry.register('acme', { format: 'jsonl', train: { path: 'reviews.jsonl' }, text: { seqLen: 4 } });
      const before = { mail: await first.registry.get('acme', mail.id), reviews: await first.registry.get('acme', reviews.id) };
      const listedBefore = await first.registry.list('acme');
      await first.close();

      const second = await open();
      const after = { mail: await second.registry.get('acme', mail.id), reviews: await second.registry.get('acme', reviews.id) };
      // deepStrictEqual compares typed arrays element by element, and the Vocabulary's tokens.
      assert.deepStrictEqual(after.mail, before.mail);
      assert.deepStrictEqual(after.reviews.vocabulary?.tokens, before.reviews.vocabulary?.tokens);
      assert.deepStrictEqual({ ...after.reviews, vocabulary: undefined }, { ...before.reviews, vocabulary: undefined });
      assert.equal(after.mail.contentHash, mail.contentHash);
      assert.equal(after.mail.displayName, 'mail');
      assert.deepEqual(await second.registry.list('acme'), listedBefore);
      assert.deepEqual(
        listedBefore.map((d) => d.id),
        [reviews.id, mail.id],
      );
      const validation = await loadDataset({ tenant: 'acme', datasetId: mail.id, split: 'validation' }, { registry: second.registry });
      assert.equal(validation.contentHash, mail.contentHash);

      // Same content again: the same id, not created, the first registration's name and time kept.
      const again = await second.registry.register('acme', { format: 'jsonl', train: { path: 'mail.jsonl' } }, { displayName: 'other' });
      assert.deepEqual([again.id, again.created, again.displayName, again.createTime], [mail.id, false, 'mail', mail.createTime]);
      // Per tenant: stored once, but another tenant sees nothing until it registers it itself.
      await assert.rejects(second.registry.get('globex', mail.id), (error: unknown) => hasCode(error, 'NOT_FOUND'));
      assert.deepEqual(await second.registry.list('globex'), []);
      const globex = await second.registry.register('globex', { format: 'jsonl', train: { path: 'mail.jsonl' } });
      assert.equal(globex.created, true);
      assert.deepEqual(await readdir(contentDir()), [`${mail.id}.bin`, `${reviews.id}.bin`].sort());
      await second.close();
    });

    it('reports a damaged or missing content file as unavailable, and registering again repairs it', async () => {
      const source = { format: 'jsonl', train: { path: 'mail.jsonl' } } as const;
      const first = await open();
      const { id, contentHash } = await first.registry.register('acme', source);
      await first.close();
      await writeFile(path.join(contentDir(), `${id}.bin`), new Uint8Array([1, 2, 3]));
      const second = await open();
      await assert.rejects(second.registry.get('acme', id), (error: unknown) => hasCode(error, 'FAILED_PRECONDITION'));
      const repaired = await second.registry.register('globex', source);
      assert.equal(repaired.id, id);
      await second.close();
      await rm(path.join(contentDir(), `${id}.bin`));
      const third = await open();
      await assert.rejects(third.registry.get('globex', id), /cannot be read/);
      await third.registry.register('acme', source);
      await third.close();
      // A fresh process (no cached content) reads the rewritten file and its hash checks out.
      const fourth = await open();
      assert.equal((await fourth.registry.get('acme', id)).contentHash, contentHash);
      assert.equal((await fourth.registry.get('globex', id)).contentHash, contentHash);
      await fourth.close();
    });
  });
