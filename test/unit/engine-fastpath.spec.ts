// Every fast path of the engine (kernels/: SIMD kernels on wasm, reference loops on cpu) must
// give the stock ops' values and gradients to float tolerance: relative to the largest
// magnitude of the reference, 1e-5 (bitwise for the optimizer update and dropout masks).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {
  attentionContext,
  attentionScores,
  batchedTranspose,
  columnSumsOf,
  denseForwardOf,
  matMulOf,
  seededDropout,
  setFastKernelsEnabled,
  type AttentionGeometry,
} from '../../server/engine/kernels/index.js';
import { batchedMatMul, denseLayer, embeddingLookup, gelu } from '../../server/engine/ops.js';
import { createOptimizer } from '../../server/engine/optimizer.js';
import { relaxedSimdAvailable } from '../../server/engine/kernels/relaxed-simd.js';
import { optimizerSpec } from '../fixtures/optimizer-spec.js';
import { plainGradient } from '../../server/engine/methods/method.js';
import { dsgdExampleWeights } from '../../server/engine/methods/dsgd.js';
import type { Batch, ClassifierModel } from '../../server/engine/models/classifier.js';
import { createMlp } from '../../server/engine/models/mlp.js';
import { createTransformerClassifier } from '../../server/engine/models/transformer.js';

const TOLERANCE = 1e-5;

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string, tolerance = TOLERANCE): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  let scale = 1;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tolerance * scale, `${label}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

const normal = (shape: number[], seed: number): tf.Tensor => tf.randomNormal(shape, 0, 1, 'float32', seed);

/** Value and gradients of sum(f(inputs) * probe) with the fast paths on or off. */
function valueAndGrads(fast: boolean, f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[]): Float32Array[] {
  setFastKernelsEnabled(fast);
  try {
    return tf.tidy(() => {
      const value = f(...inputs);
      const probe = tf.reshape(tf.linspace(-1, 2, value.size), value.shape);
      const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), probe)))(inputs);
      return [value, ...grads].map((t) => t.dataSync() as Float32Array);
    });
  } finally {
    setFastKernelsEnabled(true);
  }
}

function assertSameAsStock(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], label: string): void {
  const fast = valueAndGrads(true, f, inputs);
  const stock = valueAndGrads(false, f, inputs);
  fast.forEach((values, i) => assertClose(values, stock[i], `${label} ${i === 0 ? 'value' : `grad ${i - 1}`}`));
  tf.dispose(inputs);
}

after(async () => {
  setFastKernelsEnabled(true);
  await tf.setBackend('cpu');
});

test('relaxed SIMD probe answers without throwing (FMA where V8 accepts it, else multiply + add)', () => {
  assert.equal(typeof relaxedSimdAvailable(), 'boolean');
});

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`engine fast paths on ${backend}`, () => {
    before(async () => {
      assert.ok(await tf.setBackend(backend));
      await tf.ready();
    });

    test('strided matMul equals tf.matMul, plain and with A read transposed', () => {
      // n = 12 (SIMD tiles of 8 and 4), n = 6 (the loop fallback), k = 600 (sliced, accumulated).
      for (const [m, k, n] of [
        [7, 5, 12],
        [9, 3, 6],
        [6, 600, 16],
      ]) {
        tf.tidy(() => {
          const a = normal([m, k], 1) as tf.Tensor2D;
          const aStoredTransposed = normal([k, m], 2) as tf.Tensor2D;
          const b = normal([k, n], 3) as tf.Tensor2D;
          assertClose(matMulOf(a, b, false).dataSync(), tf.matMul(a, b).dataSync(), `${m}x${k}x${n}`);
          assertClose(
            matMulOf(aStoredTransposed, b, true).dataSync(),
            tf.matMul(aStoredTransposed, b, true).dataSync(),
            `T ${m}x${k}x${n}`,
          );
        });
      }
    });

    test('packed products: B read transposed in place, 4-wide edge panels, ragged rows, sliced k', () => {
      // n = 12: one 8-wide panel and one 4-wide; m = 7: a 4-row tile and 1-row tiles; k = 600:
      // three K slices (the bias only in the first, the relu only after the last); n = 6: the loops.
      for (const [m, k, n] of [
        [7, 5, 12],
        [9, 300, 8],
        [6, 600, 20],
        [2048, 16, 4],
        [5, 7, 6],
      ]) {
        tf.tidy(() => {
          const a = normal([m, k], 41) as tf.Tensor2D;
          const b = normal([k, n], 42) as tf.Tensor2D;
          const bStoredTransposed = normal([n, k], 43) as tf.Tensor2D;
          const bias = normal([n], 44) as tf.Tensor1D;
          assertClose(
            matMulOf(a, bStoredTransposed, false, true).dataSync(),
            tf.matMul(a, bStoredTransposed, false, true).dataSync(),
            `B^T ${m}x${k}x${n}`,
          );
          assertClose(denseForwardOf(a, b, bias, 'linear').dataSync(), tf.add(tf.matMul(a, b), bias).dataSync(), `dense ${m}x${k}x${n}`);
          assertClose(
            denseForwardOf(a, b, bias, 'relu').dataSync(),
            tf.relu(tf.add(tf.matMul(a, b), bias)).dataSync(),
            `dense relu ${m}x${k}x${n}`,
          );
        });
      }
    });

    test('denseLayer at transformer-like shapes (packed forward and dx = dy W^T) matches the stock path', () => {
      assertSameAsStock(
        (x, w, b) => denseLayer(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D),
        [normal([70, 32], 45), normal([32, 24], 46), normal([24], 47)],
        'linear 70x32x24',
      );
      assertSameAsStock(
        (x, w, b) => denseLayer(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D, { activation: 'relu' }),
        [normal([33, 300], 48), normal([300, 16], 49), normal([16], 50)],
        'relu 33x300x16',
      );
    });

    test('clones share storage while the fast kernels are on, and free it with the last reference', () => {
      const before = tf.memory().numBytes;
      const x = normal([64, 16], 51);
      const copy = tf.clone(x);
      const values = Float32Array.from(x.dataSync());
      x.dispose();
      assert.deepEqual(copy.dataSync(), values);
      copy.dispose();
      assert.equal(tf.memory().numBytes, before);
      // Gradients through ops that save their inputs (every saved tensor is a clone).
      assertSameAsStock((a, b) => tf.mul(tf.sigmoid(a), tf.sub(a, b)), [normal([5, 7], 52), normal([5, 7], 53)], 'saved clones');
    });

    test('transpose and column sums equal tf.transpose and tf.sum over axis 0', () => {
      for (const [rows, cols] of [
        [19, 12],
        [33, 7],
        [1, 5],
      ]) {
        tf.tidy(() => {
          const x = normal([3, rows, cols], 4) as tf.Tensor3D;
          assert.deepEqual(batchedTranspose(x).dataSync(), tf.transpose(x, [0, 2, 1]).dataSync());
          const matrix = normal([rows, cols], 5) as tf.Tensor2D;
          assertClose(columnSumsOf(matrix).dataSync(), tf.sum(matrix, 0).dataSync(), `sums ${rows}x${cols}`);
        });
      }
    });

    test('denseLayer: fast gradients equal the stock path (linear, relu, no input gradient)', () => {
      assertSameAsStock(
        (x, w, b) => denseLayer(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D),
        [normal([6, 12], 6), normal([12, 8], 7), normal([8], 8)],
        'linear',
      );
      assertSameAsStock(
        (x, w, b) => denseLayer(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D, { activation: 'relu' }),
        [normal([6, 9], 9), normal([9, 10], 10), normal([10], 11)],
        'relu',
      );
      const data = normal([5, 7], 12);
      assertSameAsStock(
        (w, b) => denseLayer(data as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D, { activation: 'relu', inputGradient: false }),
        [normal([7, 8], 13), normal([8], 14)],
        'data input',
      );
      // The relu variant must equal relu(x W + b) written with stock ops.
      const [x, w, b] = [normal([4, 3], 15), normal([3, 4], 16), normal([4], 17)];
      const fused = valueAndGrads(
        true,
        (...xs) => denseLayer(xs[0] as tf.Tensor2D, xs[1] as tf.Tensor2D, xs[2] as tf.Tensor1D, { activation: 'relu' }),
        [x, w, b],
      );
      const plain = valueAndGrads(false, (...xs) => tf.relu(tf.add(tf.matMul(xs[0] as tf.Tensor2D, xs[1] as tf.Tensor2D), xs[2])), [
        x,
        w,
        b,
      ]);
      fused.forEach((values, i) => assertClose(values, plain[i], `relu vs stock ${i}`));
      tf.dispose([data, x, w, b]);
    });

    test('GELU and the embedding lookup: fast equal stock in value and gradient', () => {
      // 4 x 9 = 36 values: SIMD lanes and a scalar tail.
      assertSameAsStock((x) => gelu(x), [tf.mul(normal([4, 9], 27), 3)], 'gelu');
      const ids = tf.tensor2d(
        [
          [3, 1, 3],
          [0, 4, 2],
        ],
        [2, 3],
        'int32',
      );
      assertSameAsStock((table) => embeddingLookup(table as tf.Tensor2D, ids), [normal([5, 6], 28)], 'embedding');
      ids.dispose();
    });

    test('batchedMatMul: fast equals stock in value and gradient', () => {
      assertSameAsStock(
        (a, b) => batchedMatMul(a as tf.Tensor3D, b as tf.Tensor3D),
        [normal([3, 5, 8], 18), normal([3, 8, 4], 19)],
        'batched',
      );
    });

    test('attention scores and context: fast equal stock in value and gradient', () => {
      // headDim 8 and L 8 take the SIMD tiles; L 6 makes the scores' n = 6 take the loops.
      for (const geometry of [
        { batch: 2, seqLen: 8, dModel: 16, heads: 2 },
        { batch: 3, seqLen: 6, dModel: 12, heads: 3 },
      ] as AttentionGeometry[]) {
        const { batch, seqLen, dModel, heads } = geometry;
        const rows = batch * seqLen;
        assertSameAsStock(
          (q, k) => attentionScores(q as tf.Tensor2D, k as tf.Tensor2D, geometry),
          [normal([rows, dModel], 20), normal([rows, dModel], 21)],
          `scores ${seqLen}`,
        );
        assertSameAsStock(
          (p, v) => attentionContext(p as tf.Tensor3D, v as tf.Tensor2D, geometry),
          [tf.softmax(normal([batch * heads, seqLen, seqLen], 22)), normal([rows, dModel], 23)],
          `context ${seqLen}`,
        );
      }
    });

    test('fused Adam and AdamW updates equal the stock-op updates bitwise', () => {
      for (const kind of ['adam', 'adamw'] as const) {
        const spec = optimizerSpec({ kind, weightDecay: 0.1 });
        const run = (fast: boolean): Float32Array[] => {
          setFastKernelsEnabled(fast);
          // 8,192 * 2 + 3 floats: the wasm update runs in chunks of 8,192 (configs/adam-update.ts).
          const variables = [tf.variable(normal([13, 5], 24)), tf.variable(normal([7], 25)), tf.variable(normal([8192 * 2 + 3], 26))];
          const optimizer = createOptimizer(spec, variables);
          for (let step = 0; step < 3; step++) {
            tf.tidy(() => {
              const grads: tf.NamedTensorMap = {};
              variables.forEach((v, i) => (grads[v.name] = normal(v.shape, 30 + 2 * step + i)));
              optimizer.applyGradients(grads, spec.learningRate);
            });
          }
          const values = [
            ...variables.map((v) => v.dataSync() as Float32Array),
            ...optimizer.exportState().slots.map((s) => Float32Array.from(s.values)),
          ];
          optimizer.dispose();
          variables.forEach((v) => v.dispose());
          setFastKernelsEnabled(true);
          return values;
        };
        const [fast, stock] = [run(true), run(false)];
        fast.forEach((values, i) => assert.deepEqual(values, stock[i], `${kind} tensor ${i}`));
      }
    });

    test('whole-model gradients (MLP, transformer, dropout on) match the stock path', () => {
      const models: Array<[string, () => ClassifierModel, () => Batch]> = [
        [
          'mlp',
          () => createMlp({ family: 'mlp', hiddenUnits: [12, 8], dropout: 0.1 }, 20, 3, 5),
          () => ({
            inputs: normal([6, 20], 40) as tf.Tensor2D,
            labels: tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32'),
            size: 6,
          }),
        ],
        [
          'transformer',
          () =>
            createTransformerClassifier(
              { family: 'transformer', dModel: 16, heads: 2, layers: 2, ffDim: 32, pooling: 'cls', dropout: 0.1 },
              { vocabSize: 20, seqLen: 8, hasSegments: false },
              2,
              5,
            ),
          () => ({
            inputs: tf.tensor2d(
              [
                [1, 5, 6, 7, 8, 0, 0, 0],
                [1, 9, 3, 0, 0, 0, 0, 0],
                [1, 2, 3, 4, 5, 6, 7, 8],
              ],
              [3, 8],
              'int32',
            ),
            labels: tf.tensor1d([0, 1, 0], 'int32'),
            size: 3,
          }),
        ],
      ];
      for (const [name, build, makeBatch] of models) {
        const model = build();
        const batch = makeBatch();
        const gradients = (fast: boolean): Map<string, Float32Array> => {
          setFastKernelsEnabled(fast);
          const grads = new Map<string, Float32Array>();
          tf.tidy(() => {
            const { grads: named } = plainGradient({ model, batch, step: 0, totalSteps: 1, dropoutSeed: 3, noiseSeed: 3 });
            for (const [key, g] of Object.entries(named)) grads.set(key, g.dataSync() as Float32Array);
          });
          setFastKernelsEnabled(true);
          return grads;
        };
        const [fast, stock] = [gradients(true), gradients(false)];
        for (const [key, values] of stock) assertClose(fast.get(key) ?? new Float32Array(), values, `${name} ${key}`);
        tf.dispose([batch.inputs, batch.labels]);
        model.dispose();
      }
    });

    test('DSGD weights kernel equals the stock-op weights bitwise (some wrong, none wrong)', () => {
      const cases: Array<[number[], number[]]> = [
        [
          [1, 0, 1, 1],
          [Math.fround(0.3), 1, Math.fround(0.3), Math.fround(0.3)],
        ],
        [
          [1, 1, 1],
          [1, 1, 1],
        ], // W empty: plain gradient descent, alpha counts as 1
      ];
      for (const [mask, expected] of cases) {
        const weights = (fast: boolean): Float32Array => {
          setFastKernelsEnabled(fast);
          try {
            return tf.tidy(() => dsgdExampleWeights(tf.tensor1d(mask), 0.3).dataSync() as Float32Array);
          } finally {
            setFastKernelsEnabled(true);
          }
        };
        const fast = weights(true);
        assert.deepEqual(fast, weights(false), `mask ${mask}`);
        assert.deepEqual([...fast], expected, `mask ${mask}`);
      }
    });

    test('seededDropout reproduces tf.dropout bit for bit', () => {
      tf.tidy(() => {
        const x = normal([4, 33], 26);
        for (const seed of ['7/layer0/attn_probs', 12345]) {
          assert.deepEqual(seededDropout(x, 0.1, seed).dataSync(), tf.dropout(x, 0.1, undefined, seed).dataSync());
        }
      });
    });
  });
}
