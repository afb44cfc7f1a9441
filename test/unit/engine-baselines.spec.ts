// The paper's regularising baselines: noisytune (noise statistics, determinism), lnsr (penalty
// and gradient against hand numbers), swa (averages against hand numbers, snapshot memory).
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { createMlp } from '../../server/engine/models/mlp.js';
import type { ClassifierModel } from '../../server/engine/models/classifier.js';
import { plainGradient, type MicroBatchContext } from '../../server/engine/methods/method.js';
import { createNoisyTune } from '../../server/engine/methods/noisytune.js';
import { createLnsr, noiseStabilityPenalty } from '../../server/engine/methods/lnsr.js';
import { createSwa } from '../../server/engine/methods/swa.js';
import { batchOf, featureSet, linearModel } from '../fixtures/engine-fixtures.js';

before(async () => {
  await tf.setBackend('cpu');
});

const valuesOf = (model: ClassifierModel): Float32Array[] => model.trainable.map((variable) => Float32Array.from(variable.dataSync()));

function std(values: ArrayLike<number>): number {
  const list = Array.from(values);
  const mean = list.reduce((sum, value) => sum + value, 0) / list.length;
  return Math.sqrt(list.reduce((sum, value) => sum + (value - mean) ** 2, 0) / list.length);
}

describe('noisytune', () => {
  const spec = { family: 'mlp', hiddenUnits: [64], dropout: 0 } as const;

  test('adds uniform noise of width noise * std(p) per parameter tensor; constant tensors stay', () => {
    const model = createMlp(spec, 50, 10, 3);
    const before = valuesOf(model);
    createNoisyTune(0.15).prepare?.(model, 7);
    const after = valuesOf(model);
    // Kernels: mlp/dense0/kernel (std ~0.2) and head/kernel (Glorot, std ~0.13) scale differently.
    for (const index of [0, 2]) {
      const spread = std(before[index]);
      const delta = after[index].map((value, i) => value - before[index][i]);
      const halfWidth = 0.5 * 0.15 * spread;
      assert.ok(
        delta.every((value) => Math.abs(value) <= halfWidth * (1 + 1e-4)),
        'bounded by the uniform width',
      );
      // Uniform on [-w, w] has std w / sqrt(3); 640+ samples keep the estimate within ~10%.
      assert.ok(Math.abs(std(delta) / (halfWidth / Math.sqrt(3)) - 1) < 0.1, `std ratio ${std(delta) / (halfWidth / Math.sqrt(3))}`);
      assert.ok(Math.abs(delta.reduce((sum, value) => sum + value, 0) / delta.length) < halfWidth * 0.1, 'centred');
    }
    // Zero-initialised biases have std 0: unchanged.
    assert.deepEqual(after[1], before[1]);
    assert.deepEqual(after[3], before[3]);
    model.dispose();
  });

  test('is deterministic by seed', () => {
    const perturbed = (seed: number): Float32Array[] => {
      const model = createMlp(spec, 20, 3, 1);
      createNoisyTune(0.15).prepare?.(model, seed);
      const values = valuesOf(model);
      model.dispose();
      return values;
    };
    assert.deepEqual(perturbed(5), perturbed(5));
    assert.notDeepEqual(perturbed(5)[0], perturbed(6)[0]);
  });
});

function contextFor(model: ClassifierModel, noiseSeed: number): MicroBatchContext {
  const set = featureSet(
    [
      [1, 0, 2],
      [0, 1, 1],
    ],
    [0, 1],
    2,
  );
  return { model, batch: batchOf(set), step: 0, totalSteps: 10, dropoutSeed: 1, noiseSeed };
}

describe('lnsr', () => {
  const kernel = [
    [1, 2],
    [3, 4],
    [0, -1],
  ];

  test('penalty matches a hand-computed case', () => {
    const model = linearModel(kernel, [0.5, -0.5]);
    const penalty = tf.tidy(() => {
      const pooled = tf.tensor2d([
        [1, 0, 2],
        [0, 1, 1],
      ]);
      const noise = tf.tensor2d([
        [0.1, 0, -0.2],
        [0, 0.3, 0.1],
      ]);
      // e1 W = [0.1, 0.4] -> 0.17; e2 W = [0.9, 1.1] -> 2.02; 0.2 * 2.19 / 2 = 0.219.
      return noiseStabilityPenalty(model, pooled, model.head(pooled), noise, 0.2, 2).dataSync()[0];
    });
    assert.ok(Math.abs(penalty - 0.219) < 1e-6, `penalty ${penalty}`);
    model.dispose();
  });

  test('gradient = plain gradient + (2 w / n) E^T E W on the head kernel, bias untouched', () => {
    const model = linearModel(kernel, [0.5, -0.5]);
    const context = contextFor(model, 99);
    const [noiseStd, weight] = [0.3, 0.15];
    tf.tidy(() => {
      const plain = plainGradient(context).grads;
      const regularised = createLnsr(noiseStd, weight).gradient(context).grads;
      const noise = tf.randomNormal([2, 3], 0, noiseStd, 'float32', 99);
      const expectedKernel = tf.add(
        plain[model.headKernel.name],
        tf.mul(tf.matMul(tf.matMul(noise, noise, true, false), model.headKernel), (2 * weight) / 2),
      );
      const actual = regularised[model.headKernel.name].dataSync();
      expectedKernel.dataSync().forEach((value, i) => assert.ok(Math.abs(actual[i] - value) < 1e-5, `${actual[i]} vs ${value}`));
      // The bias cancels in head(h + e) - head(h): equal up to rounding.
      const plainBias = plain[model.headBias.name].dataSync();
      regularised[model.headBias.name].dataSync().forEach((value, i) => assert.ok(Math.abs(value - plainBias[i]) < 1e-6));
      const unweighted = createLnsr(noiseStd, 0).gradient(context).grads;
      assert.deepEqual(unweighted[model.headKernel.name].dataSync(), plain[model.headKernel.name].dataSync());
    });
    tf.dispose([context.batch.inputs, context.batch.labels]);
    model.dispose();
  });
});

describe('swa', () => {
  const setKernel = (model: ClassifierModel, value: number): void => tf.tidy(() => model.headKernel.assign(tf.fill([1, 2], value)));
  const info = (step: number, isEpochEnd: boolean) => ({ step, totalSteps: 8, epoch: 0, isEpochEnd });

  test('averages the last `window` epoch-end snapshots', () => {
    const model = linearModel([[0, 0]], [0, 0]);
    const method = createSwa(3);
    const tensorsBefore = tf.memory().numTensors;
    // Epoch ends at steps 2, 4, 6, 8 with kernel 1, 2, 4, 8; the other steps must be ignored.
    [
      [1, 100],
      [2, 1],
      [3, 100],
      [4, 2],
      [5, 100],
      [6, 4],
      [7, 100],
      [8, 8],
    ].forEach(([step, value]) => {
      setKernel(model, value);
      tf.tidy(() => model.headBias.assign(tf.tensor1d([step, -step])));
      method.afterStep?.(model, info(step, step % 2 === 0));
    });
    method.finalize?.(model);
    // Mean of 2, 4, 8 and of biases at steps 4, 6, 8.
    assert.deepEqual(Array.from(model.headKernel.dataSync()), [14 / 3, 14 / 3].map(Math.fround));
    assert.deepEqual(Array.from(model.headBias.dataSync()), [6, -6]);
    method.dispose?.();
    assert.equal(tf.memory().numTensors, tensorsBefore, 'snapshots freed');
    model.dispose();
  });

  test('snapshots every n steps when asked, and a run without snapshots is left as is', () => {
    const model = linearModel([[0, 0]], [0, 0]);
    const everyTwo = createSwa(2, { snapshotEverySteps: 2 });
    for (const step of [1, 2, 3, 4, 5]) {
      setKernel(model, step);
      everyTwo.afterStep?.(model, { ...info(step, false), totalSteps: 5 });
    }
    everyTwo.finalize?.(model);
    // Snapshots at 2, 4 and the last step 5: the window keeps 4 and 5.
    assert.deepEqual(Array.from(model.headKernel.dataSync()), [4.5, 4.5]);
    everyTwo.dispose?.();
    const untouched = createSwa(4);
    setKernel(model, 3);
    untouched.finalize?.(model);
    assert.deepEqual(Array.from(model.headKernel.dataSync()), [3, 3]);
    assert.throws(() => createSwa(0), /window must be an integer >= 1/);
    model.dispose();
  });
});
