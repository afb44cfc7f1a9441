// The fused step telemetry (kernels/telemetry-kernels.ts): hand-computed values, the stock-op
// closed form it replaces, and the whole optimizer step's readout with the kernels on and off.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { gradientNormOf, headSumsOf, setFastKernelsEnabled, stepReadoutOf } from '../../server/engine/kernels/index.js';
import { perExampleCrossEntropy } from '../../server/engine/loss.js';
import { createMethod } from '../../server/engine/methods/index.js';
import { createMlp } from '../../server/engine/models/mlp.js';
import { createOptimizer } from '../../server/engine/optimizer.js';
import { optimizerStep, READOUT } from '../../server/engine/step.js';
import { headGroupGradients } from '../../server/engine/telemetry.js';
import { optimizerSpec, randomSet, runSpec } from '../fixtures/engine-fixtures.js';

/** |actual - expected| <= tolerance * max(1, max |expected|), entry by entry. */
function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string, tolerance = 1e-5): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  const scale = Math.max(1, ...Array.from(expected, Math.abs));
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tolerance * scale, `${label}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

/** The stock-op head sums: [loss sum, correct count, g_W, g_C]. */
function stockHeadSums(logits: tf.Tensor2D, labels: tf.Tensor1D, pooled: tf.Tensor2D, correct: tf.Tensor1D): Float32Array {
  return tf.tidy(() => {
    const head = headGroupGradients({ logits, pooled, correct }, labels);
    const counts = tf.stack([tf.sum(perExampleCrossEntropy(logits, labels)), tf.sum(correct)]);
    return tf.concat([counts, head.wrong, head.correct]).dataSync() as Float32Array;
  });
}

after(async () => {
  setFastKernelsEnabled(true);
  await tf.setBackend('cpu');
});

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`fused step telemetry on ${backend}`, () => {
    before(async () => {
      assert.ok(await tf.setBackend(backend));
      await tf.ready();
    });

    test('head sums and readout of a two-example batch, by hand', () => {
      // Example 0: logits (0, 0), label 0, h = 2: p = (1/2, 1/2), loss ln 2, argmax 0 -> correct,
      //   residual (-1/2, 1/2). Example 1: logits (ln 3, 0), label 1, h = 1: p = (3/4, 1/4),
      //   loss ln 4, wrong, residual (3/4, -3/4). Each group gradient is its residual times h, / 2.
      const { sums, readout } = tf.tidy(() => {
        const head = headSumsOf(
          tf.tensor2d([
            [0, 0],
            [Math.log(3), 0],
          ]),
          tf.tensor1d([0, 1], 'int32'),
          tf.tensor2d([[2], [1]]),
          tf.tensor1d([1, 0]),
        );
        return { sums: head.dataSync(), readout: stepReadoutOf(head, tf.scalar(0.5)).dataSync() };
      });
      assertClose(sums, [3 * Math.LN2, 1, 0.375, -0.375, 0.375, -0.375, -0.5, 0.5, -0.25, 0.25], 'head sums', 1e-6);
      // dot = 0.375 (-0.5 - 0.5 - 0.25 - 0.25) = -0.5625; |g_W|^2 = 4 * 0.375^2; |g_C|^2 = 0.625
      assertClose(readout, [3 * Math.LN2, 1, 0.5, -0.5625, 0.5625, 0.625], 'readout', 1e-6);
    });

    test('head sums equal the stock closed form: ragged shapes, ReLU zeros, one group empty', () => {
      const cases: Array<[number, number, number, string]> = [
        [5, 7, 3, 'mixed'],
        [32, 200, 10, 'mixed'],
        [6, 9, 2, 'all correct'],
        [4, 5, 5, 'all wrong'],
      ];
      for (const [n, d, k, groups] of cases) {
        const [fused, stock] = tf.tidy(() => {
          const logits = tf.mul(tf.randomNormal([n, k], 0, 1, 'float32', n + d), 3) as tf.Tensor2D;
          const pooled = tf.relu(tf.randomNormal([n, d], 0, 1, 'float32', d)) as tf.Tensor2D;
          const labels = tf.tensor1d(
            Array.from({ length: n }, (_, i) => (i * 7) % k),
            'int32',
          );
          const correct = (
            groups === 'mixed'
              ? tf.tensor1d(Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0)))
              : groups === 'all correct'
                ? tf.ones([n])
                : tf.zeros([n])
          ) as tf.Tensor1D;
          return [headSumsOf(logits, labels, pooled, correct).dataSync(), stockHeadSums(logits, labels, pooled, correct)];
        });
        assertClose(fused, stock, `n ${n} d ${d} k ${k} ${groups}`);
      }
    });

    test('gradient norm over several tensors, across chunk and lane boundaries', () => {
      assert.equal(
        tf.tidy(() => gradientNormOf([tf.tensor1d([3]), tf.tensor2d([[4]])]).dataSync()[0]),
        5,
      );
      const sizes = [1, 3, 17, 64, 8192 * 2 + 5];
      const norm = tf.tidy(() => {
        const tensors = sizes.map((size, i) => tf.randomNormal([size], 0, 1, 'float32', i));
        let expected = 0;
        for (const tensor of tensors) for (const value of tensor.dataSync()) expected += value * value;
        return { fused: gradientNormOf(tensors).dataSync()[0], expected: Math.sqrt(expected) };
      });
      assert.ok(Math.abs(norm.fused - norm.expected) <= 1e-6 * norm.expected, `${norm.fused} vs ${norm.expected}`);
    });

    test("the optimizer reports the norm of the gradients it was given: read in passing by the fused Adam, not of adam's L2-decayed or clipped gradients", () => {
      const variables = [
        tf.variable(tf.randomNormal([8192 * 2 + 3], 0, 1, 'float32', 1)),
        tf.variable(tf.randomNormal([5, 3], 0, 1, 'float32', 2)),
      ];
      const readNorm = (spec: Parameters<typeof optimizerSpec>[0]): { read: number; expected: number } => {
        const optimizer = createOptimizer(optimizerSpec(spec), variables);
        try {
          return tf.tidy(() => {
            const grads = Object.fromEntries(variables.map((v, i) => [v.name, tf.randomNormal(v.shape, 0, 1, 'float32', 10 + i)]));
            let expected = 0;
            for (const gradient of Object.values(grads)) for (const value of gradient.dataSync()) expected += value * value;
            return { read: optimizer.applyGradientsReadingNorm(grads, 0.01).dataSync()[0], expected: Math.sqrt(expected) };
          });
        } finally {
          optimizer.dispose();
        }
      };
      // adamw: the fused kernels' sums; adam + L2 and sgd: a separate pass over the raw gradients;
      // clipping: its own norm, taken before it scales them down.
      for (const spec of [
        { kind: 'adamw', weightDecay: 0.1 },
        { kind: 'adam', weightDecay: 0.1 },
        { kind: 'sgd', momentum: 0.9 },
        { kind: 'adamw', clipNorm: 1 },
      ] as const) {
        const { read, expected } = readNorm(spec);
        assert.ok(Math.abs(read - expected) <= 1e-6 * expected, `${JSON.stringify(spec)}: ${read} vs ${expected}`);
      }
      tf.dispose(variables);
    });

    test('an optimizer step reads out the same telemetry with the kernels on and off (2 micro-batches, full conflict, with and without clipping)', () => {
      const train = randomSet(24, 6, 3, 5);
      const readout = (fast: boolean, clipNorm: number): Float32Array => {
        setFastKernelsEnabled(fast);
        try {
          const model = createMlp({ family: 'mlp', hiddenUnits: [8], dropout: 0 }, 6, 3, 9);
          const optimizer = createOptimizer(optimizerSpec({ clipNorm }), model.trainable);
          const method = createMethod({ kind: 'dsgd', lambda: 1, schedule: 'linear' });
          const result = optimizerStep({
            model,
            method,
            optimizer,
            spec: runSpec({ kind: 'dsgd', lambda: 1, schedule: 'linear' }, { optimizer: optimizerSpec({ clipNorm }) }),
            train,
            microBatches: [Int32Array.from([0, 1, 2, 3, 4, 5]), Int32Array.from([6, 7, 8, 9, 10, 11])],
            firstMicroBatch: 0,
            step: 3,
            totalSteps: 10,
            learningRate: 0.01,
            withFullConflict: true,
          });
          const values = result.readout.dataSync() as Float32Array;
          result.readout.dispose();
          optimizer.dispose();
          model.dispose();
          return values;
        } finally {
          setFastKernelsEnabled(true);
        }
      };
      // clip 0.5: the norm comes from globalNorm before the update; clip 0: from the fused Adam.
      for (const clipNorm of [0.5, 0]) {
        const [fused, stock] = [readout(true, clipNorm), readout(false, clipNorm)];
        assert.equal(fused.length, READOUT.full + 3);
        assertClose(fused, stock, `readout, clip ${clipNorm}`);
        assert.ok(fused[READOUT.gradientNorm] > 0 && fused[READOUT.head + 1] > 0, 'non-trivial gradients');
      }
    });
  });
}
