// Each hand-written op must match the stock TF.js op in value and gradient. Reference values
// come from the cpu backend (which has every stock gradient kernel); the custom ops are also
// run on wasm, where the stock embedding gradient does not exist.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { batchedMatMul, columnSums, denseLayer, denseMatMul, embeddingLookup, gelu, layerNorm } from '../../server/engine/ops.js';

const TOLERANCE = 1e-4;

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  for (let i = 0; i < actual.length; i++) {
    const scale = Math.max(1, Math.abs(expected[i]));
    assert.ok(Math.abs(actual[i] - expected[i]) <= TOLERANCE * scale, `${label}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

/** Values and gradients (w.r.t. every float input) of sum(f(inputs) * probe), as plain arrays. */
function valueAndGrads(f: (...inputs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[]): { value: Float32Array; grads: Float32Array[] } {
  return tf.tidy(() => {
    const value = f(...inputs);
    // A fixed non-uniform probe so that a transposed or permuted gradient cannot pass.
    const probe = tf.linspace(-1, 2, value.size).reshape(value.shape);
    const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), probe)))(inputs);
    return {
      value: value.dataSync() as Float32Array,
      grads: grads.map((g) => g.dataSync() as Float32Array),
    };
  });
}

function seededNormal(shape: number[], seed: number): tf.Tensor {
  return tf.randomNormal(shape, 0, 1, 'float32', seed);
}

after(async () => {
  await tf.setBackend('cpu');
});

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`engine ops on ${backend}`, () => {
    before(async () => {
      assert.ok(await tf.setBackend(backend));
      await tf.ready();
    });

    test('denseMatMul matches tf.matMul in value and gradient', () => {
      const a = seededNormal([5, 7], 1);
      const b = seededNormal([7, 3], 2);
      const ours = valueAndGrads((x, y) => denseMatMul(x as tf.Tensor2D, y as tf.Tensor2D), [a, b]);
      const stock = valueAndGrads((x, y) => tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D), [a, b]);
      assertClose(ours.value, stock.value, 'value');
      assertClose(ours.grads[0], stock.grads[0], 'dA');
      assertClose(ours.grads[1], stock.grads[1], 'dB');
      tf.dispose([a, b]);
    });

    test('batchedMatMul matches tf.matMul on rank-3 tensors', () => {
      const a = seededNormal([4, 5, 6], 3);
      const b = seededNormal([4, 6, 2], 4);
      const f = (x: tf.Tensor, y: tf.Tensor) => batchedMatMul(x as tf.Tensor3D, y as tf.Tensor3D);
      const g = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D);
      const ours = valueAndGrads(f, [a, b]);
      const stock = valueAndGrads(g, [a, b]);
      assertClose(ours.value, stock.value, 'value');
      assertClose(ours.grads[0], stock.grads[0], 'dA');
      assertClose(ours.grads[1], stock.grads[1], 'dB');
      tf.dispose([a, b]);
    });

    // [8, 6] -> 2 takes the (dy^T x)^T path for the kernel gradient, the others x^T dy.
    for (const [rows, inDim, outDim] of [
      [3, 4, 2],
      [3, 2, 5],
      [3, 3, 3],
      [8, 6, 2],
    ]) {
      test(`denseLayer [${rows}, ${inDim}] -> ${outDim} matches matMul + bias in value and gradient`, () => {
        const x = seededNormal([rows, inDim], 5);
        const w = seededNormal([inDim, outDim], 6);
        const bias = tf.linspace(-1, 1, outDim);
        const ours = valueAndGrads((p, q, r) => denseLayer(p as tf.Tensor2D, q as tf.Tensor2D, r as tf.Tensor1D), [x, w, bias]);
        const stock = valueAndGrads((p, q, r) => tf.add(tf.matMul(p as tf.Tensor2D, q as tf.Tensor2D), r), [x, w, bias]);
        assertClose(ours.value, stock.value, 'value');
        ours.grads.forEach((grad, i) => assertClose(grad, stock.grads[i], `grad ${i}`));
        tf.dispose([x, w, bias]);
      });
    }

    test('columnSums sums over rows', () => {
      const m = tf.tensor2d([
        [1, 2],
        [3, 4],
        [5, 6],
      ]);
      assert.deepEqual(Array.from(columnSums(m).dataSync()), [9, 12]);
      m.dispose();
    });

    test('embeddingLookup matches tf.gather, summing gradients of repeated ids', async () => {
      const table = seededNormal([6, 3], 7);
      // Repeated ids (2 three times, 0 twice) exercise the summing of duplicate rows.
      const ids = tf.tensor2d(
        [
          [2, 0, 2],
          [5, 2, 0],
        ],
        [2, 3],
        'int32',
      );
      const ours = valueAndGrads((t) => embeddingLookup(t as tf.Tensor2D, ids), [table]);
      assert.deepEqual(embeddingLookup(table as tf.Tensor2D, ids).shape, [2, 3, 3]);
      // The stock gather gradient needs UnsortedSegmentSum: compute the reference on cpu.
      const tableValues = table.arraySync() as number[][];
      const idValues = ids.arraySync();
      await tf.setBackend('cpu');
      const stock = tf.tidy(() => valueAndGrads((t) => tf.gather(t, tf.tensor2d(idValues, [2, 3], 'int32')), [tf.tensor2d(tableValues)]));
      await tf.setBackend(backend);
      assertClose(ours.value, stock.value, 'value');
      assertClose(ours.grads[0], stock.grads[0], 'dTable');
      // Row 1 and 3 never appear: their gradient must be exactly zero.
      for (const row of [1, 3]) {
        for (let col = 0; col < 3; col++) assert.equal(ours.grads[0][row * 3 + col], 0);
      }
      tf.dispose([table, ids]);
    });

    test('gelu matches the tf.pow formulation in value and gradient', () => {
      const x = tf.linspace(-4, 4, 41);
      const stockGelu = (t: tf.Tensor) =>
        tf.mul(tf.mul(t, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(t, tf.mul(0.044715, tf.pow(t, 3)))))));
      const ours = valueAndGrads((t) => gelu(t), [x]);
      const stock = valueAndGrads(stockGelu, [x]);
      assertClose(ours.value, stock.value, 'value');
      assertClose(ours.grads[0], stock.grads[0], 'dx');
      x.dispose();
    });

    test('layerNorm normalises rows and matches a direct formula with gradients', () => {
      const x = seededNormal([4, 8], 9);
      const gamma = tf.linspace(0.5, 1.5, 8) as tf.Tensor1D;
      const beta = tf.linspace(-0.2, 0.2, 8) as tf.Tensor1D;
      const direct = (t: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const { mean, variance } = tf.moments(t, -1, true);
        return tf.add(tf.mul(tf.div(tf.sub(t, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b);
      };
      const ours = valueAndGrads((t, g, b) => layerNorm(t as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D), [x, gamma, beta]);
      const stock = valueAndGrads(direct, [x, gamma, beta]);
      assertClose(ours.value, stock.value, 'value');
      ours.grads.forEach((grad, i) => assertClose(grad, stock.grads[i], `grad ${i}`));
      tf.dispose([x, gamma, beta]);
    });

    test('ops leak no tensors', () => {
      const a = seededNormal([3, 3], 10);
      const before = tf.memory().numTensors;
      valueAndGrads((x) => gelu(denseMatMul(x as tf.Tensor2D, x as tf.Tensor2D)), [a]);
      valueAndGrads((x) => embeddingLookup(x as tf.Tensor2D, tf.tensor1d([0, 2, 2], 'int32')), [a]);
      assert.equal(tf.memory().numTensors, before);
      a.dispose();
    });
  });
}
