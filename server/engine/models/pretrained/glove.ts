import * as tf from '@tensorflow/tfjs';
import { batchedMatMul, embeddingLookup } from '../../ops.js';
import { deriveSeed, seededRandom } from '../../random.js';
import type { Batch, ClassifierModel, ForwardOptions } from '../classifier.js';
import type { InputMeta } from '../classifier.js';
import { ParameterFactory } from '../parameters.js';
import { registrableName } from '../parameter-names.js';
import { applyClassHead, applyHiddenLayers, createDenseHead } from './feature-head.js';
import type { WordVectors } from './glove-filter.js';
import type { GloveBagModelSpec } from './specs.js';

export { cachedWordVectors, filterWinkEmbeddings, type VectorStore, type WordVectors } from './glove-filter.js';

/** Rows the vectors lack ([PAD], [CLS], [SEP], [UNK], out-of-vocabulary words) are drawn N(0, this^2): small next to GloVe's ~0.4 per component. */
export const UNKNOWN_ROW_STD = 0.05;
export const GLOVE_EMBEDDING_NAME = 'glove_bag/embedding';
/** Token id 0 is padding (types.ts): it is left out of the mean. */
const PADDING_ID = 0;

export interface EmbeddingTable {
  /** Row-major [vocabSize, dim]. */
  readonly values: Float32Array;
  readonly vocabSize: number;
  readonly dim: number;
  /** Rows that came from the vectors (the rest are seeded random). */
  readonly pretrainedRows: number;
}

/** A [vocabulary.length, dim] table: GloVe rows where the vectors have the token, seeded small random rows elsewhere. */
export function gloveEmbeddingTable(vocabulary: readonly string[], vectors: WordVectors, seed: number): EmbeddingTable {
  const { dim } = vectors;
  const rowOf = new Map(vectors.words.map((word, row) => [word, row]));
  const random = seededRandom(deriveSeed(seed, 'init', 0));
  // Box-Muller on the seeded stream: reproducible from the seed alone, and the same on every backend.
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - random.next())) * Math.cos(2 * Math.PI * random.next());
  const values = new Float32Array(vocabulary.length * dim);
  let pretrainedRows = 0;
  vocabulary.forEach((token, id) => {
    const row = rowOf.get(token);
    if (row !== undefined) {
      values.set(vectors.values.subarray(row * dim, (row + 1) * dim), id * dim);
      pretrainedRows += 1;
    } else {
      for (let k = 0; k < dim; k++) values[id * dim + k] = UNKNOWN_ROW_STD * normal();
    }
  });
  return { values, vocabSize: vocabulary.length, dim, pretrainedRows };
}

/**
 * Bag of embeddings: the mean of the token embeddings over non-padding positions, then
 * optional hidden layers and the head. With trainEmbedding the table is a variable
 * (`glove_bag/embedding`); otherwise a constant the builder supplies again at inference.
 */
export function createGloveBagClassifier(
  spec: GloveBagModelSpec,
  table: EmbeddingTable,
  inputs: InputMeta,
  numClasses: number,
  seed: number,
): ClassifierModel {
  if (inputs.kind !== 'tokens') throw new Error('glove_bag needs token inputs, got feature vectors');
  if (inputs.vocabSize !== table.vocabSize) {
    throw new Error(`the embedding table has ${table.vocabSize} rows, the inputs' vocabulary ${inputs.vocabSize} tokens`);
  }
  const initial = tf.tensor2d(table.values, [table.vocabSize, table.dim], 'float32');
  const embedding: tf.Tensor2D = spec.trainEmbedding ? tf.variable(initial, true, registrableName(GLOVE_EMBEDDING_NAME)) : initial;
  if (spec.trainEmbedding) initial.dispose();
  const head = createDenseHead(new ParameterFactory(seed), 'glove_bag', table.dim, spec, numClasses);
  const trainable = spec.trainEmbedding ? [embedding as tf.Variable, ...head.variables] : head.variables;
  return {
    family: 'glove_bag',
    numClasses,
    trainable,
    headKernel: head.headKernel,
    headBias: head.headBias,
    features(batch: Batch, options: ForwardOptions): tf.Tensor2D {
      const ids = batch.inputs;
      if (ids.dtype !== 'int32') throw new Error('glove_bag takes int32 token ids, not float features');
      return tf.tidy(() => {
        const [n, seqLen] = ids.shape;
        const vectors = embeddingLookup(embedding, ids) as tf.Tensor3D;
        const realToken = tf.cast(tf.notEqual(ids, PADDING_ID), 'float32');
        // Masked sum as a batched [1, L] x [L, dim] matMul: NN forward and backward (ops.ts).
        const summed = tf.reshape(batchedMatMul(tf.reshape(realToken, [n, 1, seqLen]), vectors), [n, table.dim]);
        const mean: tf.Tensor2D = tf.div(summed, tf.maximum(tf.sum(realToken, 1, true), 1));
        return applyHiddenLayers(head, mean, spec.dropout, options);
      });
    },
    head: (features) => applyClassHead(head, features),
    dispose: () => [embedding, ...head.variables].forEach((tensor) => tensor.dispose()),
  };
}
