// The per-line byte cap of JSONL and CSV files: followed across upload chunks, and applied to
// registered files before anything is parsed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InMemoryDatasetRegistry, LineLengthGuard } from '../../server/data/index.js';
import { expectViolation, jsonl, makeTempRoot, type TempRoot } from '../fixtures/data-fixtures.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('line length guard', () => {
  it('counts a line across chunks and names the first line over the cap', () => {
    const guard = new LineLengthGuard(5);
    assert.equal(guard.feed(bytes('abcde\nab')), undefined);
    assert.equal(guard.feed(bytes('cd')), undefined);
    assert.equal(guard.feed(bytes('e\n\n')), undefined);
    assert.equal(guard.feed(bytes('123')), undefined);
    assert.equal(guard.feed(bytes('456')), 3);
  });

  it('does not count the newline, and reports within the chunk that crosses the cap', () => {
    assert.equal(new LineLengthGuard(3).feed(bytes('abc\nabc\nabcd\nx')), 2);
    assert.equal(new LineLengthGuard(3).feed(bytes('')), undefined);
  });
});

describe('line limit of registered files', () => {
  let root: TempRoot;
  before(async () => {
    root = await makeTempRoot();
  });
  after(async () => {
    await root.remove();
  });

  it('refuses a JSONL line over maxLineBytes on its row, and a CSV line on the rows', async () => {
    const rows = [
      { label: 'a', features: [1] },
      { label: 'b', features: [2], id: 'a-long-row-identifier-0123456789' },
    ];
    const registry = new InMemoryDatasetRegistry({ dataRoot: root.dir, limits: { maxLineBytes: 40 } });
    const file = await root.write('wide.jsonl', jsonl(rows));
    const source = { format: 'jsonl' as const, train: { path: file } };
    await expectViolation(registry.register('default', source), 'rows[1]', /line 2 is longer than 40 bytes/);
    const csv = await root.write('wide.csv', `label,x\na,1\nb,${'9'.repeat(50)}\n`);
    await expectViolation(registry.register('default', { format: 'csv', train: { path: csv } }), 'rows', /line 3 is longer than 40 bytes/);
    const roomy = new InMemoryDatasetRegistry({ dataRoot: root.dir, limits: { maxLineBytes: 100 } });
    const registered = await roomy.register('default', { ...source, validationFraction: 0 });
    assert.equal(registered.report.train.numExamples, 2);
  });
});
