// `steadytune datasets ...` against the scripted fake Trainer: flags become RegisterDataset
// requests, local files become UploadDataset chunks, and datasets print as text or JSON.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DatasetFormat, type Dataset } from '../../client/index.js';
import type { RegisterDatasetRequest, UploadDatasetRequest } from '../../client/gen/steadytune/v1/dataset.js';
import { runCli } from '../../client/cli/run.js';
import { startFakeTrainer, type FakeTrainer } from '../fixtures/client-fake-trainer.js';

const DATASET: Dataset = {
  id: 'ds_0123456789abcdef0123456789abcdef',
  contentHash: 'ab'.repeat(32),
  displayName: 'garments',
  format: DatasetFormat.DATASET_FORMAT_IDX,
  classNames: ['shirt', 'shoe'],
  classCounts: [8, 8],
  numExamples: 20,
  report: {
    inputKind: 1,
    featureDim: 784,
    seqLen: 0,
    vocabSize: 0,
    textPairs: false,
    truncatedTexts: 0,
    notes: ['a note'],
    train: { numExamples: 16, classCounts: [8, 8] },
    validation: { numExamples: 4, classCounts: [2, 2] },
    imageHeight: 0,
    imageWidth: 0,
    imageChannels: 0,
  },
  createTime: new Date('2026-01-02T03:04:05Z'),
};

describe('steadytune datasets', () => {
  let trainer: FakeTrainer;
  let registered: RegisterDatasetRequest | undefined;
  const uploaded: UploadDatasetRequest[] = [];
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'steadytune-cli-'));
    trainer = await startFakeTrainer({
      registerDataset: (call, callback) => {
        registered = call.request;
        callback(null, { dataset: DATASET, created: true });
      },
      uploadDataset: (call, callback) => {
        call.on('data', (message: UploadDatasetRequest) => uploaded.push(message));
        call.on('end', () => callback(null, { dataset: DATASET, created: false }));
      },
      getDataset: (call, callback) => callback(null, { dataset: { ...DATASET, id: call.request.datasetId } }),
      listDatasets: (_call, callback) => callback(null, { datasets: [DATASET], nextPageToken: '' }),
    });
  });
  after(async () => {
    await trainer.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const output = { stdout: '', stderr: '' };
    const io = {
      stdout: { write: (text: string) => (output.stdout += text) },
      stderr: { write: (text: string) => (output.stderr += text) },
    };
    const code = await runCli(['--server', trainer.address, ...argv], {}, io);
    return { code, ...output };
  }

  it('register maps paths and options onto the request', async () => {
    const result = await cli(
      'datasets',
      'register',
      '--format',
      'idx',
      '--train-images',
      'f/i.gz',
      '--train-labels',
      'f/l.gz',
      '--class-names',
      'shirt,shoe',
      '--validation-fraction',
      '0.25',
      '--display-name',
      'garments',
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(registered?.format, DatasetFormat.DATASET_FORMAT_IDX);
    assert.deepEqual(registered?.train, { path: '', imagesPath: 'f/i.gz', labelsPath: 'f/l.gz' });
    assert.equal(registered?.validation, undefined);
    assert.deepEqual([registered?.options?.classNames, registered?.options?.validationFraction], [['shirt', 'shoe'], 0.25]);
    assert.match(result.stdout, /^ds_0123456789abcdef0123456789abcdef\n/);
    assert.match(result.stdout, /classes +shirt: 8, shoe: 8/);
  });

  it('upload streams a header, then the local file in chunks named by split', async () => {
    const file = path.join(dir, 'rows.jsonl');
    await writeFile(file, '{"label":"a","features":[1]}\n');
    const result = await cli('datasets', 'upload', '--format', 'jsonl', '--train', file, '--json');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(uploaded[0]?.part?.$case, 'header');
    const chunk = uploaded[1]?.part;
    assert.ok(chunk?.$case === 'chunk' && chunk.value.file === 'train');
    assert.equal((JSON.parse(result.stdout) as { created: boolean }).created, false);
  });

  it('list prints a table and get one dataset; an unknown subcommand is a usage error', async () => {
    assert.match(
      (await cli('datasets', 'list')).stdout,
      /^ID +NAME +FORMAT[^\n]*\n-[- ]+\nds_0123456789abcdef0123456789abcdef +garments +idx/,
    );
    assert.match((await cli('datasets', 'get', 'ds_x')).stdout, /inputs +784 features/);
    assert.equal((await cli('datasets', 'remove')).code, 2);
  });
});
