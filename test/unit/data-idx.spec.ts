import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';

import { hasCode } from '../../server/common/errors.js';
import { InMemoryDatasetRegistry, loadDataset } from '../../server/data/index.js';
import { ViolationCollector } from '../../server/data/errors.js';
import { parseIdx } from '../../server/data/idx.js';
import { DEFAULT_DATA_LIMITS } from '../../server/data/limits.js';
import { expectViolation, makeTempRoot, type TempRoot } from '../fixtures/data-fixtures.js';

const TYPE_BYTES = new Map<number, number>([
  [0x08, 1],
  [0x0c, 4],
  [0x0d, 4],
]);

/** Writes an IDX file: 0 0 type rank, big-endian uint32 dims, big-endian data. */
function encodeIdx(type: 0x08 | 0x0c | 0x0d, dims: readonly number[], values: readonly number[]): Uint8Array {
  const size = TYPE_BYTES.get(type) ?? 1;
  const bytes = new Uint8Array(4 + 4 * dims.length + values.length * size);
  const view = new DataView(bytes.buffer);
  bytes.set([0, 0, type, dims.length]);
  dims.forEach((dim, axis) => view.setUint32(4 + 4 * axis, dim, false));
  const start = 4 + 4 * dims.length;
  values.forEach((value, index) => {
    if (type === 0x08) view.setUint8(start + index, value);
    else if (type === 0x0c) view.setInt32(start + index * 4, value, false);
    else view.setFloat32(start + index * 4, value, false);
  });
  return bytes;
}

describe('IDX reader', () => {
  it('reads big-endian ints and floats, plain or gzip-compressed', () => {
    const violations = new ViolationCollector();
    const ints = parseIdx(encodeIdx(0x0c, [3], [1, -2, 258]), 'f', DEFAULT_DATA_LIMITS, violations);
    assert.deepEqual(ints?.dims, [3]);
    assert.deepEqual(Array.from(ints?.data ?? []), [1, -2, 258]);
    const floats = parseIdx(gzipSync(encodeIdx(0x0d, [1, 2], [0.5, -1.25])), 'f', DEFAULT_DATA_LIMITS, violations);
    assert.deepEqual(floats?.dims, [1, 2]);
    assert.deepEqual(Array.from(floats?.data ?? []), [0.5, -1.25]);
    assert.equal(violations.count, 0);
  });

  it('rejects a bad magic, an unknown type, a size mismatch and a gzip bomb', () => {
    const check = (bytes: Uint8Array, pattern: RegExp, limits = DEFAULT_DATA_LIMITS): void => {
      const violations = new ViolationCollector();
      assert.equal(parseIdx(bytes, 'images', limits, violations), undefined);
      assert.throws(
        () => violations.throwIfAny('x'),
        (error: Error & { violations?: { field: string; description: string }[] }) =>
          error.violations?.[0]?.field === 'images' && pattern.test(error.violations[0].description),
      );
    };
    check(Uint8Array.from([1, 0, 8, 1, 0, 0, 0, 0]), /two zero bytes/);
    check(Uint8Array.from([0, 0, 0x42, 1, 0, 0, 0, 0]), /unknown IDX type/);
    check(encodeIdx(0x08, [2, 2], [1, 2, 3, 4]).subarray(0, 14), /need 16 bytes/);
    check(gzipSync(new Uint8Array(4096)), /decompresses to more than 1000 bytes/, { ...DEFAULT_DATA_LIMITS, maxBytes: 1000 });
  });
});

describe('IDX datasets', () => {
  let root: TempRoot;
  before(async () => {
    root = await makeTempRoot();
  });
  after(async () => {
    await root.remove();
  });

  it('registers images + labels, scaling bytes to [0, 1]', async () => {
    await root.write('images.idx.gz', gzipSync(encodeIdx(0x08, [4, 1, 2], [0, 255, 51, 102, 0, 0, 255, 255])));
    await root.write('labels.idx', encodeIdx(0x08, [4], [0, 1, 0, 1]));
    const registry = new InMemoryDatasetRegistry({ dataRoot: root.dir });
    const { id, classCounts, report } = await registry.register('default', {
      format: 'idx',
      train: { images: { path: 'images.idx.gz' }, labels: { path: 'labels.idx' } },
      validationFraction: 0,
    });
    assert.deepEqual(classCounts, [2, 2]);
    assert.equal(report.featureDim, 2);
    const { examples } = await loadDataset({ tenant: 'default', datasetId: id, split: 'train' }, { registry });
    assert.deepEqual(
      Array.from(examples.inputs.kind === 'features' ? examples.inputs.values : []),
      [0, 1, 0.2, 0.4, 0, 0, 1, 1].map(Math.fround),
    );
  });

  it('names out-of-range labels and count mismatches', async () => {
    await root.write('img3.idx', encodeIdx(0x08, [3, 1], [1, 2, 3]));
    await root.write('lab3.idx', encodeIdx(0x08, [3], [0, 1, 5]));
    await root.write('lab2.idx', encodeIdx(0x08, [2], [0, 1]));
    const registry = new InMemoryDatasetRegistry({ dataRoot: root.dir });
    await expectViolation(
      registry.register('default', {
        format: 'idx',
        train: { images: { path: 'img3.idx' }, labels: { path: 'lab3.idx' } },
        classNames: ['a', 'b'],
      }),
      'labels[2]',
      /class id 5/,
    );
    await expectViolation(
      registry.register('default', {
        format: 'idx',
        train: { images: { path: 'img3.idx' }, labels: { path: 'lab2.idx' } },
      }),
      'labels',
      /2 labels for 3 images/,
    );
    await expectViolation(
      registry.register('default', {
        format: 'idx',
        train: { images: { path: '../img3.idx' }, labels: { path: 'lab2.idx' } },
      }),
      'images.path',
      /escapes/,
    );
  });
});

describe('fashion-mnist built-in', () => {
  it('names the Debian package when the files are missing', async () => {
    const empty = await makeTempRoot();
    await assert.rejects(
      loadDataset({ builtin: 'fashion-mnist', split: 'validation' }, { fashionMnistDir: empty.dir }),
      (error: unknown) => hasCode(error, 'FAILED_PRECONDITION') && /dataset-fashion-mnist/.test(error.message),
    );
    await empty.remove();
  });

  const installed = existsSync('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz');
  // CI installs the Debian package and sets STEADYTUNE_REQUIRE_FASHION_MNIST=1, so there a
  // missing dataset fails instead of skipping.
  const required = process.env['STEADYTUNE_REQUIRE_FASHION_MNIST'] === '1';
  it('loads the official test split as validation', {
    skip: !installed && !required && 'dataset-fashion-mnist not installed',
  }, async () => {
    const { examples, classCounts, classNames } = await loadDataset({ builtin: 'fashion-mnist', split: 'validation' });
    assert.deepEqual(classCounts, new Array(10).fill(1000));
    assert.equal(classNames[9], 'Ankle boot');
    assert.equal(examples.inputs.kind === 'features' && examples.inputs.dim, 784);
    const values = examples.inputs.kind === 'features' ? examples.inputs.values : new Float32Array();
    assert.equal(values.length, 10_000 * 784);
    assert.ok(values.every((value) => value >= 0 && value <= 1));
  });
});
