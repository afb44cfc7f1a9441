// Bring-your-own TF.js LayersModel: model.json + shards read from the data root, the old
// head cut off, its penultimate output as features, a new head of another size on top.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { hasCode } from '../../server/common/errors.js';
import { fileLayersModelHandler, readLayersModelFiles } from '../../server/data/pretrained-files.js';
import {
  createLayersModelClassifier,
  layersModelFeatureExtractor,
  loadLayersBackbone,
  type LayersModelModelSpec,
} from '../../server/engine/models/pretrained/index.js';

const SPEC: LayersModelModelSpec = { family: 'layers_model', path: 'byo/model.json', hiddenUnits: [], dropout: 0 };
const ROWS = [
  [0.1, -0.4, 0.9, 0.3, -1, 0.5],
  [1, 0, 0, 0.2, 0.2, -0.7],
];

let root: string;
/** The original model's hidden-layer output for ROWS, to compare the extracted features with. */
let expectedFeatures: number[][];

before(async () => {
  assert.ok(await tf.setBackend('wasm'));
  root = await mkdtemp(path.join(tmpdir(), 'steadytune-byo-'));
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [6],
        units: 8,
        activation: 'relu',
        name: 'body_dense',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
        biasInitializer: 'ones',
      }),
      tf.layers.dense({ units: 3, activation: 'softmax', name: 'old_head', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  expectedFeatures = tf.tidy(() => (model.getLayer('body_dense').apply(tf.tensor2d(ROWS)) as tf.Tensor2D).arraySync());
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      await mkdir(path.join(root, 'byo'), { recursive: true });
      const weightsManifest = [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }];
      await writeFile(
        path.join(root, 'byo', 'model.json'),
        JSON.stringify({ modelTopology: artifacts.modelTopology, format: 'layers-model', weightsManifest }),
      );
      await writeFile(path.join(root, 'byo', 'weights.bin'), new Uint8Array(artifacts.weightData as ArrayBuffer));
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
});
after(async () => {
  await rm(root, { recursive: true, force: true });
  await tf.setBackend('cpu');
});

describe('layers_model', () => {
  test('head replacement keeps the body weights and changes the output size', async () => {
    const { sha256 } = await readLayersModelFiles('byo/model.json', { dataRoot: root });
    const tensorsBefore = tf.memory().numTensors;
    const backbone = await loadLayersBackbone(fileLayersModelHandler('byo/model.json', { dataRoot: root }), { fingerprint: sha256 });
    assert.equal(backbone.featureDim, 8);
    assert.match(backbone.id, new RegExp(`^layers_model:${sha256}@`));
    const features = await layersModelFeatureExtractor(backbone).extract({
      kind: 'features',
      values: Float32Array.from(ROWS.flat()),
      dim: 6,
    });
    features.values.forEach((value, i) => assert.ok(Math.abs(value - expectedFeatures[Math.floor(i / 8)][i % 8]) < 1e-6, `feature ${i}`));
    const classifier = createLayersModelClassifier({ ...SPEC, hiddenUnits: [4] }, { kind: 'features', dim: 8 }, 5, 1);
    const logits = tf.tidy(
      () =>
        classifier.head(
          classifier.features(
            {
              inputs: tf.tensor2d(features.values, [2, 8]),
              labels: tf.zeros([2], 'int32') as tf.Tensor1D,
              size: 2,
            },
            { training: false, dropoutSeed: 0 },
          ),
        ).shape,
    );
    assert.deepEqual(logits, [2, 5]);
    classifier.dispose();
    backbone.dispose();
    assert.equal(tf.memory().numTensors, tensorsBefore, 'disposing frees the model');
  });

  test('paths outside the data root are refused', async () => {
    await assert.rejects(readLayersModelFiles('../escape/model.json', { dataRoot: root }), (error: unknown) =>
      hasCode(error, 'INVALID_ARGUMENT'),
    );
    await assert.rejects(readLayersModelFiles('byo/missing.json', { dataRoot: root }), /no such file/);
  });
});
