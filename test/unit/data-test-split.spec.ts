// Datasets with a test split: every reader takes one (JSONL/CSV, IDX, image folders), it is built
// with the training vocabulary, reported, hashed only when present (a dataset without one keeps
// its id), stored and loaded again by the durable registry, and asked for by name.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { hashDatasetContent, InMemoryDatasetRegistry, loadDataset, readDatasetContent } from '../../server/data/index.js';
import { openJobDatabase } from '../../server/jobs/persistence/sqlite-database.js';
import { SqliteDatasetRegistry } from '../../server/jobs/persistence/sqlite-dataset-registry.js';
import { expectViolation, jsonl, makeTempRoot, type TempRoot } from '../fixtures/data-fixtures.js';
import { tinyIdx, writeFixture, writeImageFolder } from '../fixtures/dataset-fixtures.js';

const TRAIN = [
  { label: 'spam', features: [0.5, 1] },
  { label: 'ham', features: [0.25, 0] },
  { label: 'spam', features: [1, 1] },
  { label: 'ham', features: [0, 0] },
];
const VALIDATION = [
  { label: 'ham', features: [0.1, 0.1] },
  { label: 'spam', features: [0.9, 0.9] },
];
const TEST = [
  { label: 'ham', features: [0.2, 0.1] },
  { label: 'ham', features: [0.3, 0.2] },
  { label: 'spam', features: [0.8, 0.9] },
];

describe('test split', () => {
  let root: TempRoot;
  before(async () => {
    root = await makeTempRoot();
    await root.write('train.jsonl', jsonl(TRAIN));
    await root.write('validation.jsonl', jsonl(VALIDATION));
    await root.write('test.jsonl', jsonl(TEST));
    await root.write(
      'texts.jsonl',
      jsonl([
        { label: 'pos', text: 'good film' },
        { label: 'neg', text: 'bad film' },
      ]),
    );
    await root.write('texts-test.jsonl', jsonl([{ label: 'pos', text: 'unseen good' }]));
    const idx = tinyIdx(9);
    await writeFixture(root.dir, 'idx/train-images.gz', idx.images);
    await writeFixture(root.dir, 'idx/train-labels.gz', idx.labels);
    await writeImageFolder(root.dir, 'images/train', 3);
    await writeImageFolder(root.dir, 'images/test', 1);
  });
  after(async () => {
    await root.remove();
  });

  const source = (test?: string) => ({
    format: 'jsonl' as const,
    train: { path: 'train.jsonl' },
    validation: { path: 'validation.jsonl' },
    ...(test === undefined ? {} : { test: { path: test } }),
  });

  it('JSONL: the test split is read, counted per class and reported; train and validation are unchanged', async () => {
    const without = await readDatasetContent(source(), { dataRoot: root.dir });
    const withTest = await readDatasetContent(source('test.jsonl'), { dataRoot: root.dir });
    assert.deepEqual(Array.from(withTest.test?.labels ?? []), [0, 0, 1]);
    assert.deepEqual(withTest.report.test, { numExamples: 3, classCounts: [2, 1] });
    assert.equal(without.report.test, undefined);
    assert.deepEqual(withTest.train, without.train);
    assert.deepEqual(withTest.validation, without.validation);
    // The test split is not in numExamples (train plus validation), and not in the class counts.
    assert.deepEqual([withTest.numExamples, withTest.classCounts], [without.numExamples, without.classCounts]);
  });

  it('hashes a test split only when there is one: a dataset without one keeps the id it had before', async () => {
    const without = await readDatasetContent(source(), { dataRoot: root.dir });
    const withTest = await readDatasetContent(source('test.jsonl'), { dataRoot: root.dir });
    assert.notEqual(withTest.contentHash, without.contentHash);
    // What the hash was before test splits existed (computed then for these rows).
    assert.equal(without.contentHash, '385cb41735fdd5acc525e19bb96e90aee2ebefb6a2f146538b2c646d8f30cfd4');
    const { train, validation, classNames } = withTest;
    assert.equal(hashDatasetContent({ classNames, train, validation }), without.contentHash);
  });

  it('text: the test split is encoded with the training vocabulary (unseen words are [UNK])', async () => {
    const content = await readDatasetContent(
      { format: 'jsonl', train: { path: 'texts.jsonl' }, test: { path: 'texts-test.jsonl' } },
      { dataRoot: root.dir },
    );
    const vocabulary = content.vocabulary?.tokens ?? [];
    assert.ok(!vocabulary.includes('unseen'));
    assert.equal(content.test?.inputs.kind, 'tokens');
  });

  it('IDX and image folders take a test split too; a test class that is not a training class is refused', async () => {
    const idx = await readDatasetContent(
      {
        format: 'idx',
        train: { images: { path: 'idx/train-images.gz' }, labels: { path: 'idx/train-labels.gz' } },
        test: { images: { path: 'idx/train-images.gz' }, labels: { path: 'idx/train-labels.gz' } },
      },
      { dataRoot: root.dir },
    );
    assert.equal(idx.test?.labels.length, 9);
    const images = await readDatasetContent(
      { format: 'image_folder', train: { path: 'images/train' }, test: { path: 'images/test' } },
      { dataRoot: root.dir },
    );
    assert.deepEqual(images.report.test, { numExamples: 2, classCounts: [1, 1] });
    await root.write('odd-test.jsonl', jsonl([{ label: 'eggs', features: [0, 0] }]));
    await expectViolation(readDatasetContent(source('odd-test.jsonl'), { dataRoot: root.dir }), 'labels', /"eggs".*no training examples/);
    await root.write('empty.jsonl', '');
    await expectViolation(readDatasetContent(source('empty.jsonl'), { dataRoot: root.dir }), 'test.rows', /has no examples/);
  });

  it('loads a split by name; asking a dataset without one for its test split names the field', async () => {
    const registry = new InMemoryDatasetRegistry({ dataRoot: root.dir });
    const withTest = await registry.register('t', source('test.jsonl'));
    const without = await registry.register('t', source());
    const loaded = await loadDataset({ tenant: 't', datasetId: withTest.id, split: 'test' }, { registry });
    assert.deepEqual(loaded.classCounts, [2, 1]);
    await expectViolation(
      loadDataset({ tenant: 't', datasetId: without.id, split: 'test' }, { registry }),
      'split',
      /has no test split \(it has train, validation\)/,
    );
  });

  it('the SQLite registry stores the test split and reads it back after a reopen', async () => {
    const dbFile = `${root.dir}/registry.db`;
    const options = { dataRoot: root.dir, contentDir: `${root.dir}/contents` };
    const db = openJobDatabase(dbFile);
    const registered = await new SqliteDatasetRegistry(db, options).register('t', source('test.jsonl'));
    db.close();
    const reopened = openJobDatabase(dbFile);
    try {
      const dataset = await new SqliteDatasetRegistry(reopened, options).get('t', registered.id);
      assert.deepEqual(Array.from(dataset.test?.labels ?? []), [0, 0, 1]);
      assert.deepEqual(dataset.report.test, { numExamples: 3, classCounts: [2, 1] });
    } finally {
      reopened.close();
    }
  });
});
