import * as tf from '@tensorflow/tfjs';
import type { ClassifierModel } from '../models/classifier.js';
import { weightedGradient, type TrainingMethod } from './method.js';

/**
 * weight * sum_i ||head(h_i + e_i) - head(h_i)||^2 / batchSize: how far the logits move when
 * the pooled features h are perturbed by `noise` (e). Divided by the batch size like the loss,
 * so micro-batch accumulation averages it the same way.
 */
export function noiseStabilityPenalty(
  model: ClassifierModel,
  pooled: tf.Tensor2D,
  logits: tf.Tensor2D,
  noise: tf.Tensor2D,
  weight: number,
  batchSize: number,
): tf.Scalar {
  return tf.tidy(() => {
    const change = tf.sub(model.head(tf.add(pooled, noise)), logits);
    return tf.mul(tf.sum(tf.mul(change, change)), weight / batchSize) as tf.Scalar;
  });
}

/**
 * Layerwise noise stability regularization (Hua et al. 2021) at the head's input: plain loss
 * plus noiseStabilityPenalty with Gaussian noise of std `noiseStd`, drawn per micro-batch from
 * context.noiseSeed. With a linear head the change is e W, so the penalty acts on the head
 * kernel only (in expectation noiseStd^2 * weight * ||W||_F^2, a noise-shaped weight decay).
 */
export function createLnsr(noiseStd: number, weight: number): TrainingMethod {
  if (!Number.isFinite(noiseStd) || noiseStd < 0) throw new Error(`lnsr noiseStd must be >= 0, got ${noiseStd}`);
  if (!Number.isFinite(weight) || weight < 0) throw new Error(`lnsr weight must be >= 0, got ${weight}`);
  return {
    kind: 'lnsr',
    gradient(context) {
      const { grads, forward } = weightedGradient(context, {
        exampleWeights: (correct) => tf.onesLike(correct),
        regularizer: ({ model, pooled, logits }) => {
          const noise = tf.randomNormal<tf.Rank.R2>(pooled.shape, 0, noiseStd, 'float32', context.noiseSeed);
          return noiseStabilityPenalty(model, pooled, logits, noise, weight, context.batch.size);
        },
      });
      return { grads, forward, alpha: 1 };
    },
  };
}
