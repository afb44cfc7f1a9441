// The durable dataset registry: what a tenant registered is still there, byte for byte, after
// the database is closed and opened again (a server restart), and a damaged content file is
// reported, never passed off as the registered content.
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { DatasetNotFoundError, DatasetUnavailableError, loadDataset, type DatasetRegistry } from '../../server/data/index.js';
import { openJobDatabase, type SqliteDatabase } from '../../server/jobs/sqlite-database.js';
import { DATASET_CONTENT_DIR, SqliteDatasetRegistry } from '../../server/jobs/sqlite-dataset-registry.js';
import { jsonl, makeTempRoot, type TempRoot } from './data-fixtures.js';

const ROWS = [
  { label: 'spam', features: [0.5, 1] },
  { label: 'ham', features: [0.25, 0] },
  { label: 'spam', features: [1, 1] },
  { label: 'ham', features: [0, 0] },
  { label: 'ham', features: [0.75, 0.5] },
];
const TEXTS = [
  { label: 'pos', text: 'good film' }, { label: 'neg', text: 'bad film' },
  { label: 'pos', text: 'great fun' }, { label: 'neg', text: 'dull plot' },
];

describe('SQLite dataset registry', () => {
  let root: TempRoot;
  let clockMs = 1_000;
  const open = (): { db: SqliteDatabase; registry: DatasetRegistry } => {
    const db = openJobDatabase(path.join(root.dir, 'data', 'steadytune.db'));
    const registry = new SqliteDatasetRegistry(db, {
      dataRoot: root.dir, contentDir: path.join(root.dir, 'data', DATASET_CONTENT_DIR), clock: () => (clockMs += 1),
    });
    return { db, registry };
  };

  before(async () => {
    root = await makeTempRoot();
    await root.write('mail.jsonl', jsonl(ROWS));
    await root.write('reviews.jsonl', jsonl(TEXTS));
  });
  after(async () => { await root.remove(); });

  it('gets the same datasets (hash, report, examples, vocabulary) after reopening the database', async () => {
    const first = open();
    const mail = await first.registry.register('acme', { format: 'jsonl', train: { path: 'mail.jsonl' } }, { displayName: 'mail' });
    const reviews = await first.registry.register('acme', { format: 'jsonl', train: { path: 'reviews.jsonl' }, text: { seqLen: 4 } });
    const before = { mail: await first.registry.get('acme', mail.id), reviews: await first.registry.get('acme', reviews.id) };
    const listedBefore = await first.registry.list('acme');
    first.db.close();

    const second = open();
    const after = { mail: await second.registry.get('acme', mail.id), reviews: await second.registry.get('acme', reviews.id) };
    // deepStrictEqual compares typed arrays element by element, and the Vocabulary's tokens.
    assert.deepStrictEqual(after.mail, before.mail);
    assert.deepStrictEqual(after.reviews.vocabulary?.tokens, before.reviews.vocabulary?.tokens);
    assert.deepStrictEqual({ ...after.reviews, vocabulary: undefined }, { ...before.reviews, vocabulary: undefined });
    assert.equal(after.mail.contentHash, mail.contentHash);
    assert.equal(after.mail.displayName, 'mail');
    assert.deepEqual(await second.registry.list('acme'), listedBefore);
    assert.deepEqual(listedBefore.map((d) => d.id), [reviews.id, mail.id]);
    const validation = await loadDataset({ tenant: 'acme', datasetId: mail.id, split: 'validation' }, { registry: second.registry });
    assert.equal(validation.contentHash, mail.contentHash);

    // Same content again: the same id, not created, the first registration's name and time kept.
    const again = await second.registry.register('acme', { format: 'jsonl', train: { path: 'mail.jsonl' } }, { displayName: 'other' });
    assert.deepEqual([again.id, again.created, again.displayName, again.createTime], [mail.id, false, 'mail', mail.createTime]);
    // Per tenant: stored once, but another tenant sees nothing until it registers it itself.
    await assert.rejects(second.registry.get('globex', mail.id), DatasetNotFoundError);
    assert.deepEqual(await second.registry.list('globex'), []);
    const globex = await second.registry.register('globex', { format: 'jsonl', train: { path: 'mail.jsonl' } });
    assert.equal(globex.created, true);
    assert.deepEqual(await readdir(path.join(root.dir, 'data', DATASET_CONTENT_DIR)), [`${mail.id}.bin`, `${reviews.id}.bin`].sort());
    second.db.close();
  });

  it('reports a damaged content file as unavailable', async () => {
    const first = open();
    const { id } = await first.registry.register('acme', { format: 'jsonl', train: { path: 'mail.jsonl' } });
    first.db.close();
    await writeFile(path.join(root.dir, 'data', DATASET_CONTENT_DIR, `${id}.bin`), new Uint8Array([1, 2, 3]));
    const second = open();
    await assert.rejects(second.registry.get('acme', id), DatasetUnavailableError);
    second.db.close();
  });
});
