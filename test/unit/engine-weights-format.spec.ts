// Weights <-> TF.js weights-manifest format: our round trip, and agreement with tf.io's own codec.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { Weights } from '../../server/engine/types.js';
import { decodeWeights, encodeWeights, weightsManifest } from '../../server/engine/weights-format.js';

const WEIGHTS: Weights = [
  { name: 'encoder/layer0/attn/query/kernel', shape: [2, 3], values: Float32Array.from([1, -2, 3.5, 4, 5, -6e-8]) },
  { name: 'head/bias', shape: [3], values: Float32Array.from([0.25, 1e30, -0]) },
  { name: 'scalar', shape: [], values: Float32Array.from([7]) },
];

describe('weights format', () => {
  test('round-trips names, shapes and bit-exact values', () => {
    const { weightSpecs, weightData } = encodeWeights(WEIGHTS);
    assert.equal(weightData.byteLength, (6 + 3 + 1) * 4);
    assert.deepEqual(
      weightSpecs.map((spec) => spec.dtype),
      ['float32', 'float32', 'float32'],
    );
    const decoded = decodeWeights(weightSpecs, weightData);
    assert.deepEqual(
      decoded,
      WEIGHTS.map((weight) => ({ ...weight, shape: [...weight.shape] })),
    );
    assert.ok(Object.is(decoded[1].values[2], -0));
  });

  test('tf.io decodes what we encode, and we decode what tf.io encodes', async () => {
    const { weightSpecs, weightData } = encodeWeights(WEIGHTS);
    const tensors = tf.io.decodeWeights(weightData, weightSpecs);
    assert.deepEqual(Array.from(tensors['encoder/layer0/attn/query/kernel'].dataSync()), Array.from(WEIGHTS[0].values));
    assert.deepEqual(tensors['encoder/layer0/attn/query/kernel'].shape, [2, 3]);
    const encodedByTf = await tf.io.encodeWeights(tensors);
    const decoded = decodeWeights(encodedByTf.specs, encodedByTf.data);
    assert.deepEqual(decoded.map((weight) => weight.name).sort(), WEIGHTS.map((weight) => weight.name).sort());
    tf.dispose(Object.values(tensors));
  });

  test('accepts sharded data and dequantizes uint8 and float16 specs', () => {
    const specs: tf.io.WeightsManifestEntry[] = [
      { name: 'a', shape: [2], dtype: 'float32' },
      { name: 'q', shape: [3], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1 } },
      { name: 'h', shape: [2], dtype: 'float32', quantization: { dtype: 'float16' } },
    ];
    const first = Float32Array.from([1.5, -2]).buffer;
    const second = Uint8Array.from([0, 2, 255]).buffer;
    const third = Uint16Array.from([0x3c00, 0xc000]).buffer; // 1.0, -2.0 in half precision
    const decoded = decodeWeights(specs, [first, second, third]);
    assert.deepEqual(Array.from(decoded[0].values), [1.5, -2]);
    assert.deepEqual(Array.from(decoded[1].values), [-1, 0, 126.5]);
    assert.deepEqual(Array.from(decoded[2].values), [1, -2]);
  });

  test('rejects inconsistent input with a clear message', () => {
    const { weightSpecs, weightData } = encodeWeights(WEIGHTS);
    assert.throws(() => decodeWeights(weightSpecs, weightData.slice(0, 12)), /needs bytes up to/);
    assert.throws(() => decodeWeights(weightSpecs.slice(0, 2), weightData), /4 bytes beyond/);
    assert.throws(() => encodeWeights([WEIGHTS[0], WEIGHTS[0]]), /duplicate weight name/);
    assert.throws(() => encodeWeights([{ name: 'x', shape: [2, 2], values: new Float32Array(3) }]), /3 values for shape \[2,2\]/);
  });

  test('builds the model.json weightsManifest entry', () => {
    const { weightSpecs } = encodeWeights(WEIGHTS);
    assert.deepEqual(weightsManifest(weightSpecs), [{ paths: ['weights.bin'], weights: weightSpecs }]);
  });
});
