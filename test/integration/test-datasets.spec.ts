// Dataset registration through the real server: every format registers from files the test
// writes under the data root (and the same content uploaded hashes alike); malformed files are
// INVALID_ARGUMENT naming the bad row and field; datasets are per tenant (NOT_FOUND elsewhere).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DatasetFormat, GrpcStatus, type SteadytuneClient } from '../../client/index.js';
import { startConfiguredServer, tokensVariable, type ConfiguredServer } from '../fixtures/configured-server.js';
import { jsonl, pointRows, pointsCsv, solidImage, tinyIdx, writeFixture, writeImageFolder } from '../fixtures/dataset-fixtures.js';
import { rejection, tinySpec } from '../fixtures/server-harness.js';

const TOKENS = { acme: 'stt_acme-datasets', globex: 'stt_globex-datasets' };
const UPLOAD_LIMIT = 64 * 1024;

async function violationOf(promise: Promise<unknown>, code: GrpcStatus, field: string): Promise<string> {
  const error = await rejection(promise);
  assert.equal(error.code, code, error.message);
  const violation = error.fieldViolations.find((v) => v.field === field);
  assert.ok(violation, `no violation on ${field}: ${JSON.stringify(error.fieldViolations)}`);
  return violation.description;
}

describe('dataset registration', () => {
  let root: string;
  let server: ConfiguredServer;
  let acme: SteadytuneClient;
  let globex: SteadytuneClient;

  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'steadytune-root-'));
    await writeFixture(root, 'points.jsonl', jsonl(pointRows(20)));
    await writeFixture(root, 'points.csv', pointsCsv(20));
    const idx = tinyIdx(30);
    await writeFixture(root, 'tiny/images.gz', idx.images);
    await writeFixture(root, 'tiny/labels.gz', idx.labels);
    await writeImageFolder(root, 'sky', 5);
    await writeFixture(
      root,
      'bad.jsonl',
      jsonl([
        { label: 'a', features: [1] },
        { label: 3.5, features: [1] },
        { label: 'b', features: ['x'] },
      ]),
    );
    await writeFixture(root, 'no-label.csv', 'x,y\n1,2\n');
    await writeFixture(root, 'short/labels.gz', tinyIdx(29).labels);
    await writeImageFolder(root, 'broken', 2);
    await writeFixture(root, 'broken/day/corrupt.png', new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
    await writeImageFolder(root, 'mixed', 2);
    await writeFixture(root, 'mixed/night/big.png', solidImage('png', 12, [0, 0, 0]));
    server = await startConfiguredServer({
      STEADYTUNE_TOKENS: tokensVariable(TOKENS),
      STEADYTUNE_DATA_ROOT: root,
      STEADYTUNE_MAX_UPLOAD_BYTES: String(UPLOAD_LIMIT),
    });
    acme = server.client({ token: TOKENS.acme });
    globex = server.client({ token: TOKENS.globex });
  });
  after(async () => {
    await server.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('registers JSONL and CSV of the same rows as one content hash, stable across registrations', async () => {
    const first = await acme.registerDataset({
      format: DatasetFormat.DATASET_FORMAT_JSONL,
      train: { path: 'points.jsonl' },
      displayName: 'points',
    });
    const again = await acme.registerDataset({ format: DatasetFormat.DATASET_FORMAT_JSONL, train: { path: 'points.jsonl' } });
    const csv = await acme.registerDataset({ format: DatasetFormat.DATASET_FORMAT_CSV, train: { path: 'points.csv' } });
    assert.equal(first.created, true);
    assert.equal(again.created, false);
    assert.match(first.dataset?.contentHash ?? '', /^[0-9a-f]{64}$/);
    assert.equal(again.dataset?.id, first.dataset?.id);
    assert.equal(csv.dataset?.contentHash, first.dataset?.contentHash);
    assert.deepEqual(first.dataset?.classNames, ['ham', 'spam']);
    // 10 per class, 20% held out per class.
    assert.deepEqual(first.dataset?.classCounts, [8, 8]);
    assert.equal(first.dataset?.numExamples, 20);
    assert.equal(first.dataset?.report?.featureDim, 2);
    assert.equal(again.dataset?.displayName, 'points');
  });

  it('registers IDX files with explicit class names', async () => {
    const { dataset } = await acme.registerDataset({
      format: DatasetFormat.DATASET_FORMAT_IDX,
      train: { imagesPath: 'tiny/images.gz', labelsPath: 'tiny/labels.gz' },
      options: { classNames: ['dim', 'mid', 'bright'], validationFraction: 0.2 },
    });
    assert.deepEqual(dataset?.classNames, ['dim', 'mid', 'bright']);
    assert.deepEqual(dataset?.classCounts, [8, 8, 8]);
    assert.equal(dataset?.report?.featureDim, 16);
  });

  it('registers an image folder (PNG and JPEG), and the same images uploaded hash alike', async () => {
    const registered = await acme.registerDataset({ format: DatasetFormat.DATASET_FORMAT_IMAGE_FOLDER, train: { path: 'sky' } });
    const { dataset } = registered;
    assert.deepEqual(dataset?.classNames, ['day', 'night']);
    assert.deepEqual(dataset?.classCounts, [4, 4]);
    assert.deepEqual([dataset?.report?.imageHeight, dataset?.report?.imageWidth, dataset?.report?.imageChannels], [8, 8, 1]);
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i < 5; i++) {
      const [kind, extension] = i % 2 === 0 ? (['png', 'png'] as const) : (['jpeg', 'jpg'] as const);
      files[`train/night/${i}.${extension}`] = solidImage(kind, 8, [10 + i, 20, 30]);
      files[`train/day/${i}.${extension}`] = solidImage(kind, 8, [230 - i, 220, 200]);
    }
    const uploaded = await acme.uploadDataset({ format: DatasetFormat.DATASET_FORMAT_IMAGE_FOLDER, files, chunkBytes: 100 });
    assert.equal(uploaded.dataset?.contentHash, dataset?.contentHash);
    assert.equal(uploaded.created, false);
    const resized = await acme.registerDataset({
      format: DatasetFormat.DATASET_FORMAT_IMAGE_FOLDER,
      train: { path: 'mixed' },
      options: { imageSize: 6, color: true },
    });
    assert.deepEqual([resized.dataset?.report?.imageHeight, resized.dataset?.report?.imageChannels], [6, 3]);
  });

  it('rejects malformed datasets with INVALID_ARGUMENT naming the row and field', async () => {
    const invalid = GrpcStatus.INVALID_ARGUMENT;
    const jsonlFormat = DatasetFormat.DATASET_FORMAT_JSONL;
    await violationOf(acme.registerDataset({ format: jsonlFormat, train: { path: 'bad.jsonl' } }), invalid, 'rows[1].label');
    await violationOf(acme.registerDataset({ format: jsonlFormat, train: { path: 'bad.jsonl' } }), invalid, 'rows[2].features[0]');
    await violationOf(
      acme.registerDataset({ format: DatasetFormat.DATASET_FORMAT_CSV, train: { path: 'no-label.csv' } }),
      invalid,
      'header',
    );
    await violationOf(
      acme.registerDataset({
        format: DatasetFormat.DATASET_FORMAT_IDX,
        train: { imagesPath: 'tiny/images.gz', labelsPath: 'short/labels.gz' },
      }),
      invalid,
      'labels',
    );
    assert.match(
      await violationOf(
        acme.registerDataset({ format: DatasetFormat.DATASET_FORMAT_IMAGE_FOLDER, train: { path: 'broken' } }),
        invalid,
        'train.files["day/corrupt.png"]',
      ),
      /cannot be read as an image/,
    );
    assert.match(
      await violationOf(
        acme.registerDataset({ format: DatasetFormat.DATASET_FORMAT_IMAGE_FOLDER, train: { path: 'mixed' } }),
        invalid,
        'train.files["night/big.png"]',
      ),
      /image_size/,
    );
    assert.match(
      await violationOf(acme.registerDataset({ format: jsonlFormat, train: { path: '../etc/passwd' } }), invalid, 'train.path'),
      /escapes/,
    );
    await violationOf(
      acme.registerDataset({ format: DatasetFormat.DATASET_FORMAT_UNSPECIFIED, train: { path: 'points.jsonl' } }),
      invalid,
      'format',
    );
    await violationOf(
      acme.registerDataset({ format: DatasetFormat.DATASET_FORMAT_IDX, train: { path: 'points.jsonl' } }),
      invalid,
      'train.images_path',
    );
    await violationOf(
      acme.registerDataset({ format: jsonlFormat, train: { path: 'points.jsonl' }, options: { imageSize: 8 } }),
      invalid,
      'options.image_size',
    );
  });

  it('rejects bad uploads whole: unknown file names, over the size limit, bad rows', async () => {
    const invalid = GrpcStatus.INVALID_ARGUMENT;
    const bytes = new TextEncoder().encode(jsonl(pointRows(20)));
    await violationOf(
      acme.uploadDataset({ format: DatasetFormat.DATASET_FORMAT_JSONL, files: { 'train.jsonl': bytes } }),
      invalid,
      'files["train.jsonl"]',
    );
    await violationOf(
      acme.uploadDataset({
        format: DatasetFormat.DATASET_FORMAT_JSONL,
        files: { train: new Uint8Array(UPLOAD_LIMIT + 1) },
        chunkBytes: 16 * 1024,
      }),
      invalid,
      'requests[5].chunk.data',
    );
    const rows = await violationOf(
      acme.uploadDataset({
        format: DatasetFormat.DATASET_FORMAT_JSONL,
        files: { train: new TextEncoder().encode(jsonl([{ label: 'a', features: [1] }, { label: 'b' }])) },
      }),
      invalid,
      'rows[1]',
    );
    assert.match(rows, /needs features, text/);
    const uploaded = await acme.uploadDataset({ format: DatasetFormat.DATASET_FORMAT_JSONL, files: { train: bytes } });
    const listed = await acme.listDatasets();
    assert.ok(listed.datasets.some((dataset) => dataset.id === uploaded.dataset?.id));
  });

  it('keeps datasets per tenant: another tenant gets NOT_FOUND and an empty list', async () => {
    const { dataset } = await acme.registerDataset({ format: DatasetFormat.DATASET_FORMAT_JSONL, train: { path: 'points.jsonl' } });
    const id = dataset?.id ?? '';
    assert.equal((await acme.getDataset(id)).id, id);
    assert.equal((await rejection(globex.getDataset(id))).code, GrpcStatus.NOT_FOUND);
    assert.deepEqual((await globex.listDatasets()).datasets, []);
    const spec = { ...tinySpec(), train: { source: { $case: 'datasetId' as const, value: id }, classes: [], maxExamples: 0 } };
    const withValidation = { ...spec, validation: spec.train };
    assert.equal((await rejection(globex.startFineTune({ spec: withValidation }))).code, GrpcStatus.NOT_FOUND);
    const transformer = {
      ...withValidation,
      model: { family: { $case: 'transformer' as const, value: { dModel: 0, heads: 0, layers: 0, ffDim: 0, pooling: 0, dropout: 0 } } },
    };
    await violationOf(acme.startFineTune({ spec: transformer }), GrpcStatus.INVALID_ARGUMENT, 'spec.model.transformer');
  });
});
