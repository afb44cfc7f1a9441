import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { hasCode } from '../../server/common/errors.js';
import { InMemoryDatasetRegistry, loadDataset } from '../../server/data/index.js';
import { jsonl, makeTempRoot, type TempRoot } from '../fixtures/data-fixtures.js';

const ROWS = [
  { id: 'r1', label: 'spam', features: [0.5, 1] },
  { id: 'r2', label: 'ham', features: [0.25, 0] },
  { id: 'r3', label: 'spam', features: [1, 1] },
  { id: 'r4', label: 'ham', features: [0, 0] },
  { id: 'r5', label: 'ham', features: [0.75, 0.5] },
];
const CSV = 'label,id,x,y\nspam,r1,0.5,1\nham,r2,0.25,0\nspam,r3,1,1\nham,r4,0,0\nham,r5,0.75,0.5\n';

describe('dataset registry', () => {
  let root: TempRoot;
  before(async () => {
    root = await makeTempRoot();
    await root.write('mail.jsonl', jsonl(ROWS));
    await root.write('mail.csv', CSV);
  });
  after(async () => {
    await root.remove();
  });

  it('gives the same hash, id and class counts on every registration', async () => {
    const first = await new InMemoryDatasetRegistry({ dataRoot: root.dir }).register('default', {
      format: 'jsonl',
      train: { path: 'mail.jsonl' },
    });
    const registry = new InMemoryDatasetRegistry({ dataRoot: root.dir });
    const second = await registry.register('default', { format: 'jsonl', train: { path: 'mail.jsonl' } });
    const again = await registry.register('default', { format: 'jsonl', train: { path: 'mail.jsonl' } });
    assert.match(first.contentHash, /^[0-9a-f]{64}$/);
    assert.equal(second.contentHash, first.contentHash);
    assert.equal(again.id, second.id);
    assert.deepEqual(second.classNames, ['ham', 'spam']);
    // ham: 3 -> 3 - floor(0.6) = 3 train; spam: 2 -> 2 train.
    assert.deepEqual(second.classCounts, [3, 2]);
    assert.deepEqual(first.classCounts, second.classCounts);
    assert.equal(second.numExamples, 5);
  });

  it('hashes content, not format: the same rows as CSV or uploaded bytes hash alike', async () => {
    const registry = new InMemoryDatasetRegistry({ dataRoot: root.dir });
    const fromJsonl = await registry.register('default', { format: 'jsonl', train: { path: 'mail.jsonl' } });
    const fromCsv = await registry.register('default', { format: 'csv', train: { path: 'mail.csv' } });
    const uploaded = await new InMemoryDatasetRegistry().register('default', {
      format: 'csv',
      train: { bytes: new TextEncoder().encode(CSV) },
    });
    assert.equal(fromCsv.contentHash, fromJsonl.contentHash);
    assert.equal(uploaded.contentHash, fromJsonl.contentHash);
    const relabelled = await registry.register('default', {
      format: 'csv',
      train: { bytes: new TextEncoder().encode(CSV.replace('ham,r5', 'spam,r5')) },
    });
    assert.notEqual(relabelled.contentHash, fromJsonl.contentHash);
  });

  it('loads registered splits by id and reports unknown ids', async () => {
    const registry = new InMemoryDatasetRegistry({ dataRoot: root.dir });
    const { id, report } = await registry.register('default', { format: 'jsonl', train: { path: 'mail.jsonl' }, validationFraction: 0.5 });
    assert.deepEqual(report.train.classCounts, [2, 1]);
    assert.deepEqual(report.validation.classCounts, [1, 1]);
    const validation = await loadDataset({ tenant: 'default', datasetId: id, split: 'validation' }, { registry });
    // Held out: the last ham (r5) and the last spam (r3), in file order.
    assert.deepEqual(Array.from(validation.examples.labels), [1, 0]);
    assert.deepEqual(
      Array.from(validation.examples.inputs.kind === 'features' ? validation.examples.inputs.values : []),
      [1, 1, 0.75, 0.5],
    );
    await assert.rejects(registry.get('default', 'ds_missing'), (error: unknown) => hasCode(error, 'NOT_FOUND'));
  });
});
