import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { createDsgd } from '../../server/engine/methods/dsgd.js';
import { createFft } from '../../server/engine/methods/fft.js';
import type { MicroBatchContext } from '../../server/engine/methods/method.js';
import { weightedGradient } from '../../server/engine/methods/method.js';
import { createPcgrad, projectConflicting } from '../../server/engine/methods/pcgrad.js';
import type { ClassifierModel } from '../../server/engine/models/classifier.js';
import { createMlp } from '../../server/engine/models/mlp.js';
import { conflictCosine, conflictSums, fullGroupGradients, headGroupGradients } from '../../server/engine/telemetry.js';
import { batchOf, cosine, flatGradient, linearModel, randomSet, relativeDifference } from '../fixtures/engine-fixtures.js';

before(async () => {
  await tf.setBackend('cpu');
});

/** A 4-16-3 MLP and 12 random examples; both groups non-empty (asserted). */
function mixedContext(dropout = 0): MicroBatchContext {
  const model = createMlp({ family: 'mlp', hiddenUnits: [16], dropout }, 4, 3, 7);
  const batch = batchOf(randomSet(12, 4, 3, 11));
  return { model, batch, step: 0, totalSteps: 10, dropoutSeed: 5, noiseSeed: 6 };
}

function release(context: MicroBatchContext): void {
  context.model.dispose();
  tf.dispose([context.batch.inputs, context.batch.labels]);
}

/** Method gradient, the two-pass g_W and g_C, and |C|, flattened in variable order. */
function gradients(context: MicroBatchContext, method = createFft()) {
  return tf.tidy(() => {
    const result = method.gradient(context);
    const groups = fullGroupGradients(context);
    return {
      method: flatGradient(context.model, result.grads),
      wrong: flatGradient(context.model, groups.wrong),
      correct: flatGradient(context.model, groups.correct),
      correctCount: tf.sum(result.forward.correct).dataSync()[0],
      alpha: result.alpha,
    };
  });
}

describe('DSGD gradient', () => {
  it('equals g_W + alpha g_C from two separate backward passes', () => {
    const context = mixedContext(0.25);
    for (const alpha of [0, 0.3, 0.7]) {
      const result = gradients(context, createDsgd(alpha, 'static'));
      assert.ok(result.correctCount > 0 && result.correctCount < 12, `mixed batch needed, |C| = ${result.correctCount}`);
      const expected = result.wrong.map((w, i) => w + alpha * result.correct[i]);
      const difference = relativeDifference(result.method, expected);
      assert.ok(difference < 1e-5, `alpha ${alpha}: relative difference ${difference}`);
      assert.equal(result.alpha, alpha);
    }
    release(context);
  });

  it('uses alpha_t = lambda * s(step / T)', () => {
    const context = { ...mixedContext(), step: 5, totalSteps: 10 };
    const result = gradients(context, createDsgd(0.8, 'linear'));
    assert.equal(result.alpha, 0.4);
    const expected = result.wrong.map((w, i) => w + 0.4 * result.correct[i]);
    assert.ok(relativeDifference(result.method, expected) < 1e-5);
    release(context);
  });

  it('with alpha = 1 reproduces the FFT gradient exactly', () => {
    const context = mixedContext(0.25);
    const dsgd = gradients(context, createDsgd(1, 'static')).method;
    const fft = gradients(context, createFft()).method;
    assert.deepEqual(dsgd, fft);
    release(context);
  });

  it('is the plain batch gradient when W or C is empty', () => {
    // Head [[5,0],[0,5]]: x = e_k is predicted as class k.
    const model = linearModel(
      [
        [5, 0],
        [0, 5],
      ],
      [0, 0],
    );
    const inputs = tf.tensor2d([
      [1, 0],
      [0, 1],
      [1, 0],
    ]);
    for (const labels of [
      [0, 1, 0],
      [1, 0, 1],
    ]) {
      // all correct (W empty), all wrong (C empty)
      const batch = { inputs, labels: tf.tensor1d(labels, 'int32'), size: 3 };
      const context = { model, batch, step: 3, totalSteps: 10, dropoutSeed: 1, noiseSeed: 1 };
      const dsgd = gradients(context, createDsgd(1, 'linear'));
      const fft = gradients(context, createFft());
      assert.deepEqual(dsgd.method, fft.method);
      assert.ok(Math.max(...fft.method.map(Math.abs)) > 1e-3, 'the batch gradient is not zero');
      const empty = labels[0] === 0 ? dsgd.wrong : dsgd.correct;
      assert.ok(
        empty.every((value) => value === 0),
        'the empty group has a zero gradient',
      );
      const sums = tf.tidy(() => conflictSums(tf.tensor1d(dsgd.wrong), tf.tensor1d(dsgd.correct)).dataSync());
      const correctCount = labels[0] === 0 ? 3 : 0;
      assert.equal(conflictCosine({ dot: sums[0], wrongSquared: sums[1], correctSquared: sums[2] }, 3 - correctCount, correctCount), null);
      batch.labels.dispose();
    }
    inputs.dispose();
    model.dispose();
  });

  it('draws the same dropout masks from the same seed', () => {
    const context = mixedContext(0.5);
    const first = gradients(context).method;
    assert.deepEqual(gradients(context).method, first);
    assert.notDeepEqual(gradients({ ...context, dropoutSeed: 99 }).method, first);
    release(context);
  });
});

describe('PCGrad', () => {
  const project = (wrong: [number, number], correct: [number, number]): number[] =>
    tf.tidy(() => {
      const combined = projectConflicting(
        { a: tf.tensor1d([wrong[0]]), b: tf.tensor1d([wrong[1]]) },
        { a: tf.tensor1d([correct[0]]), b: tf.tensor1d([correct[1]]) },
      );
      return [combined.a.dataSync()[0], combined.b.dataSync()[0]];
    });
  it("projects conflicting gradients onto each other's normal plane (hand numbers)", () => {
    // g_W = (1, 0), g_C = (-1, 1): dot = -1.
    // g_W' = g_W - (-1 / 2) g_C = (0.5, 0.5); g_C' = g_C - (-1 / 1) g_W = (0, 1); sum (0.5, 1.5).
    const [a, b] = project([1, 0], [-1, 1]);
    assert.ok(Math.abs(a - 0.5) < 1e-7 && Math.abs(b - 1.5) < 1e-7, `${a}, ${b}`);
  });
  it('sums agreeing gradients unchanged, and passes a lone group through', () => {
    assert.deepEqual(project([1, 0], [1, 1]), [2, 1]);
    assert.deepEqual(project([1, 2], [0, 0]), [1, 2]);
  });
  it('as a method: the projection of the two-pass group gradients', () => {
    const context = mixedContext();
    const result = tf.tidy(() => {
      const groups = fullGroupGradients(context);
      return {
        method: flatGradient(context.model, createPcgrad().gradient(context).grads),
        expected: flatGradient(context.model, projectConflicting(groups.wrong, groups.correct)),
      };
    });
    assert.ok(relativeDifference(result.method, result.expected) < 1e-6);
    release(context);
  });
});

describe('head conflict closed form', () => {
  it('equals the head part of the two-pass gradients, and so does its cosine', () => {
    const context = mixedContext(0.25);
    const { closed, twoPass } = tf.tidy(() => {
      const forward = weightedGradient(context, { exampleWeights: (c) => tf.onesLike(c) }).forward;
      const head = headGroupGradients(forward, context.batch.labels);
      const groups = fullGroupGradients(context);
      const headPart = (grads: tf.NamedTensorMap): number[] => [
        ...grads[context.model.headKernel.name].dataSync(),
        ...grads[context.model.headBias.name].dataSync(),
      ];
      return {
        closed: { wrong: [...head.wrong.dataSync()], correct: [...head.correct.dataSync()] },
        twoPass: { wrong: headPart(groups.wrong), correct: headPart(groups.correct) },
      };
    });
    assert.ok(relativeDifference(closed.wrong, twoPass.wrong) < 1e-5);
    assert.ok(relativeDifference(closed.correct, twoPass.correct) < 1e-5);
    const closedCosine = cosine(closed.wrong, closed.correct);
    assert.ok(Math.abs(closedCosine - cosine(twoPass.wrong, twoPass.correct)) < 1e-5, `${closedCosine}`);
    release(context);
  });
});

describe('helper bookkeeping', () => {
  it("leaves no tensors behind and keeps the caller's input alive", () => {
    const model: ClassifierModel = linearModel(
      [
        [1, 0],
        [0, 1],
      ],
      [0, 0],
    );
    const batch = batchOf(randomSet(4, 2, 2, 3));
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      createDsgd(0.5, 'static').gradient({ model, batch, step: 0, totalSteps: 1, dropoutSeed: 0, noiseSeed: 0 });
    });
    assert.equal(tf.memory().numTensors, before);
    assert.equal(batch.inputs.isDisposed, false);
    model.dispose();
  });
});
