// Registered datasets outlive the server: register a JSONL file through the real server
// process, start a job on it, SIGTERM the server mid-run and start it again on the same data
// directory. GetDataset and ListDatasets still know the dataset (same content hash), and the
// job resumes on it and SUCCEEDS.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DatasetFormat, JobState, type FineTuneSpec } from '../../client/index.js';
import { jsonl, writeFixture } from '../fixtures/dataset-fixtures.js';
import { tinySpec } from '../fixtures/server-harness.js';
import { clientFor, notices, startServerProcess, stepNumbers, type ServerProcess } from '../fixtures/server-process.js';

const ROWS = 6000;
const FEATURES = 32;
const EPOCHS = 3;
const DRAIN_AFTER_STEP = 10;

/** Two separable classes with some per-row variation, enough steps for a drain to land mid-run. */
function rows(): Array<{ label: string; features: number[] }> {
  return Array.from({ length: ROWS }, (_, i) => {
    const spam = i % 2 === 1;
    return {
      label: spam ? 'spam' : 'ham',
      features: Array.from({ length: FEATURES }, (_, f) => (spam ? 0.7 : 0.3) + ((i * 7 + f) % 11) * 0.01),
    };
  });
}

describe('registered datasets across a restart', { timeout: 240_000 }, () => {
  let dataDir = '';
  let server: ServerProcess | undefined;

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'steadytune-dataset-restart-'));
    // The default data root: <dataDir>/datasets.
    await writeFixture(path.join(dataDir, 'datasets'), 'points.jsonl', jsonl(rows()));
  });
  after(async () => {
    server?.child.kill('SIGKILL');
    await server?.exited;
    await rm(dataDir, { recursive: true, force: true });
  });

  const start = (port = 0): Promise<ServerProcess> =>
    startServerProcess({ dataDir, port, env: { STEADYTUNE_CHECKPOINT_EVERY_STEPS: '100000' } });

  it('keeps the dataset and resumes the job on it after SIGTERM and a restart', async () => {
    const began = performance.now();
    server = await start();
    const { port } = server;
    const client = clientFor(port);
    const registered = await client.registerDataset({
      format: DatasetFormat.DATASET_FORMAT_JSONL,
      train: { path: 'points.jsonl' },
      displayName: 'points',
    });
    const dataset = registered.dataset ?? assert.fail('no dataset');
    const source = { source: { $case: 'datasetId' as const, value: dataset.id }, classes: [], maxExamples: 0 };
    const spec: FineTuneSpec = { ...tinySpec({ epochs: EPOCHS, seeds: [3] }), train: source, validation: source };
    const jobId = (await client.startFineTune({ spec })).job?.id ?? assert.fail('no job');

    let drainPoint: () => void = () => {};
    const reachedDrainPoint = new Promise<void>((resolve) => (drainPoint = resolve));
    const watching = (async () => {
      for await (const event of client.streamMetrics(jobId, { maxReconnects: 500 })) {
        if (event.event?.$case === 'step' && event.event.value.step >= DRAIN_AFTER_STEP) drainPoint();
        if (
          event.event?.$case === 'stateChanged' &&
          event.event.value.state !== JobState.JOB_STATE_RUNNING &&
          event.event.value.state !== JobState.JOB_STATE_QUEUED
        )
          drainPoint();
      }
    })();
    await reachedDrainPoint;
    server.child.kill('SIGTERM');
    const { code } = await server.exited;
    assert.equal(code, 0, server.stderr());
    const suspended = server.logs.some((entry) => entry['msg'] === 'job suspended; it resumes on the next start');

    server = await start(port);
    const after = await client.getDataset(dataset.id);
    assert.equal(after.contentHash, dataset.contentHash);
    assert.equal(after.displayName, 'points');
    assert.deepEqual(after.classCounts, dataset.classCounts);
    assert.deepEqual(
      (await client.listDatasets()).datasets.map((d) => d.id),
      [dataset.id],
    );

    const job = await client.waitForJob(jobId);
    assert.equal(job.state, JobState.JOB_STATE_SUCCEEDED, job.reason);
    await watching;
    const replay: string[] = [];
    const steps: number[] = [];
    for await (const event of client.streamMetrics(jobId)) {
      replay.push(...notices([event]));
      steps.push(...stepNumbers([event]));
    }
    // Drained mid-run (the usual case): the restarted server resumed the job on the stored dataset.
    if (suspended) assert.ok(replay.includes('resumed after a server restart'), replay.join('; '));
    const stepsPerEpoch = Math.ceil((ROWS - ROWS * 0.2) / 32);
    assert.equal(steps.at(-1), EPOCHS * stepsPerEpoch);
    console.log(
      `dataset-restart: drained mid-run ${suspended}, ${steps.length} steps, ${((performance.now() - began) / 1000).toFixed(1)} s`,
    );
    client.close();
  });
});
