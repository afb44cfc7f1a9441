// Offline inference over loopback: a trained MLP job is exported, then `loadExportedModel` (the
// SDK's TF.js entry, no server) and `steadytune predict --model` give Predict's probabilities, per
// seed and for the seeds' vote; a bundle whose weights were altered is refused, naming the file.
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../client/cli/run.js';
import { loadExportedModel } from '../../client/offline/index.js';
import { startTestServer, tinySpec, type TestServer } from '../fixtures/server-harness.js';

const TOLERANCE = 1e-6;

/** Deterministic MNIST-shaped inputs in [0, 1]. */
function features(count: number): number[][] {
  let state = 987654;
  const next = (): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  return Array.from({ length: count }, () => Array.from({ length: 784 }, () => (next() < 0.8 ? 0 : next())));
}

function maxAbsDifference(a: readonly (readonly number[])[], b: readonly (readonly number[])[]): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  a.forEach((row, i) => {
    assert.equal(row.length, b[i]?.length);
    row.forEach((value, c) => {
      worst = Math.max(worst, Math.abs(value - (b[i]?.[c] ?? Number.NaN)));
    });
  });
  return worst;
}

describe('offline inference of an exported bundle', () => {
  let server: TestServer;
  let jobId: string;
  let scratch: string;
  let bundle: string;
  const inputs = features(64);

  before(async () => {
    server = await startTestServer({ concurrency: 1 });
    scratch = await mkdtemp(path.join(tmpdir(), 'steadytune-offline-'));
    const started = await server.client.startFineTune({ spec: { ...tinySpec({ seeds: [1, 2] }), ensemble: true } });
    jobId = started.job?.id ?? '';
    const job = await server.client.waitForJob(jobId);
    assert.equal(job.reason, '');
    bundle = path.join(scratch, 'bundle');
    await server.client.exportModel(jobId, bundle);
  });
  after(async () => {
    await server?.stop();
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  });

  it("gives each seed's probabilities as Predict does, within 1e-6", async (t) => {
    const model = await loadExportedModel(bundle);
    assert.deepEqual(model.seeds, [1, 2]);
    for (const seed of model.seeds) {
      const served = await server.client.predict({ jobId, seed, examples: inputs.map((values) => ({ features: values })) });
      const offline = model.predictSeed(seed, inputs);
      const difference = maxAbsDifference(
        offline.map((p) => p.probabilities),
        served.predictions.map((p) => p.probabilities),
      );
      t.diagnostic(`seed ${seed}: max |offline - Predict| = ${difference.toExponential(3)} over ${inputs.length} examples`);
      assert.ok(difference <= TOLERANCE, `seed ${seed} differs by ${difference}`);
      assert.deepEqual(
        offline.map((p) => p.label),
        served.predictions.map((p) => p.label),
      );
    }
  });

  it("gives the delivered vote's shares and labels as Predict with seed 0, also through the CLI", async () => {
    const model = await loadExportedModel(bundle);
    assert.equal(model.description.delivery, 'ensemble');
    const served = await server.client.predict({ jobId, seed: 0, examples: inputs.map((values) => ({ features: values })) });
    const offline = model.predict(inputs);
    assert.equal(
      maxAbsDifference(
        offline.map((p) => p.probabilities),
        served.predictions.map((p) => p.probabilities),
      ),
      0,
    );
    assert.deepEqual(
      offline.map((p) => p.label),
      served.predictions.map((p) => p.label),
    );

    const rows = path.join(scratch, 'rows.jsonl');
    await writeFile(
      rows,
      inputs.map((values, i) => JSON.stringify(i % 2 === 0 ? { features: values, label: 3 } : { features: values })).join('\n'),
    );
    let stdout = '';
    let stderr = '';
    const io = { stdout: { write: (text: string) => (stdout += text) }, stderr: { write: (text: string) => (stderr += text) } };
    const code = await runCli(['predict', '--model', bundle, '--input', rows], {}, io);
    assert.equal(code, 0, stderr);
    const printed = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { label: number; probabilities: number[] });
    assert.deepEqual(
      printed.map((p) => p.probabilities),
      offline.map((p) => p.probabilities),
    );
  });

  it('refuses a bundle whose weights were altered or are missing, naming the file', async () => {
    const tampered = path.join(scratch, 'tampered');
    await cp(bundle, tampered, { recursive: true });
    const weights = path.join(tampered, 'seed-1', 'model.safetensors');
    const bytes = await readFile(weights);
    const last = bytes.byteLength - 1;
    bytes[last] = (bytes[last] ?? 0) ^ 0x01;
    await writeFile(weights, bytes);
    await assert.rejects(loadExportedModel(tampered), /DATA_LOSS.*seed-1\/model\.safetensors does not match its sha256 in run-card\.json/);

    await rm(weights);
    await assert.rejects(loadExportedModel(tampered), /seed-1\/model\.safetensors is missing from the bundle/);

    let stderr = '';
    const io = { stdout: { write: () => true }, stderr: { write: (text: string) => (stderr += text) } };
    const rows = path.join(scratch, 'one.jsonl');
    await writeFile(rows, `${JSON.stringify({ features: inputs[0] })}\n`);
    assert.notEqual(await runCli(['predict', '--model', tampered, '--input', rows], {}, io), 0);
    assert.match(stderr, /seed-1\/model\.safetensors is missing/);
  });
});
