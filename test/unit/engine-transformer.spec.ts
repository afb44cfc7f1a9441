// The transformer classifier on wasm (its production backend): shapes, the padding mask,
// pooling, segments, gradients, determinism, and that it can fit a toy token task.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { Batch } from '../../server/engine/models/classifier.js';
import { createTransformerClassifier, type TransformerClassifier } from '../../server/engine/models/transformer.js';
import { parameterName } from '../../server/engine/models/parameter-names.js';
import { perExampleCrossEntropy } from '../../server/engine/loss.js';
import { train } from '../../server/engine/trainer.js';
import type { ExampleSet, TransformerModelSpec } from '../../server/engine/types.js';
import { optimizerSpec, runSpec, silentHooks } from '../fixtures/engine-fixtures.js';

const SPEC: TransformerModelSpec = {
  family: 'transformer',
  dModel: 16,
  heads: 2,
  layers: 2,
  ffDim: 32,
  pooling: 'cls',
  dropout: 0.1,
};
const SHAPE = { vocabSize: 20, seqLen: 8, hasSegments: false };
const EVAL = { training: false, dropoutSeed: 0 };

// Row 0 is padded after 5 tokens, row 1 after 3, row 2 is full.
const IDS = [
  [1, 5, 6, 7, 8, 0, 0, 0],
  [1, 9, 3, 0, 0, 0, 0, 0],
  [1, 2, 3, 4, 5, 6, 7, 8],
];

function batchOf(ids: number[][], segments?: number[][]): Batch {
  return {
    inputs: tf.tensor2d(ids, [ids.length, ids[0].length], 'int32'),
    ...(segments ? { segmentIds: tf.tensor2d(segments, [segments.length, segments[0].length], 'int32') } : {}),
    labels: tf.tensor1d(
      ids.map((_, i) => i % 2),
      'int32',
    ),
    size: ids.length,
  };
}

function disposeBatch(batch: Batch): void {
  tf.dispose([batch.inputs, batch.labels, ...(batch.segmentIds ? [batch.segmentIds] : [])]);
}

function pooledValues(model: TransformerClassifier, batch: Batch, options = EVAL): number[][] {
  return tf.tidy(() => model.features(batch, options).arraySync());
}

function assertAllClose(actual: number[][], expected: number[][], tolerance = 1e-5): void {
  actual.forEach((row, i) =>
    row.forEach((value, j) => assert.ok(Math.abs(value - expected[i][j]) <= tolerance, `[${i}][${j}] ${value} vs ${expected[i][j]}`)),
  );
}

const maxDifference = (a: number[][], b: number[][]): number =>
  Math.max(...a.flatMap((row, i) => row.map((value, j) => Math.abs(value - b[i][j]))));

before(async () => {
  assert.ok(await tf.setBackend('wasm'));
});
after(async () => {
  await tf.setBackend('cpu');
});

describe('transformer classifier', () => {
  test('pooled features, logits and variables have the expected shapes and names', () => {
    const model = createTransformerClassifier(SPEC, SHAPE, 3, 1);
    const batch = batchOf(IDS);
    const tensorsBefore = tf.memory().numTensors;
    tf.tidy(() => {
      const pooled = model.features(batch, EVAL);
      assert.deepEqual(pooled.shape, [3, 16]);
      assert.deepEqual(model.head(pooled).shape, [3, 3]);
    });
    assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensors leak from a forward pass');
    const names = model.trainable.map(parameterName);
    assert.equal(new Set(names).size, names.length, 'names are unique');
    for (const expected of [
      'embeddings/token',
      'embeddings/position',
      'encoder/layer0/attn/query/kernel',
      'encoder/layer1/ffn/output/bias',
      'encoder/final_norm/gamma',
      'head/kernel',
      'head/bias',
    ]) {
      assert.ok(names.includes(expected), `has ${expected}`);
    }
    assert.ok(!names.includes('embeddings/segment'), 'no segment table for single sentences');
    assert.deepEqual(model.headKernel.shape, [16, 3]);
    disposeBatch(batch);
    model.dispose();
  });

  for (const pooling of ['cls', 'mean'] as const) {
    test(`${pooling} pooling ignores padding: padded tail and the padding embedding do not matter`, () => {
      const model = createTransformerClassifier({ ...SPEC, pooling }, SHAPE, 2, 2);
      const full = batchOf(IDS.slice(0, 2));
      const truncated = batchOf(IDS.slice(0, 2).map((row) => row.slice(0, 5)));
      const reference = pooledValues(model, full);
      assertAllClose(pooledValues(model, truncated), reference);
      // Rewrite the padding token's embedding: a leak through attention or pooling would show.
      const tokenTable = model.trainable.find((v) => parameterName(v) === 'embeddings/token');
      assert.ok(tokenTable);
      tf.tidy(() => tokenTable.assign(tf.concat([tf.fill([1, 16], 3), tf.slice(tokenTable, [1, 0], [19, 16])], 0)));
      assertAllClose(pooledValues(model, full), reference);
      [full, truncated].forEach(disposeBatch);
      model.dispose();
    });
  }

  test('cls pools position 0 and mean pools the masked average of the sequence output', () => {
    const cls = createTransformerClassifier({ ...SPEC, pooling: 'cls' }, SHAPE, 2, 3);
    const mean = createTransformerClassifier({ ...SPEC, pooling: 'mean' }, SHAPE, 2, 3);
    const batch = batchOf(IDS);
    const sequence = tf.tidy(() => cls.sequenceOutput(batch, EVAL).arraySync());
    assertAllClose(
      pooledValues(cls, batch),
      sequence.map((rows) => rows[0]),
    );
    const expectedMean = sequence.map((rows, b) => {
      const real = rows.filter((_, position) => IDS[b][position] !== 0);
      return real[0].map((_, j) => real.reduce((sum, row) => sum + row[j], 0) / real.length);
    });
    // Same seed, same parameters: only the pooling differs.
    assertAllClose(pooledValues(mean, batch), expectedMean);
    assert.ok(maxDifference(pooledValues(mean, batch), pooledValues(cls, batch)) > 1e-3);
    disposeBatch(batch);
    [cls, mean].forEach((model) => model.dispose());
  });

  test('sentence pairs: segment ids change the output and are required', () => {
    const model = createTransformerClassifier(SPEC, { ...SHAPE, hasSegments: true }, 2, 4);
    assert.ok(model.trainable.some((v) => parameterName(v) === 'embeddings/segment'));
    const firstSegment = batchOf(
      IDS,
      IDS.map((row) => row.map(() => 0)),
    );
    const split = batchOf(
      IDS,
      IDS.map((row) => row.map((_, position) => (position >= 3 ? 1 : 0))),
    );
    assert.ok(maxDifference(pooledValues(model, firstSegment), pooledValues(model, split)) > 1e-4);
    const missing = batchOf(IDS);
    assert.throws(() => model.features(missing, EVAL), /segmentIds/);
    [firstSegment, split, missing].forEach(disposeBatch);
    model.dispose();
  });

  test('every variable gets a finite, non-zero gradient', () => {
    const model = createTransformerClassifier({ ...SPEC, pooling: 'mean' }, { ...SHAPE, hasSegments: true }, 2, 5);
    const batch = batchOf(
      IDS,
      IDS.map((row) => row.map((_, position) => (position >= 4 ? 1 : 0))),
    );
    tf.tidy(() => {
      const { grads } = tf.variableGrads(() => {
        const logits = model.head(model.features(batch, { training: true, dropoutSeed: 7 }));
        return tf.mean(perExampleCrossEntropy(logits, batch.labels));
      }, [...model.trainable]);
      for (const variable of model.trainable) {
        const grad = grads[variable.name];
        assert.ok(grad, `gradient for ${variable.name}`);
        const values = grad.dataSync();
        assert.ok(values.every(Number.isFinite), `${variable.name} finite`);
        assert.ok(
          values.some((value) => value !== 0),
          `${variable.name} non-zero`,
        );
      }
    });
    disposeBatch(batch);
    model.dispose();
  });

  test('deterministic by seed; dropout masks follow the dropout seed', () => {
    const batch = batchOf(IDS);
    const first = createTransformerClassifier(SPEC, SHAPE, 2, 11);
    const a = pooledValues(first, batch, { training: true, dropoutSeed: 3 });
    const aAgain = pooledValues(first, batch, { training: true, dropoutSeed: 3 });
    const otherMask = pooledValues(first, batch, { training: true, dropoutSeed: 4 });
    const inference = pooledValues(first, batch);
    first.dispose();
    const second = createTransformerClassifier(SPEC, SHAPE, 2, 11);
    assert.deepEqual(pooledValues(second, batch, { training: true, dropoutSeed: 3 }), a);
    second.dispose();
    const otherSeed = createTransformerClassifier(SPEC, SHAPE, 2, 12);
    assert.ok(maxDifference(pooledValues(otherSeed, batch), inference) > 1e-3);
    otherSeed.dispose();
    assert.deepEqual(aAgain, a);
    assert.ok(maxDifference(otherMask, a) > 1e-4);
    assert.ok(maxDifference(inference, a) > 1e-4);
    disposeBatch(batch);
  });

  test('two live models coexist (instance-suffixed variable names)', () => {
    const one = createTransformerClassifier(SPEC, SHAPE, 2, 1);
    const two = createTransformerClassifier(SPEC, SHAPE, 2, 1);
    assert.deepEqual(two.trainable.map(parameterName), one.trainable.map(parameterName));
    [one, two].forEach((model) => model.dispose());
  });

  test('rejects an invalid spec', () => {
    assert.throws(() => createTransformerClassifier({ ...SPEC, heads: 3 }, SHAPE, 2, 1), /multiple of heads/);
  });

  test('fits a toy token task with the trainer (loss drops)', async () => {
    // Label 1 iff token 3 occurs in the sequence: needs attention to pool the evidence.
    const count = 64;
    const ids = new Int32Array(count * SHAPE.seqLen);
    const labels = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const length = 3 + (i % 6);
      for (let position = 0; position < length; position++) {
        ids[i * SHAPE.seqLen + position] = position === 0 ? 1 : 4 + ((i * 7 + position * 5) % 15);
      }
      labels[i] = i % 2;
      if (labels[i] === 1) ids[i * SHAPE.seqLen + 1 + (i % (length - 1))] = 3;
    }
    const set: ExampleSet = { inputs: { kind: 'tokens', ids, seqLen: SHAPE.seqLen, vocabSize: SHAPE.vocabSize }, labels, numClasses: 2 };
    const losses: number[] = [];
    const outcome = await train(
      {
        spec: runSpec(
          { kind: 'fft' },
          {
            model: { ...SPEC, dropout: 0 },
            batchSize: 16,
            epochs: 12,
            optimizer: optimizerSpec({ learningRate: 0.003 }),
          },
        ),
        train: set,
        validation: set,
        buildModel: (spec, inputs, numClasses, seed) => {
          if (spec.family !== 'transformer' || inputs.kind !== 'tokens') throw new Error('transformer test');
          return createTransformerClassifier(spec, inputs, numClasses, seed);
        },
      },
      { ...silentHooks, onStep: (telemetry) => losses.push(telemetry.loss) },
    );
    const early = (losses[0] + losses[1] + losses[2] + losses[3]) / 4;
    const late = losses.slice(-4).reduce((sum, loss) => sum + loss, 0) / 4;
    assert.ok(late < early * 0.5, `loss ${early.toFixed(3)} -> ${late.toFixed(3)}`);
    assert.ok((outcome.validation?.accuracy ?? 0) >= 0.9, `accuracy ${outcome.validation?.accuracy}`);
  });
});
