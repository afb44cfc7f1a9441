import * as tf from '@tensorflow/tfjs';
import { perExampleFocal } from '../loss.js';
import { weightedGradient, type TrainingMethod } from './method.js';

/** Focal loss -a_y (1 - p_y)^gamma log p_y, mean over the batch. */
export function createFocal(gamma: number, classWeights?: readonly number[]): TrainingMethod {
  if (!Number.isFinite(gamma) || gamma < 0) throw new Error(`focal gamma must be >= 0, got ${gamma}`);
  return {
    kind: 'focal',
    gradient(context) {
      const { grads, forward } = weightedGradient(context, {
        exampleWeights: (correct) => tf.onesLike(correct),
        perExampleLoss: (logits, labels) => perExampleFocal(logits, labels, gamma, classWeights),
      });
      return { grads, forward, alpha: 1 };
    },
  };
}
