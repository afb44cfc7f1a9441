// Backend selection and the training fallback, as this machine has them: no native binding
// (optional dependency absent), wasm and cpu present.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { missingTrainingKernels, selectBackend, trainingFallbackFor } from '../../server/engine/backend.js';

async function nativeInstalled(): Promise<boolean> {
  try {
    const name: string = '@tensorflow/tfjs-node';
    await import(name);
    return true;
  } catch {
    return false;
  }
}

after(async () => {
  await tf.setBackend('cpu');
});

describe('selectBackend', () => {
  test('without a preference picks native if installed, else wasm, and says why', async () => {
    const native = await nativeInstalled();
    const selection = await selectBackend();
    assert.equal(selection.name, native ? 'tensorflow' : 'wasm');
    assert.equal(tf.getBackend(), selection.name);
    if (!native) {
      assert.ok(
        selection.notes.some((note) => note.includes('@tensorflow/tfjs-node unavailable')),
        selection.notes.join('\n'),
      );
    }
    // The selected backend computes.
    assert.deepEqual(Array.from(tf.tidy(() => tf.matMul(tf.ones([2, 3]), tf.ones([3, 1])).dataSync())), [3, 3]);
  });

  test('a requested backend is used', async () => {
    assert.equal((await selectBackend('cpu')).name, 'cpu');
    assert.equal(tf.getBackend(), 'cpu');
    assert.equal((await selectBackend('wasm')).name, 'wasm');
  });

  test('a requested backend that is unavailable is an error naming it', async (context) => {
    if (await nativeInstalled()) {
      context.skip('native binding installed here');
      return;
    }
    await assert.rejects(selectBackend('tensorflow'), /backend 'tensorflow' was requested but is unavailable/);
  });
});

describe('trainingFallbackFor', () => {
  test('wasm lacks the stock embedding and convolution gradients (probe matches docs/ENGINE.md)', async () => {
    await selectBackend('wasm');
    for (const kernel of ['UnsortedSegmentSum', 'Conv2DBackpropFilter', 'Einsum']) {
      assert.equal(tf.getKernel(kernel, 'wasm'), undefined, kernel);
      assert.ok(tf.getKernel(kernel, 'cpu'), kernel);
    }
  });

  test('mlp and transformer train on wasm as is', () => {
    assert.deepEqual(missingTrainingKernels('mlp', 'wasm'), []);
    assert.deepEqual(trainingFallbackFor('transformer', 'wasm'), { backend: 'wasm' });
  });

  test('a convolutional family falls back from wasm with a note', () => {
    const choice = trainingFallbackFor('convnet', 'wasm');
    assert.ok(choice.backend === 'cpu' || choice.backend === 'tensorflow');
    assert.match(choice.note ?? '', /wasm lacks .*Conv2DBackpropFilter.*training on/);
    assert.deepEqual(trainingFallbackFor('convnet', 'cpu'), { backend: 'cpu' });
  });
});
