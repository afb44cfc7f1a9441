// Safetensors parsing/writing and Hugging Face BERT checkpoints in the engine transformer:
// a tiny checkpoint written by the test must reproduce a plain-JS BERT forward pass.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { readHfCheckpointFiles } from '../../server/data/pretrained-files.js';
import { parameterName } from '../../server/engine/models/parameter-names.js';
import type { TransformerClassifier } from '../../server/engine/models/transformer.js';
import {
  createHfEncoderClassifier,
  encodeSafetensors,
  mapHfCheckpoint,
  parseHfConfig,
  parseSafetensors,
  parseVocabTxt,
  type HfEncoderModelSpec,
  type MappedCheckpoint,
} from '../../server/engine/models/pretrained/index.js';
import { floatToHalf, halfToFloat } from '../../server/engine/models/pretrained/safetensors.js';
import { referenceBertForward, TINY_BERT_CONFIG, TINY_VOCAB, tinyBertTensors } from '../fixtures/pretrained-fixtures.js';

const OUR_TOKENS = ['[PAD]', '[CLS]', '[SEP]', '[UNK]', 'the', 'cat', 'sat', 'mat', 'dog', 'cats', 'zzz', 'on'];
/** The same two sentences in our ids and in the checkpoint's ids. */
const OUR_IDS = [
  [1, 4, 5, 6, 11, 4, 7, 2],
  [1, 8, 6, 2, 0, 0, 0, 0],
];
const HF_IDS = [
  [2, 5, 6, 7, 8, 5, 9, 3],
  [2, 11, 7, 3, 0, 0, 0, 0],
];
const SPEC: HfEncoderModelSpec = { family: 'hf_encoder', path: 'tiny-bert', pooling: 'cls', dropout: 0 };
const EVAL = { training: false, dropoutSeed: 0 };

let root: string;
before(async () => {
  assert.ok(await tf.setBackend('wasm'));
  root = await mkdtemp(path.join(tmpdir(), 'steadytune-hf-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
  await tf.setBackend('cpu');
});

describe('safetensors', () => {
  test('F32 round-trips exactly, with metadata; F16 and BF16 to their precision', () => {
    const tensors = tinyBertTensors(1).slice(0, 5);
    const parsed = parseSafetensors(encodeSafetensors(tensors, 'F32', { format: 'pt' }));
    assert.deepEqual(parsed.metadata, { format: 'pt' });
    for (const { name, shape, values } of tensors) {
      assert.deepEqual(parsed.tensors.get(name)?.shape, shape);
      assert.deepEqual(parsed.tensors.get(name)?.values, values);
    }
    for (const [dtype, tolerance] of [
      ['F16', 1e-3],
      ['BF16', 8e-3],
    ] as const) {
      const lowered = parseSafetensors(encodeSafetensors(tensors, dtype));
      for (const { name, values } of tensors) {
        const read = lowered.tensors.get(name);
        assert.equal(read?.dtype, dtype);
        values.forEach((value, i) =>
          assert.ok(
            Math.abs((read?.values[i] ?? Number.NaN) - value) <= tolerance * Math.max(1, Math.abs(value)),
            `${dtype} ${name}[${i}]`,
          ),
        );
      }
    }
  });

  test('half conversion handles the edge cases', () => {
    for (const value of [0, 1, -2.5, 65504, 2 ** -14, 2 ** -24]) assert.equal(halfToFloat(floatToHalf(value)), value);
    assert.equal(halfToFloat(floatToHalf(1e6)), Number.POSITIVE_INFINITY);
    assert.equal(halfToFloat(floatToHalf(1e-9)), 0);
    assert.ok(Number.isNaN(halfToFloat(floatToHalf(Number.NaN))));
    assert.equal(floatToHalf(1 + 2 ** -11), floatToHalf(1), 'ties round to even');
  });

  test('rejects offsets that do not match the shape', () => {
    const bytes = encodeSafetensors([{ name: 'x', shape: [2], values: Float32Array.of(1, 2) }]);
    const text = new TextDecoder().decode(bytes).replace('"shape":[2]', '"shape":[3]');
    assert.throws(() => parseSafetensors(new TextEncoder().encode(text)), /offsets/);
  });
});

async function writeCheckpoint(dtype: 'F32' | 'F16'): Promise<void> {
  const directory = path.join(root, 'tiny-bert');
  await mkdir(directory, { recursive: true });
  await writeFile(path.join(directory, 'config.json'), JSON.stringify(TINY_BERT_CONFIG));
  await writeFile(path.join(directory, 'vocab.txt'), `${TINY_VOCAB.join('\n')}\n`);
  await writeFile(path.join(directory, 'model.safetensors'), encodeSafetensors(tinyBertTensors(7), dtype));
}

async function loadCheckpoint(seqLen: number, hasSegments: boolean): Promise<MappedCheckpoint> {
  const files = await readHfCheckpointFiles('tiny-bert', { dataRoot: root });
  assert.ok('vocabTxt' in files.vocabulary);
  const parsed = parseSafetensors(files.safetensors);
  return mapHfCheckpoint(
    parseHfConfig(files.config),
    parsed.tensors,
    parseVocabTxt(files.vocabulary.vocabTxt),
    { tokens: OUR_TOKENS, seqLen, hasSegments },
    SPEC,
  );
}

const referenceTensors = (): Map<string, Float32Array> => new Map(tinyBertTensors(7).map(({ name, values }) => [name, values]));

function sequenceOf(model: TransformerClassifier, ids: number[][], segments?: number[][]): number[][][] {
  return tf.tidy(() => {
    const batch = {
      inputs: tf.tensor2d(ids, [ids.length, ids[0].length], 'int32'),
      ...(segments ? { segmentIds: tf.tensor2d(segments, [segments.length, segments[0].length], 'int32') } : {}),
      labels: tf.zeros([ids.length], 'int32') as tf.Tensor1D,
      size: ids.length,
    };
    return model.sequenceOutput(batch, EVAL).arraySync();
  });
}

function assertClose(actual: number[], expected: number[], tolerance: number, label: string): void {
  actual.forEach((value, k) => assert.ok(Math.abs(value - expected[k]) <= tolerance, `${label}[${k}] ${value} vs ${expected[k]}`));
}

describe('Hugging Face encoder checkpoint', () => {
  test('loads into the post-LN transformer and reproduces the reference hidden states and logits', async () => {
    await writeCheckpoint('F32');
    const checkpoint = await loadCheckpoint(8, false);
    assert.match(checkpoint.notes.join('\n'), /token rows: 10 exact, 1 averaged from sub-word pieces, 1 unknown/);
    assert.match(checkpoint.notes.join('\n'), /unused checkpoint tensors: pooler\.dense\.weight/);
    const inputs = { kind: 'tokens' as const, seqLen: 8, vocabSize: OUR_TOKENS.length, hasSegments: false };
    const model = createHfEncoderClassifier(SPEC, checkpoint, inputs, 3, 5);
    const head = { kernel: Array.from({ length: 8 }, (_, i) => [0.1 * i, -0.2, 0.05 * i * i]), bias: [0.3, -0.1, 0] };
    tf.tidy(() => {
      model.headKernel.assign(tf.tensor2d(head.kernel));
      model.headBias.assign(tf.tensor1d(head.bias));
    });
    const sequences = sequenceOf(model, OUR_IDS);
    const reference = referenceTensors();
    HF_IDS.forEach((ids, row) => {
      const expected = referenceBertForward(reference, ids);
      ids.forEach((id, position) => {
        if (id !== 0) assertClose(sequences[row][position], expected[position], 1e-4, `row ${row} position ${position}`);
      });
      const logits = tf.tidy(() => model.head(tf.tensor2d([sequences[row][0]])).arraySync()[0]);
      const expectedLogits = head.bias.map((b, c) => expected[0].reduce((sum, value, k) => sum + value * head.kernel[k][c], b));
      assertClose(logits, expectedLogits, 1e-4, `logits ${row}`);
    });
    model.dispose();
  });

  test('sentence pairs use the token-type rows; F16 weights stay close', async () => {
    await writeCheckpoint('F16');
    const checkpoint = await loadCheckpoint(8, true);
    const inputs = { kind: 'tokens' as const, seqLen: 8, vocabSize: OUR_TOKENS.length, hasSegments: true };
    const model = createHfEncoderClassifier(SPEC, checkpoint, inputs, 2, 5);
    const segments = [0, 0, 0, 0, 1, 1, 1, 0];
    const [sequence] = sequenceOf(model, [[1, 4, 5, 2, 8, 6, 2, 0]], [segments]);
    const expected = referenceBertForward(referenceTensors(), [2, 5, 6, 3, 11, 7, 3, 0], segments);
    for (let position = 0; position < 7; position++) assertClose(sequence[position], expected[position], 2e-2, `position ${position}`);
    model.dispose();
  });

  test('trainableLayers keeps the lower layers and embeddings out of the trainable set', async () => {
    await writeCheckpoint('F32');
    const checkpoint = await loadCheckpoint(8, false);
    const inputs = { kind: 'tokens' as const, seqLen: 8, vocabSize: OUR_TOKENS.length, hasSegments: false };
    const model = createHfEncoderClassifier({ ...SPEC, trainableLayers: 1 }, checkpoint, inputs, 2, 5);
    const names = model.trainable.map(parameterName);
    assert.ok(
      names.every((name) => name.startsWith('encoder/layer1/') || name.startsWith('head/')),
      names.join(', '),
    );
    assert.ok(names.includes('head/kernel') && names.includes('encoder/layer1/attn/query/kernel'));
    model.dispose();
  });

  test('RoBERTa positions start after the padding index and need room for seqLen', () => {
    const config = parseHfConfig({ ...TINY_BERT_CONFIG, model_type: 'roberta', pad_token_id: 1, type_vocab_size: 1 });
    const tensors = new Map(
      tinyBertTensors(3, 'roberta.')
        .filter(({ name }) => !name.includes('token_type'))
        .map(({ name, shape, values }) => [name, { dtype: 'F32' as const, shape, values }]),
    );
    const types = new Float32Array(8).fill(0.5);
    tensors.set('roberta.embeddings.token_type_embeddings.weight', { dtype: 'F32', shape: [1, 8], values: types });
    const vocabulary = parseVocabTxt(TINY_VOCAB.join('\n'));
    const mapped = mapHfCheckpoint(config, tensors, vocabulary, { tokens: OUR_TOKENS, seqLen: 4, hasSegments: false }, SPEC);
    const table = tensors.get('roberta.embeddings.position_embeddings.weight')?.values as Float32Array;
    const positions = mapped.weights.find(({ name }) => name === 'embeddings/position');
    assert.deepEqual(positions?.shape, [4, 8]);
    positions?.values.forEach((value, i) => assert.ok(Math.abs(value - (table[16 + i] + 0.5)) < 1e-6));
    assert.throws(
      () => mapHfCheckpoint(config, tensors, vocabulary, { tokens: OUR_TOKENS, seqLen: 11, hasSegments: false }, SPEC),
      /positions/,
    );
  });
});
