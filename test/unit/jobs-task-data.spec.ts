// A worker's training data for a frozen backbone: features computed once per dataset content
// (cached on disk under the data directory) before the job's selection, the model card
// describing raw inputs, and Predict's raw rows run through the same backbone.
import assert from 'node:assert/strict';
import { readdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { ExampleSet } from '../../server/engine/types.js';
import { loadTrainingData, predictionInputs } from '../../server/jobs/worker/task-data.js';
import type { TrainRequest, WorkerConfig } from '../../server/jobs/worker/protocol.js';
import { optimizerSpec } from '../fixtures/optimizer-spec.js';

/** Eight 28x28 "images": four dark, four bright. */
function images(): ExampleSet {
  const values = new Float32Array(8 * 784);
  for (let i = 0; i < 8; i++) values.fill(i < 4 ? 0.1 + i * 0.01 : 0.9 - i * 0.01, i * 784, (i + 1) * 784);
  return {
    inputs: { kind: 'features', values, dim: 784 },
    labels: Int32Array.from([0, 0, 0, 0, 1, 1, 1, 1]),
    numClasses: 2,
    classNames: ['dark', 'bright'],
  };
}

function request(maxExamples: number): TrainRequest {
  const set = images();
  const input = (split: string) => ({
    selection: { source: { kind: 'registered' as const, datasetId: 'ds_test' }, classes: [], maxExamples },
    preloaded: { examples: set, classNames: ['dark', 'bright'] },
    contentKey: `test-content/${split}`,
  });
  return {
    kind: 'train',
    train: input('train'),
    validation: input('validation'),
    imbalance: { kind: 'none', ratio: 1, seed: 0 },
    run: {
      model: { family: 'mobilenet_v2', inputSize: 32, trainableBlocks: 0, hiddenUnits: [], dropout: 0 },
      method: { kind: 'fft' },
      optimizer: optimizerSpec({ learningRate: 1e-3 }),
      batchSize: 4,
      gradientAccumulation: 1,
      epochs: 1,
      seed: 1,
      fullConflictEvery: 0,
    },
  };
}

describe('worker task data with a frozen backbone', () => {
  let dataDir: string;
  let config: WorkerConfig;
  before(async () => {
    assert.ok(await tf.setBackend('wasm'));
    dataDir = await mkdtemp(path.join(tmpdir(), 'steadytune-task-data-'));
    config = { dataDir };
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
    await tf.setBackend('cpu');
  });

  it('extracts features of the whole split once, then selects; the card keeps the raw input size', async () => {
    const first = await loadTrainingData(request(4), config, () => undefined);
    assert.equal(first.train.examples.inputs.kind === 'features' && first.train.examples.inputs.dim, 1280);
    assert.equal(first.train.examples.labels.length, 4);
    assert.deepEqual(first.card.inputs, { kind: 'features', dim: 784 });
    const cacheFiles = await readdir(path.join(dataDir, 'cache', 'features'));
    assert.equal(cacheFiles.length, 2, 'one entry per split');
    // Another selection of the same content reuses the cached features: nothing new is written.
    const second = await loadTrainingData(request(6), config, () => undefined);
    assert.equal(second.train.examples.labels.length, 6);
    assert.deepEqual(await readdir(path.join(dataDir, 'cache', 'features')), cacheFiles);
    const firstRow = (set: ExampleSet) => (set.inputs.kind === 'features' ? Array.from(set.inputs.values.subarray(0, 1280)) : []);
    assert.deepEqual(firstRow(second.train.examples), firstRow(first.train.examples));
  });

  it('runs Predict rows through the same backbone', async () => {
    const { card } = await loadTrainingData(request(0), config, () => undefined);
    const { inputs } = await predictionInputs(card, images().inputs, config);
    assert.equal(inputs.kind === 'features' && inputs.dim, 1280);
  });
});
