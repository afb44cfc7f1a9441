// GloVe vectors for a vocabulary: the streaming filter on a small file in wink's format, the
// file cache, the embedding table, and the glove_bag classifier.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { FileVectorCache, vocabularyKey } from '../../server/data/features-cache.js';
import { parameterName } from '../../server/engine/models/parameter-names.js';
import {
  cachedWordVectors,
  createGloveBagClassifier,
  filterWinkEmbeddings,
  GLOVE_EMBEDDING_NAME,
  gloveEmbeddingTable,
  type GloveBagModelSpec,
  type WordVectors,
} from '../../server/engine/models/pretrained/index.js';

const DIM = 4;
const WORDS = ['the', ',', '"', '[', ']', 'cat', 'naïve', 'dog', 'mat'];

/** A wink-format file: header, words list, vectors with [dim values, l2 norm, index], unkVector. */
function winkJson(): string {
  const vectors = Object.fromEntries(
    WORDS.map((word, index) => {
      const values = Array.from({ length: DIM }, (_, k) => Number(((index + 1) * 0.1 + k * 0.01 - 0.2).toFixed(6)));
      return [word, [...values, Math.hypot(...values), index]];
    }),
  );
  return JSON.stringify({
    precision: 8,
    l2NormIndex: DIM,
    wordIndex: DIM + 1,
    size: WORDS.length,
    dimensions: DIM,
    words: WORDS,
    vectors,
    unkVector: new Array(DIM + 2).fill(0),
  });
}

/** The text cut into chunks of `size` bytes: boundaries fall inside keys, numbers and the multi-byte 'ï'. */
function* byteChunks(text: string, size: number): Generator<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  for (let start = 0; start < bytes.length; start += size) yield bytes.subarray(start, start + size);
}

const VOCABULARY = ['[PAD]', '[CLS]', '[SEP]', '[UNK]', 'cat', '"', 'naïve', 'zebra', 'mat', ']'];

let root: string;
before(async () => {
  assert.ok(await tf.setBackend('wasm'));
  root = await mkdtemp(path.join(tmpdir(), 'steadytune-glove-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
  await tf.setBackend('cpu');
});

describe('GloVe filter', () => {
  test("keeps exactly the vocabulary words the file has, with the file's values, across any chunking", async () => {
    const parsed = JSON.parse(winkJson()) as { vectors: Record<string, number[]> };
    for (const size of [3, 7, 64, 100_000]) {
      const vectors = await filterWinkEmbeddings(byteChunks(winkJson(), size), VOCABULARY);
      assert.equal(vectors.dim, DIM);
      assert.deepEqual([...vectors.words].sort(), ['"', ']', 'cat', 'mat', 'naïve'].sort(), `chunk size ${size}`);
      for (const word of ['cat', 'naïve', '"', ']']) {
        const row = vectors.words.indexOf(word);
        assert.deepEqual(
          Array.from(vectors.values.subarray(row * DIM, (row + 1) * DIM)),
          parsed.vectors[word].slice(0, DIM).map(Math.fround),
        );
      }
    }
  });

  test('a truncated file is an error, not a silent partial result', async () => {
    const text = winkJson();
    await assert.rejects(filterWinkEmbeddings([text.slice(0, text.indexOf('"dog"'))], ['cat']), /ended before/);
  });

  test('the file cache stores filtered vectors by vocabulary; cachedWordVectors filters once', async () => {
    const cache = new FileVectorCache(path.join(root, 'vectors'));
    const key = vocabularyKey('test-source', VOCABULARY);
    assert.notEqual(key, vocabularyKey('test-source', [...VOCABULARY, 'extra']));
    let opened = 0;
    const open = (): Iterable<string> => {
      opened += 1;
      return [winkJson()];
    };
    const first = await cachedWordVectors(cache, key, VOCABULARY, open);
    const second = await cachedWordVectors(new FileVectorCache(path.join(root, 'vectors')), key, VOCABULARY, open);
    assert.deepEqual([first.hit, second.hit, opened], [false, true, 1]);
    assert.deepEqual(second.vectors.words, first.vectors.words);
    assert.deepEqual(second.vectors.values, first.vectors.values);
    assert.equal(await cache.get(vocabularyKey('test-source', ['other'])), undefined);
  });
});

describe('glove_bag', () => {
  const vectors: WordVectors = { dim: DIM, words: ['cat', 'mat'], values: Float32Array.of(1, 2, 3, 4, -1, -2, -3, -4) };
  const SPEC: GloveBagModelSpec = { family: 'glove_bag', hiddenUnits: [], dropout: 0, trainEmbedding: false };
  const INPUTS = { kind: 'tokens' as const, seqLen: 6, vocabSize: VOCABULARY.length, hasSegments: false };

  test('the table copies known rows and seeds small, reproducible rows for the rest', () => {
    const table = gloveEmbeddingTable(VOCABULARY, vectors, 3);
    assert.equal(table.pretrainedRows, 2);
    assert.deepEqual(Array.from(table.values.subarray(4 * DIM, 5 * DIM)), [1, 2, 3, 4]);
    assert.deepEqual(Array.from(table.values.subarray(8 * DIM, 9 * DIM)), [-1, -2, -3, -4]);
    const zebra = Array.from(table.values.subarray(7 * DIM, 8 * DIM));
    assert.ok(
      zebra.every((value) => value !== 0 && Math.abs(value) < 0.3),
      `${zebra}`,
    );
    assert.deepEqual(gloveEmbeddingTable(VOCABULARY, vectors, 3).values, table.values);
    assert.notDeepEqual(gloveEmbeddingTable(VOCABULARY, vectors, 4).values, table.values);
  });

  test('features are the mean over non-padding tokens; frozen tables stay out of the trainable set', () => {
    const table = gloveEmbeddingTable(VOCABULARY, vectors, 3);
    const model = createGloveBagClassifier(SPEC, table, INPUTS, 2, 1);
    assert.deepEqual(model.trainable.map(parameterName), ['head/kernel', 'head/bias']);
    const before = tf.memory().numTensors;
    const features = tf.tidy(() => {
      const ids = tf.tensor2d(
        [
          [4, 8, 0, 0, 0, 0],
          [4, 4, 4, 8, 8, 8],
        ],
        [2, 6],
        'int32',
      );
      return model
        .features({ inputs: ids, labels: tf.zeros([2], 'int32') as tf.Tensor1D, size: 2 }, { training: false, dropoutSeed: 0 })
        .arraySync();
    });
    assert.equal(tf.memory().numTensors, before);
    for (const row of features) row.forEach((value) => assert.ok(Math.abs(value) < 1e-6, 'cat and mat cancel out'));
    model.dispose();
  });

  test('a trainable embedding gets a gradient only on the rows in the batch', () => {
    const model = createGloveBagClassifier(
      { ...SPEC, trainEmbedding: true, hiddenUnits: [5] },
      gloveEmbeddingTable(VOCABULARY, vectors, 3),
      INPUTS,
      2,
      1,
    );
    assert.equal(parameterName(model.trainable[0]), GLOVE_EMBEDDING_NAME);
    const { value, grads } = tf.variableGrads(() => {
      const ids = tf.tensor2d([[1, 4, 7, 2, 0, 0]], [1, 6], 'int32');
      const logits = model.head(
        model.features({ inputs: ids, labels: tf.zeros([1], 'int32') as tf.Tensor1D, size: 1 }, { training: true, dropoutSeed: 1 }),
      );
      return tf.sum(tf.mul(logits, tf.tensor1d([1, -1])));
    }, model.trainable as tf.Variable[]);
    const embeddingGradient = grads[model.trainable[0].name].arraySync() as number[][];
    const touched = embeddingGradient.map((row) => row.some((v) => v !== 0));
    assert.deepEqual(
      touched.map((hit, id) => (hit ? id : -1)).filter((id) => id >= 0),
      [1, 2, 4, 7],
    );
    tf.dispose([value, ...Object.values(grads)]);
    model.dispose();
  });
});
