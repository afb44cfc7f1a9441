import * as tf from '@tensorflow/tfjs';
import type { AlphaScheduleKind } from '../types.js';
import { dynamicScaler } from '../scaler.js';
import { weightedGradient, type TrainingMethod } from './method.js';
import { dsgdWeightsOf, fastKernelsActive } from '../kernels/index.js';

/**
 * w = 1 - (1 - alpha) * correct: 1 on W, alpha on C. With W empty the step is ordinary gradient
 * descent on the batch (docs/DSGD.md §The update): alpha counts as 1 then. One kernel where the
 * engine's kernels run (the same f32 math, kernels/example-weights.ts).
 */
export function dsgdExampleWeights(correct: tf.Tensor1D, alpha: number): tf.Tensor1D {
  if (fastKernelsActive()) return dsgdWeightsOf(correct, alpha);
  return tf.tidy(() => {
    const hasWrong = tf.greater(tf.sum(tf.sub(1, correct)), 0);
    const effectiveAlpha = tf.where(hasWrong, tf.scalar(alpha), tf.scalar(1));
    return tf.sub(1, tf.mul(tf.sub(1, effectiveAlpha), correct));
  });
}

/**
 * Dynamic Scaled Gradient Descent: g = g_W + alpha_t g_C in one backward pass, by weighting
 * each example's loss 1 if misclassified and alpha_t if correct (docs/DSGD.md §The update).
 */
export function createDsgd(lambda: number, schedule: AlphaScheduleKind): TrainingMethod {
  const alphaAt = dynamicScaler(schedule, lambda);
  return {
    kind: 'dsgd',
    gradient(context) {
      const alpha = alphaAt(context.step / context.totalSteps);
      const { grads, forward } = weightedGradient(context, {
        exampleWeights: (correct) => dsgdExampleWeights(correct, alpha),
      });
      return { grads, forward, alpha };
    },
  };
}
