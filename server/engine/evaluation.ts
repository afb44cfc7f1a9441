import * as tf from '@tensorflow/tfjs';
import type { Evaluation, ExampleSet } from './types.js';
import { summarizeEvaluation } from './classification-metrics.js';
import type { ClassifierModel } from './models/classifier.js';
import { chunks, makeBatch } from './batching.js';
import { perExampleCrossEntropy } from './loss.js';

export { summarizeEvaluation } from './classification-metrics.js';

/** Pairwise cosines are taken over at most this many evenly spaced examples (O(m) via the sum trick). */
const REPRESENTATION_SAMPLE = 256;
const EVALUATION_BATCH = 256;

/**
 * Mean pairwise cosine of the rows of `pooled` [m, d]: with unit rows u_i,
 * sum_{i != j} u_i . u_j = ||sum_i u_i||^2 - m. Zero rows (dead ReLUs) count as cosine 0.
 */
export function meanPairwiseCosine(pooled: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const m = pooled.shape[0];
    if (m < 2) return tf.scalar(0);
    const norms = tf.maximum(tf.norm(pooled, 'euclidean', 1, true), 1e-12);
    const unitSum = tf.sum(tf.div(pooled, norms), 0);
    const nonZero = tf.sum(tf.cast(tf.greater(tf.squeeze(norms, [1]), 1e-12), 'float32'));
    return tf.div(tf.sub(tf.sum(tf.square(unitSum)), nonZero), m * (m - 1)) as tf.Scalar;
  });
}

/** Predicted class and summed loss of every example, plus the representation cosine, in inference mode. */
export async function evaluateModel(model: ClassifierModel, data: ExampleSet): Promise<Evaluation> {
  const count = data.labels.length;
  const predictions = new Int32Array(count);
  let lossSum = 0;
  const allIndices = Int32Array.from({ length: count }, (_, i) => i);
  const inference = { training: false, dropoutSeed: 0 };
  for (const [start, end] of chunks(count, EVALUATION_BATCH)) {
    const packed = tf.tidy(() => {
      const batch = makeBatch(data.inputs, data.labels, allIndices.subarray(start, end));
      const logits = model.head(model.features(batch, inference));
      const loss = tf.sum(perExampleCrossEntropy(logits, batch.labels));
      return tf.concat([tf.cast(tf.argMax(logits, 1), 'float32'), tf.reshape(loss, [1])]);
    });
    const values = await packed.data();
    packed.dispose();
    for (let i = 0; i < end - start; i++) predictions[start + i] = values[i];
    lossSum += values[end - start];
  }
  const sampleSize = Math.min(REPRESENTATION_SAMPLE, count);
  const sample = Int32Array.from({ length: sampleSize }, (_, j) => Math.floor((j * count) / sampleSize));
  const cosineTensor = tf.tidy(() => {
    const batch = makeBatch(data.inputs, data.labels, sample);
    return meanPairwiseCosine(model.features(batch, inference));
  });
  const representationCosine = (await cosineTensor.data())[0];
  cosineTensor.dispose();
  return summarizeEvaluation(data.labels, predictions, data.numClasses, lossSum, representationCosine);
}
