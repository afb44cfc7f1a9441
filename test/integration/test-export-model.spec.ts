// ExportModel over loopback: a trained MLP leaves the service as a bundle (docs/MODEL-BUNDLE.md)
// that the SDK writes and checks, and that numpy alone (Debian python3-numpy, no steadytune, no
// TF.js) runs to Predict's probabilities. The Python part is skipped where /usr/bin/python3 lacks
// numpy, unless STEADYTUNE_REQUIRE_PYTHON=1 (CI), which turns the skip into a failure.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { GrpcStatus, type ExportModelResponse, SteadytuneError } from '../../client/index.js';
import { writeBundle } from '../../client/private/model-export.js';
import { parseSafetensors } from '../../server/engine/models/pretrained/safetensors.js';
import { startTestServer, tinySpec, type TestServer } from '../fixtures/server-harness.js';

const PYTHON = '/usr/bin/python3';
const CONSUMER = fileURLToPath(new URL('../python/bundle_consumer.py', import.meta.url));
const REQUIRED = process.env['STEADYTUNE_REQUIRE_PYTHON'] === '1';
const numpyProbe = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' });
const numpyMissing = numpyProbe.error !== undefined || numpyProbe.status !== 0;

/** Deterministic MNIST-shaped inputs in [0, 1]. */
function features(count: number): number[][] {
  let state = 12345;
  const next = (): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  return Array.from({ length: count }, () => Array.from({ length: 784 }, () => (next() < 0.8 ? 0 : next())));
}

describe('ExportModel', () => {
  let server: TestServer;
  let jobId: string;
  let scratch: string;

  before(async () => {
    server = await startTestServer({ concurrency: 1 });
    scratch = await mkdtemp(path.join(tmpdir(), 'steadytune-export-'));
    const started = await server.client.startFineTune({ spec: { ...tinySpec({ seeds: [1, 2] }), ensemble: true } });
    jobId = started.job?.id ?? '';
    const job = await server.client.waitForJob(jobId);
    assert.equal(job.reason, '');
  });
  after(async () => {
    await server?.stop();
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  });

  it('writes every seed as safetensors, model.json, ensemble.json and a run card that hashes them', async (t) => {
    const dir = path.join(scratch, 'bundle');
    const bundle = await server.client.exportModel(jobId, dir);
    t.diagnostic(`bundle: ${bundle.totalBytes} bytes; ${bundle.files.map((file) => `${file.path} ${file.bytes}`).join(', ')}`);
    assert.deepEqual(
      bundle.files.map((file) => file.path),
      ['seed-1/model.safetensors', 'seed-2/model.safetensors', 'model.json', 'ensemble.json', 'run-card.json'],
    );
    const model = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
    assert.equal(model.family, 'mlp');
    assert.deepEqual(model.model.hiddenUnits, [32]);
    assert.deepEqual(model.inputs, { kind: 'features', dim: 784 });
    assert.deepEqual(model.preprocessing.image, {
      height: 28,
      width: 28,
      channels: 1,
      layout: 'channels_last',
      scale: 'pixel / 255, in [0, 1]',
    });
    assert.deepEqual(model.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.equal(model.delivery, 'ensemble');
    const weights = parseSafetensors(await readFile(path.join(dir, 'seed-1', 'model.safetensors')));
    assert.deepEqual([...weights.tensors.keys()].sort(), ['head/bias', 'head/kernel', 'mlp/dense0/bias', 'mlp/dense0/kernel']);
    assert.deepEqual(weights.tensors.get('mlp/dense0/kernel')?.shape, [784, 32]);
    const card = JSON.parse(await readFile(path.join(dir, 'run-card.json'), 'utf8'));
    assert.equal(card.jobId, jobId);
    assert.deepEqual(card.seeds, [1, 2]);
    assert.equal(card.runs.length, 2);
    assert.match(card.runs[0].verdict, /^(ok|degenerate|collapsed)$/);
    assert.equal(typeof card.summary.accuracy.mean, 'number');
    assert.match(card.versions.tfjs, /^\d+\.\d+\.\d+/);
    assert.deepEqual(Object.keys(card.contentHashes).sort(), [
      'ensemble.json',
      'model.json',
      'seed-1/model.safetensors',
      'seed-2/model.safetensors',
    ]);
  });

  it('runs in numpy alone to the probabilities Predict returns', {
    skip: numpyMissing && !REQUIRED ? `skipped: ${PYTHON} lacks numpy` : false,
  }, async (t) => {
    assert.ok(!numpyMissing, `STEADYTUNE_REQUIRE_PYTHON=1 but ${PYTHON} cannot import numpy (apt-get install python3-numpy)`);
    const dir = path.join(scratch, 'for-numpy');
    await server.client.exportModel(jobId, dir);
    const inputs = features(16);
    const predicted = await server.client.predict({ jobId, seed: 2, examples: inputs.map((values) => ({ features: values })) });
    const cases = path.join(scratch, 'cases.json');
    await writeFile(cases, JSON.stringify({ seed: 2, features: inputs, probabilities: predicted.predictions.map((p) => p.probabilities) }));
    const run = spawnSync(PYTHON, [CONSUMER, dir, cases], { encoding: 'utf8' });
    for (const line of `${run.stdout}${run.stderr}`.trim().split('\n')) t.diagnostic(line);
    assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
    assert.match(run.stdout, /numpy consumer: OK/);
  });

  it('refuses unknown jobs (NOT_FOUND) and jobs that have not succeeded (FAILED_PRECONDITION)', async () => {
    await assert.rejects(
      server.client.exportModel('no-such-job', path.join(scratch, 'none')),
      (error: unknown) => error instanceof SteadytuneError && error.code === GrpcStatus.NOT_FOUND,
    );
    const started = await server.client.startFineTune({ spec: tinySpec({ seeds: [3], examples: 2000 }) });
    const running = started.job?.id ?? '';
    await assert.rejects(
      server.client.exportModel(running, path.join(scratch, 'running')),
      (error: unknown) =>
        error instanceof SteadytuneError && error.code === GrpcStatus.FAILED_PRECONDITION && /only SUCCEEDED jobs/.test(error.details),
    );
    await server.client.cancelJob(running).catch(() => undefined);
  });
});

describe('writeBundle', () => {
  const encoder = new TextEncoder();
  const chunk = (file: string, offset: number, text: string, last: boolean): ExportModelResponse => ({
    path: file,
    offset,
    data: Buffer.from(encoder.encode(text)),
    last,
  });
  async function* stream(chunks: ExportModelResponse[]): AsyncGenerator<ExportModelResponse> {
    yield* chunks;
  }
  const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
  let scratch: string;
  before(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'steadytune-bundle-'));
  });
  after(() => rm(scratch, { recursive: true, force: true }));

  const card = (hash: string): string => JSON.stringify({ contentHashes: { 'model.json': hash } });

  it('accepts a bundle whose files match the run card, chunk by chunk', async () => {
    const bundle = await writeBundle(
      stream([
        chunk('model.json', 0, '{"a":', false),
        chunk('model.json', 5, '1}', true),
        chunk('run-card.json', 0, card(sha256('{"a":1}')), true),
      ]),
      path.join(scratch, 'good'),
    );
    assert.equal(await readFile(path.join(scratch, 'good', 'model.json'), 'utf8'), '{"a":1}');
    assert.equal(bundle.files.length, 2);
  });

  it('refuses a tampered file, a truncated file and an unsafe path, naming the file', async () => {
    const tampered = stream([chunk('model.json', 0, '{"a":2}', true), chunk('run-card.json', 0, card(sha256('{"a":1}')), true)]);
    await assert.rejects(writeBundle(tampered, path.join(scratch, 'tampered')), /DATA_LOSS: model\.json does not match its sha256/);
    const truncated = stream([chunk('model.json', 0, '{"a":', false)]);
    await assert.rejects(writeBundle(truncated, path.join(scratch, 'truncated')), /stream ended inside model\.json/);
    const gap = stream([chunk('model.json', 0, '{"a":', false), chunk('model.json', 9, '1}', true)]);
    await assert.rejects(writeBundle(gap, path.join(scratch, 'gap')), /model\.json is incomplete/);
    await assert.rejects(writeBundle(stream([chunk('../evil', 0, 'x', true)]), path.join(scratch, 'evil')), /unsafe bundle path/);
  });
});
