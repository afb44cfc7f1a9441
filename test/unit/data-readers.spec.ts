import assert from 'node:assert/strict';
import { mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { InMemoryDatasetRegistry, loadDataset, type DatasetSource } from '../../server/data/index.js';
import { expectViolation, jsonl, makeTempRoot, type TempRoot } from '../fixtures/data-fixtures.js';

let root: TempRoot;
let outside: TempRoot;
before(async () => {
  root = await makeTempRoot();
  outside = await makeTempRoot('steadytune-outside-');
});
after(async () => {
  await root.remove();
  await outside.remove();
});

const registry = (limits = {}) => new InMemoryDatasetRegistry({ dataRoot: root.dir, limits });
const jsonlSource = (file: string, extra: Partial<DatasetSource> = {}): DatasetSource =>
  ({ format: 'jsonl', train: { path: file }, ...extra }) as DatasetSource;

describe('jsonl reader', () => {
  it('maps label names to ids in sorted order and splits 20% per class', async () => {
    const rows = ['cat', 'ant', 'bee'].flatMap((label, classIndex) =>
      Array.from({ length: 5 }, (_, k) => ({ label, features: [classIndex, k] })),
    );
    const file = await root.write('animals.jsonl', jsonl(rows));
    const reg = registry();
    const registered = await reg.register('default', jsonlSource(file));
    assert.deepEqual(registered.classNames, ['ant', 'bee', 'cat']);
    assert.deepEqual(registered.classCounts, [4, 4, 4]);
    assert.equal(registered.numExamples, 15);
    assert.deepEqual(registered.report.validation.classCounts, [1, 1, 1]);
    const train = await loadDataset({ tenant: 'default', datasetId: registered.id, split: 'train' }, { registry: reg });
    assert.equal(train.examples.inputs.kind, 'features');
    // First training row is the first 'cat' row: features [0, 0], class id 2.
    assert.equal(train.examples.labels[0], 2);
    assert.deepEqual(Array.from(train.examples.labels.slice(0, 5)), [2, 2, 2, 2, 0]);
    const validation = await loadDataset({ tenant: 'default', datasetId: registered.id, split: 'validation' }, { registry: reg });
    // The last example of each class (k = 4) is held out.
    assert.deepEqual(
      Array.from(validation.examples.inputs.kind === 'features' ? validation.examples.inputs.values : []),
      [0, 4, 1, 4, 2, 4],
    );
  });

  it('rejects an unknown label, a missing label and a non-finite feature, naming each row', async () => {
    const file = await root.write(
      'bad-labels.jsonl',
      '{"label":"a","features":[1,2]}\n{"label":"zebra","features":[1,2]}\n{"features":[1,2]}\n' +
        '{"label":"b","features":[1,1e999]}\n{"label":"b","features":[1,null]}\n',
    );
    const violations = await expectViolation(
      registry().register('default', jsonlSource(file, { classNames: ['a', 'b'] })),
      'rows[1].label',
      /not a declared class/,
    );
    const fields = violations.map((violation) => violation.field).sort();
    assert.deepEqual(fields, ['rows[1].label', 'rows[2].label', 'rows[3].features[1]', 'rows[4].features[1]']);
  });

  it('rejects ragged features, duplicate ids and a declared class with no examples', async () => {
    const file = await root.write(
      'ragged.jsonl',
      jsonl([
        { id: 'x1', label: 'a', features: [1, 2, 3] },
        { id: 'x2', label: 'b', features: [1, 2, 3] },
        { id: 'x3', label: 'a', features: [1, 2] },
        { id: 'x1', label: 'b', features: [4, 5, 6] },
      ]),
    );
    const violations = await expectViolation(registry().register('default', jsonlSource(file)), 'rows[2].features', /has 2 values/);
    assert.ok(violations.some((v) => v.field === 'rows[3].id' && /duplicates rows\[0\]\.id/.test(v.description)));

    const complete = await root.write(
      'no-c.jsonl',
      jsonl([
        { label: 'a', features: [1] },
        { label: 'b', features: [2] },
        { label: 'a', features: [3] },
      ]),
    );
    await expectViolation(
      registry().register('default', jsonlSource(complete, { classNames: ['a', 'b', 'c'] })),
      'classNames[2]',
      /no training examples/,
    );
  });

  it('numbers rows by line, reports bad JSON and mixed input kinds', async () => {
    const file = await root.write('lines.jsonl', '{"label":"a","features":[1]}\n\n{"label":"a",\n{"label":"b","text":"hello"}\n[1,2]\n');
    const violations = await expectViolation(registry().register('default', jsonlSource(file)), 'rows[2]', /not valid JSON/);
    assert.ok(violations.some((v) => v.field === 'rows[4]' && /JSON object/.test(v.description)));
    const mixed = await root.write(
      'mixed.jsonl',
      jsonl([
        { label: 'a', features: [1] },
        { label: 'b', text: 'hello' },
        { label: 'b', features: [2] },
      ]),
    );
    await expectViolation(registry().register('default', jsonlSource(mixed)), 'rows[1]', /is text, but rows\[0\] is features/);
  });

  it('enforces max rows, max bytes and max text length', async () => {
    const file = await root.write(
      'three.jsonl',
      jsonl([
        { label: 'a', text: 'one two' },
        { label: 'b', text: 'three four five six' },
        { label: 'a', text: 'x' },
      ]),
    );
    await expectViolation(registry({ maxRows: 2 }).register('default', jsonlSource(file)), 'rows', /more than 2 rows/);
    await expectViolation(registry({ maxBytes: 20 }).register('default', jsonlSource(file)), 'path', /limit is 20/);
    await expectViolation(registry({ maxTextChars: 10 }).register('default', jsonlSource(file)), 'rows[1].text', /19 characters/);
  });

  it('names violations in a separate validation file with a validation. prefix', async () => {
    const train = await root.write(
      't.jsonl',
      jsonl([
        { label: 'a', features: [1] },
        { label: 'b', features: [2] },
      ]),
    );
    const validation = await root.write(
      'v.jsonl',
      jsonl([
        { label: 'a', features: [1] },
        { label: 'c', features: [2] },
      ]),
    );
    await expectViolation(
      registry().register('default', jsonlSource(train, { validation: { path: validation }, classNames: ['a', 'b'] })),
      'validation.rows[1].label',
    );
  });
});

describe('path confinement', () => {
  it('rejects .. escapes, absolute paths outside the root, outward symlinks and missing files', async () => {
    const secret = await outside.write(
      'secret.jsonl',
      jsonl([
        { label: 'a', features: [1] },
        { label: 'b', features: [2] },
      ]),
    );
    const relativeEscape = path.relative(root.dir, path.join(outside.dir, secret));
    await expectViolation(registry().register('default', jsonlSource(relativeEscape)), 'path', /escapes the data root/);
    await expectViolation(registry().register('default', jsonlSource('../x/../../etc/passwd')), 'path', /escapes/);
    await expectViolation(registry().register('default', jsonlSource(path.join(outside.dir, secret))), 'path', /escapes/);

    await mkdir(path.join(root.dir, 'links'), { recursive: true });
    await symlink(path.join(outside.dir, secret), path.join(root.dir, 'links', 'leak.jsonl'));
    await expectViolation(registry().register('default', jsonlSource('links/leak.jsonl')), 'path', /link pointing outside/);
    await expectViolation(registry().register('default', jsonlSource('nope.jsonl')), 'path', /no such file/);
    await expectViolation(new InMemoryDatasetRegistry().register('default', jsonlSource('a.jsonl')), 'path', /data root/);
  });

  it('accepts a symlink that stays inside the root', async () => {
    const file = await root.write(
      'inside.jsonl',
      jsonl([
        { label: 'a', features: [1] },
        { label: 'b', features: [2] },
      ]),
    );
    await symlink(path.join(root.dir, file), path.join(root.dir, 'alias.jsonl'));
    const registered = await registry().register('default', jsonlSource('alias.jsonl', { validationFraction: 0 }));
    assert.deepEqual(registered.classCounts, [1, 1]);
  });
});

describe('csv reader', () => {
  it('reads label + feature columns; integer labels with declared names are class ids', async () => {
    const file = await root.write('pixels.csv', 'label,pixel1,pixel2\n1,0.5,1\n0, 0.25 ,0\n1,1e-1,-2\n0,3,4\n');
    const registered = await registry().register('default', {
      format: 'csv',
      train: { path: file },
      classNames: ['shirt', 'trouser'],
      validationFraction: 0,
    });
    assert.deepEqual(registered.classCounts, [2, 2]);
    assert.equal(registered.report.featureDim, 2);
  });

  it('rejects non-numeric, non-finite and empty cells, ragged rows and a missing label column', async () => {
    const file = await root.write('broken.csv', 'label,a,b\nx,1,2\ny,NaN,2\nx,1\ny,,abc\n,1,2\n');
    const violations = await expectViolation(
      registry().register('default', { format: 'csv', train: { path: file } }),
      'rows[1].features[0]',
      /not finite/,
    );
    const fields = violations.map((violation) => violation.field);
    assert.deepEqual(fields, ['rows[1].features[0]', 'rows[2].features', 'rows[3].features[0]', 'rows[3].features[1]', 'rows[4].label']);
    const headerless = await root.write('nolabel.csv', 'a,b\n1,2\n');
    await expectViolation(registry().register('default', { format: 'csv', train: { path: headerless } }), 'header', /no label column/);
  });

  it('reads quoted text pairs', async () => {
    const file = await root.write(
      'pairs.csv',
      'id,text_a,text_b,label\n1,"Hello, world","hi",yes\n2,"a ""quoted"" word",b,no\n3,c,d,yes\n4,e,f,no\n',
    );
    const registered = await registry().register('default', {
      format: 'csv',
      train: { path: file },
      validationFraction: 0,
      text: { seqLen: 8 },
    });
    assert.equal(registered.report.inputKind, 'tokens');
    assert.equal(registered.report.textPairs, true);
    assert.deepEqual(registered.classNames, ['no', 'yes']);
  });
});
