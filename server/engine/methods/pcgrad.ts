import * as tf from '@tensorflow/tfjs';
import { groupWeights, weightedGradient, type TrainingMethod } from './method.js';

/** Sum over all parameters of a . b, as a scalar tensor. */
function dot(a: tf.NamedTensorMap, b: tf.NamedTensorMap): tf.Scalar {
  return tf.addN(Object.keys(a).map((name) => tf.sum(tf.mul(a[name], b[name])))) as tf.Scalar;
}

/**
 * PCGrad with two tasks (Yu et al. 2020): where g_W . g_C < 0, project each gradient onto the
 * normal plane of the other's original, then sum; otherwise g_W + g_C. The test is a tensor
 * (min(dot, 0)), so no host read is needed. An empty group has a zero gradient, hence dot = 0
 * and the step is plain gradient descent on the batch.
 */
export function projectConflicting(wrong: tf.NamedTensorMap, correct: tf.NamedTensorMap): tf.NamedTensorMap {
  return tf.tidy(() => {
    const conflict = tf.minimum(dot(wrong, correct), 0);
    // Tiny floor: a zero-norm gradient has dot 0, so the coefficient is 0 whatever the floor.
    const onCorrect = tf.div(conflict, tf.maximum(dot(correct, correct), 1e-30));
    const onWrong = tf.div(conflict, tf.maximum(dot(wrong, wrong), 1e-30));
    const combined: tf.NamedTensorMap = {};
    for (const name of Object.keys(wrong)) {
      const wrongProjected = tf.sub(wrong[name], tf.mul(onCorrect, correct[name]));
      const correctProjected = tf.sub(correct[name], tf.mul(onWrong, wrong[name]));
      combined[name] = tf.add(wrongProjected, correctProjected);
    }
    return combined;
  });
}

/** The misclassified (W) and correct (C) examples as two tasks; two backward passes per micro-batch. */
export function createPcgrad(): TrainingMethod {
  return {
    kind: 'pcgrad',
    gradient(context) {
      // Equal dropout seeds make both passes the same forward pass, hence the same split.
      const wrong = weightedGradient(context, { exampleWeights: groupWeights('wrong') });
      const correct = weightedGradient(context, { exampleWeights: groupWeights('correct') });
      return { grads: projectConflicting(wrong.grads, correct.grads), forward: wrong.forward, alpha: 1 };
    },
  };
}
