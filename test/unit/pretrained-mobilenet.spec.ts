// nsfwjs's MobileNetV2 as a backbone: the bundled model loads offline, the extractor gives
// finite pooled features, the re-implemented trainable tail reproduces the frozen network,
// and frozen features are cached by dataset content.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { FileFeatureCache } from '../../server/data/features-cache.js';
import type { ExampleSet, FeatureInputs } from '../../server/engine/types.js';
import { parameterName } from '../../server/engine/models/parameter-names.js';
import {
  cachedFeatureSet,
  createMobileNetClassifier,
  loadMobileNetV2Backbone,
  mobilenetFeatureExtractor,
  nsfwjsMobileNetV2Handler,
  type FeatureExtractor,
  type MobileNetV2ModelSpec,
} from '../../server/engine/models/pretrained/index.js';

/** Four 28x28 grayscale "images" in [0, 1]: a gradient, a square, a stripe pattern, noise. */
function images(): FeatureInputs {
  const values = new Float32Array(4 * 784);
  for (let p = 0; p < 784; p++) {
    const [row, column] = [Math.floor(p / 28), p % 28];
    values[p] = column / 27;
    values[784 + p] = row > 6 && row < 20 && column > 6 && column < 20 ? 1 : 0;
    values[2 * 784 + p] = row % 4 < 2 ? 0.9 : 0.1;
    values[3 * 784 + p] = Math.abs(Math.sin(p * 12.9898)) % 1;
  }
  return { kind: 'features', values, dim: 784 };
}

const EVAL = { training: false, dropoutSeed: 0 };
const headSpec = (inputSize: number, trainableBlocks: number): MobileNetV2ModelSpec => ({
  family: 'mobilenet_v2',
  inputSize,
  trainableBlocks,
  hiddenUnits: [],
  dropout: 0,
});

let root: string;
before(async () => {
  assert.ok(await tf.setBackend('wasm'));
  root = await mkdtemp(path.join(tmpdir(), 'steadytune-features-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
  await tf.setBackend('cpu');
});

describe('MobileNetV2 from nsfwjs', () => {
  test('the IOHandler loads the bundled LayersModel offline', async () => {
    const model = await tf.loadLayersModel(nsfwjsMobileNetV2Handler());
    assert.deepEqual(model.inputs[0].shape, [null, 224, 224, 3]);
    assert.deepEqual(model.outputs[0].shape, [null, 5]);
    assert.ok(model.countParams() > 2_000_000);
    model.dispose();
  });

  test('frozen extraction at 32 px gives finite 1280-d pooled features', async () => {
    const backbone = await loadMobileNetV2Backbone({ inputSize: 32, trainableBlocks: 0 });
    const before = tf.memory().numTensors;
    const features = await mobilenetFeatureExtractor(backbone, { batchSize: 3 }).extract(images());
    assert.equal(tf.memory().numTensors, before, 'extraction leaks no tensors');
    assert.equal(features.dim, 1280);
    assert.equal(features.values.length, 4 * 1280);
    assert.ok(features.values.every(Number.isFinite));
    assert.ok(features.values.some((value) => value > 0));
    backbone.dispose();
  });

  for (const [inputSize, trainableBlocks] of [
    [32, 1],
    [64, 4],
  ] as const) {
    test(`the trainable tail (${trainableBlocks} blocks, ${inputSize} px) reproduces the frozen network`, async () => {
      const frozen = await loadMobileNetV2Backbone({ inputSize, trainableBlocks: 0 });
      const expected = await mobilenetFeatureExtractor(frozen).extract(images());
      const backbone = await loadMobileNetV2Backbone({ inputSize, trainableBlocks });
      const prefixOutput = await mobilenetFeatureExtractor(backbone).extract(images());
      const model = createMobileNetClassifier(
        headSpec(inputSize, trainableBlocks),
        backbone.tail,
        { kind: 'features', dim: prefixOutput.dim },
        10,
        1,
      );
      const pooled = tf.tidy(() =>
        model
          .features(
            {
              inputs: tf.tensor2d(prefixOutput.values, [4, prefixOutput.dim]),
              labels: tf.zeros([4], 'int32') as tf.Tensor1D,
              size: 4,
            },
            EVAL,
          )
          .dataSync(),
      );
      pooled.forEach((value, i) => assert.ok(Math.abs(value - expected.values[i]) < 1e-4, `[${i}] ${value} vs ${expected.values[i]}`));
      const names = model.trainable.map(parameterName);
      assert.ok(names.includes('mobilenet_v2/conv_1/kernel') && names.includes('head/kernel'), names.join(', '));
      if (trainableBlocks === 4) assert.ok(names.includes('mobilenet_v2/block_14/depthwise/kernel'));
      model.dispose();
      frozen.dispose();
      backbone.dispose();
    });
  }

  test('the tail trains on wasm: finite gradients for every tail variable, none leaked', async () => {
    const backbone = await loadMobileNetV2Backbone({ inputSize: 64, trainableBlocks: 4 });
    const prefixOutput = await mobilenetFeatureExtractor(backbone).extract(images());
    const model = createMobileNetClassifier(
      { ...headSpec(64, 4), hiddenUnits: [16], dropout: 0.2 },
      backbone.tail,
      { kind: 'features', dim: prefixOutput.dim },
      3,
      1,
    );
    const tensorsBefore = tf.memory().numTensors;
    const { value, grads } = tf.tidy(() =>
      tf.variableGrads(() => {
        const inputs = tf.tensor2d(prefixOutput.values, [4, prefixOutput.dim]);
        const logits = model.head(
          model.features({ inputs, labels: tf.zeros([4], 'int32') as tf.Tensor1D, size: 4 }, { training: true, dropoutSeed: 2 }),
        );
        return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d([0, 1, 2, 0], 'int32'), 3), logits) as tf.Scalar;
      }, model.trainable as tf.Variable[]),
    );
    for (const variable of model.trainable) {
      const gradient = grads[variable.name].dataSync();
      assert.ok(gradient.every(Number.isFinite), parameterName(variable));
      if (parameterName(variable).endsWith('depthwise/kernel'))
        assert.ok(
          gradient.some((v) => v !== 0),
          `${parameterName(variable)} gets a gradient`,
        );
    }
    tf.dispose([value, ...Object.values(grads)]);
    assert.equal(tf.memory().numTensors, tensorsBefore);
    model.dispose();
    backbone.dispose();
  });
});

describe('frozen feature cache', () => {
  /** Counts its runs; features are the first two inputs doubled. */
  function countingExtractor(): FeatureExtractor & { runs: number } {
    const extractor = {
      id: 'counting@v1',
      featureDim: 2,
      runs: 0,
      async extract(inputs: FeatureInputs): Promise<FeatureInputs> {
        extractor.runs += 1;
        const count = inputs.values.length / inputs.dim;
        const values = Float32Array.from({ length: count * 2 }, (_, i) => 2 * inputs.values[Math.floor(i / 2) * inputs.dim + (i % 2)]);
        return { kind: 'features', values, dim: 2 };
      },
    };
    return extractor;
  }
  const set: ExampleSet = {
    inputs: { kind: 'features', values: Float32Array.of(1, 2, 3, 4, 5, 6), dim: 3 },
    labels: Int32Array.of(0, 1),
    numClasses: 2,
  };

  for (const [name, makeStore] of [
    ['Map', () => new Map<string, FeatureInputs>()],
    ['FileFeatureCache', () => new FileFeatureCache(path.join(root, 'features'))],
  ] as const) {
    test(`${name}: hit on the same dataset hash, miss on another`, async () => {
      const extractor = countingExtractor();
      const store = makeStore();
      const first = await cachedFeatureSet(extractor, set, `sha-a|train`, store);
      const second = await cachedFeatureSet(extractor, set, `sha-a|train`, store);
      const other = await cachedFeatureSet(extractor, set, `sha-b|train`, store);
      assert.deepEqual([first.hit, second.hit, other.hit, extractor.runs], [false, true, false, 2]);
      assert.deepEqual(Array.from((second.set.inputs as FeatureInputs).values), [2, 4, 8, 10]);
      assert.deepEqual(second.set.labels, set.labels);
    });
  }

  test('the file cache survives a new instance (another process) and ignores a foreign key', async () => {
    const directory = path.join(root, 'persisted');
    await new FileFeatureCache(directory).set('k1', { kind: 'features', values: Float32Array.of(0.5, -1, 3, 7), dim: 2 });
    const read = await new FileFeatureCache(directory).get('k1');
    assert.deepEqual(read && { dim: read.dim, values: Array.from(read.values) }, { dim: 2, values: [0.5, -1, 3, 7] });
    assert.equal(await new FileFeatureCache(directory).get('k2'), undefined);
  });
});
