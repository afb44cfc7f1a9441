import * as tf from '@tensorflow/tfjs';
import type { FullConflict } from './types.js';
import { groupWeights, weightedGradient, type ForwardRecord, type MicroBatchContext } from './methods/method.js';
import { perExampleCrossEntropy } from './loss.js';
import { fastKernelsActive, headSumsOf, stepReadoutOf } from './kernels/index.js';

// Gradient conflict between the misclassified (W) and correct (C) examples: the quantity DSGD
// is about (docs/DSGD.md §Telemetry). Tensors stay on the device; the trainer reads all scalars
// in one go.

/** Host-side result for FullConflict and StepTelemetry.headConflictCosine. */
export interface ConflictSums {
  /** g_W . g_C, ||g_W||^2, ||g_C||^2 */
  readonly dot: number;
  readonly wrongSquared: number;
  readonly correctSquared: number;
}

/**
 * Head-only g_W and g_C from one forward pass, flattened as [kernel, bias].
 * The per-example gradient of cross-entropy wrt the head kernel is h_i (p_i - y_i)^T, and wrt
 * the bias p_i - y_i, so a group's sum is h^T (mask * (p - y)). Divided by n like the loss.
 */
export function headGroupGradients(forward: ForwardRecord, labels: tf.Tensor1D): { wrong: tf.Tensor1D; correct: tf.Tensor1D } {
  return tf.tidy(() => {
    const { pooled, logits, correct } = forward;
    const n = logits.shape[0];
    const residual = tf.sub(tf.softmax(logits), tf.oneHot(labels, logits.shape[1]).toFloat());
    // Explicit transpose then an NN matMul: matMul(h, d, true) is the slow TN kernel on wasm.
    const pooledTransposed = tf.transpose(pooled);
    const groupGradient = (mask: tf.Tensor1D): tf.Tensor1D => {
      const masked = tf.mul(residual, tf.expandDims(mask, 1));
      const kernel = tf.matMul(pooledTransposed, masked);
      return tf.div(tf.concat([tf.reshape(kernel, [-1]), tf.sum(masked, 0)]), n) as tf.Tensor1D;
    };
    return { wrong: groupGradient(tf.sub(1, correct)), correct: groupGradient(correct) };
  });
}

/**
 * One micro-batch's [loss sum, correct count, head g_W, head g_C] as one tensor (layout:
 * kernels/telemetry-kernels.ts), so micro-batches accumulate with one add. One kernel where the
 * engine's kernels run; the same quantities in stock ops elsewhere (native TensorFlow).
 */
export function microBatchSums(forward: ForwardRecord, labels: tf.Tensor1D): tf.Tensor1D {
  if (fastKernelsActive()) return headSumsOf(forward.logits, labels, forward.pooled, forward.correct);
  return tf.tidy(() => {
    const head = headGroupGradients(forward, labels);
    const counts = tf.stack([tf.sum(perExampleCrossEntropy(forward.logits, labels)), tf.sum(forward.correct)]);
    return tf.concat([counts, head.wrong, head.correct]) as tf.Tensor1D;
  });
}

/** The step's readout head: [loss sum, correct count, gradient norm, head dot, |g_W|^2, |g_C|^2] (step.ts READOUT). */
export function stepReadout(sums: tf.Tensor1D, norm: tf.Scalar): tf.Tensor1D {
  if (fastKernelsActive()) return stepReadoutOf(sums, norm);
  return tf.tidy(() => {
    const groupSize = (sums.size - 2) / 2;
    const [counts, wrong, correct] = tf.split(sums, [2, groupSize, groupSize]);
    return tf.concat([counts, tf.reshape(norm, [1]), conflictSums(wrong, correct)]) as tf.Tensor1D;
  });
}

/** Full-model g_W and g_C of cross-entropy for one micro-batch: two backward passes. */
export function fullGroupGradients(context: MicroBatchContext): { wrong: tf.NamedTensorMap; correct: tf.NamedTensorMap } {
  return {
    wrong: weightedGradient(context, { exampleWeights: groupWeights('wrong') }).grads,
    correct: weightedGradient(context, { exampleWeights: groupWeights('correct') }).grads,
  };
}

const flatten = (gradients: tf.Tensor | tf.NamedTensorMap): tf.Tensor[] =>
  gradients instanceof tf.Tensor ? [gradients] : Object.values(gradients);

/** [g_W . g_C, ||g_W||^2, ||g_C||^2] as one tensor [3]; names of a map must match. */
export function conflictSums(wrong: tf.Tensor | tf.NamedTensorMap, correct: tf.Tensor | tf.NamedTensorMap): tf.Tensor1D {
  return tf.tidy(() => {
    const w = flatten(wrong);
    const c = flatten(correct);
    const total = (parts: tf.Tensor[]): tf.Scalar => tf.addN(parts) as tf.Scalar;
    return tf.stack([
      total(w.map((g, i) => tf.sum(tf.mul(g, c[i])))),
      total(w.map((g) => tf.sum(tf.square(g)))),
      total(c.map((g) => tf.sum(tf.square(g)))),
    ]) as tf.Tensor1D;
  });
}

/** Cosine from the sums; null when a group is empty (its gradient is zero by definition). */
export function conflictCosine(sums: ConflictSums, wrongCount: number, correctCount: number): number | null {
  if (wrongCount === 0 || correctCount === 0) return null;
  const normProduct = Math.sqrt(sums.wrongSquared * sums.correctSquared);
  return normProduct > 0 ? sums.dot / normProduct : null;
}

export function fullConflict(sums: ConflictSums, wrongCount: number, correctCount: number): FullConflict {
  return {
    cosine: conflictCosine(sums, wrongCount, correctCount),
    normWrong: Math.sqrt(sums.wrongSquared),
    normCorrect: Math.sqrt(sums.correctSquared),
  };
}

export { evaluateModel, summarizeEvaluation } from './evaluation.js';
