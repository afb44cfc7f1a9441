import * as tf from '@tensorflow/tfjs';

// Every loss here starts from logits through log-softmax. tf.losses on softmax
// probabilities clips at 1e-7, and a saturated example then has an exactly zero gradient:
// that clip manufactured the "collapses" in docs/ENGINE.md §Measured facts.

/** log p(y_i | x_i) per example, [n]. oneHot * logSoftmax instead of gather: gather's gradient is missing on wasm. */
export function labelLogProbability(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const numClasses = logits.shape[1];
    const oneHot = tf.oneHot(labels, numClasses).toFloat();
    return tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1) as tf.Tensor1D;
  });
}

/** Cross-entropy per example from logits, [n]. */
export function perExampleCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => tf.neg(labelLogProbability(logits, labels)));
}

/**
 * Focal loss per example: -a_y (1 - p_y)^gamma log p_y, [n].
 * classWeights (a) has one entry per class; absent means all 1.
 */
export function perExampleFocal(logits: tf.Tensor2D, labels: tf.Tensor1D, gamma: number, classWeights?: readonly number[]): tf.Tensor1D {
  return tf.tidy(() => {
    const logProbability = labelLogProbability(logits, labels);
    let loss: tf.Tensor1D = tf.neg(logProbability);
    if (gamma !== 0) {
      // max(., tiny) only acts when p_y rounds to exactly 1 (loss 0 anyway); it keeps
      // pow's gradient finite there for gamma < 1.
      const remaining = tf.maximum(tf.sub(1, tf.exp(logProbability)), 1e-30);
      loss = tf.mul(tf.pow(remaining, gamma), loss);
    }
    if (classWeights !== undefined) {
      const numClasses = logits.shape[1];
      if (classWeights.length !== numClasses) {
        throw new Error(`focal classWeights has ${classWeights.length} entries, expected ${numClasses}`);
      }
      const oneHot = tf.oneHot(labels, numClasses).toFloat();
      const weightOfLabel = tf.sum(tf.mul(oneHot, tf.tensor1d([...classWeights])), 1);
      loss = tf.mul(weightOfLabel, loss);
    }
    return loss;
  });
}

/**
 * sum_i w_i * l_i / batchSize: the mean plain training would take, with per-example weights.
 * Dividing by the batch size (not by sum w) keeps DSGD's gradient exactly g_W + alpha g_C.
 */
export function weightedMean(perExample: tf.Tensor1D, weights: tf.Tensor1D, batchSize: number): tf.Scalar {
  return tf.tidy(() => tf.div(tf.sum(tf.mul(perExample, weights)), batchSize));
}
