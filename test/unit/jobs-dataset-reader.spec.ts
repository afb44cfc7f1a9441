// The dataset reader threads (server/jobs/persistence/dataset-reader.ts): what a registration
// reads on a thread is exactly what it reads in place (same hash, same examples, the vocabulary
// rebuilt as a Vocabulary), bad data keeps its INVALID_ARGUMENT and field paths across the
// thread, more requests than threads wait their turn, and a stored file that does not match its
// hash is refused there too.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { hasCode } from '../../server/common/errors.js';
import { Vocabulary } from '../../server/data/index.js';
import { InThreadDatasetReader, ThreadedDatasetReader } from '../../server/jobs/persistence/dataset-reader.js';
import { expectViolation, jsonl, makeTempRoot, type TempRoot } from '../fixtures/data-fixtures.js';

const TEXTS = [
  { label: 'pos', text: 'good film' },
  { label: 'neg', text: 'bad film' },
  { label: 'pos', text: 'great fun' },
  { label: 'neg', text: 'dull plot' },
  { label: 'pos', text: 'fine acting' },
];

describe('dataset reader threads', () => {
  let root: TempRoot;
  const threaded = new ThreadedDatasetReader({ maxThreads: 2 });
  const inPlace = new InThreadDatasetReader();

  before(async () => {
    root = await makeTempRoot();
    await root.write('texts.jsonl', jsonl(TEXTS));
    await root.write(
      'bad.jsonl',
      jsonl([
        { label: 'a', features: [1] },
        { label: 'b', features: [1, 2] },
      ]),
    );
  });
  after(async () => {
    threaded.close();
    await root.remove();
  });

  it('reads the same content on a thread as in place', async () => {
    const source = { format: 'jsonl', train: { path: 'texts.jsonl' } } as const;
    const [there, here] = await Promise.all([threaded.read(source, { dataRoot: root.dir }), inPlace.read(source, { dataRoot: root.dir })]);
    assert.equal(there.content.contentHash, here.content.contentHash);
    assert.deepEqual(there.content.train, here.content.train);
    assert.deepEqual(there.content.report, here.content.report);
    assert.ok(there.content.vocabulary instanceof Vocabulary);
    assert.equal(there.content.vocabulary.idOf('film'), here.content.vocabulary?.idOf('film'));
    assert.deepEqual(Buffer.from(there.encoded), Buffer.from(here.encoded));
  });

  it('keeps INVALID_ARGUMENT and the field path across the thread', async () => {
    await expectViolation(threaded.read({ format: 'jsonl', train: { path: 'bad.jsonl' } }, { dataRoot: root.dir }), 'rows[1].features');
  });

  it('queues more requests than threads and answers each', async () => {
    const source = { format: 'jsonl', train: { path: 'texts.jsonl' } } as const;
    const answers = await Promise.all(Array.from({ length: 5 }, () => threaded.read(source, { dataRoot: root.dir })));
    assert.equal(new Set(answers.map((answer) => answer.content.contentHash)).size, 1);
  });

  it('loads a stored file and refuses one that does not match its hash', async () => {
    const source = { format: 'jsonl', train: { path: 'texts.jsonl' } } as const;
    const { content, encoded } = await inPlace.read(source, { dataRoot: root.dir });
    const file = path.join(root.dir, 'content.bin');
    await writeFile(file, encoded);
    const ref = { file, datasetId: content.id, classNames: content.classNames, contentHash: content.contentHash };
    const loaded = await threaded.load(ref);
    assert.deepEqual(loaded.validation, content.validation);
    assert.deepEqual(loaded.vocabulary?.tokens, content.vocabulary?.tokens);
    await assert.rejects(threaded.load({ ...ref, contentHash: '0'.repeat(64) }), (error: unknown) => hasCode(error, 'FAILED_PRECONDITION'));
  });
});
