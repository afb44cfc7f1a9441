import * as tf from '@tensorflow/tfjs';
import type { ExampleSet, RunSpec } from './types.js';
import type { ClassifierModel } from './models/classifier.js';
import type { TrainingMethod } from './methods/method.js';
import { makeBatch } from './batching.js';
import type { ParameterOptimizer } from './optimizer.js';
import { deriveSeed } from './random.js';
import { conflictSums, fullGroupGradients, microBatchSums, stepReadout } from './telemetry.js';

/** Everything one optimizer step needs. */
export interface StepPlan {
  readonly model: ClassifierModel;
  readonly method: TrainingMethod;
  readonly optimizer: ParameterOptimizer;
  readonly spec: RunSpec;
  readonly train: ExampleSet;
  /** Example indices of each micro-batch of this step. */
  readonly microBatches: readonly Int32Array[];
  /** Run-wide index of the first micro-batch: seeds its dropout and noise. */
  readonly firstMicroBatch: number;
  /** Optimizer steps done before this one (0-based). */
  readonly step: number;
  readonly totalSteps: number;
  readonly learningRate: number;
  readonly withFullConflict: boolean;
}

/** Positions in StepResult.readout. */
export const READOUT = {
  lossSum: 0,
  correctCount: 1,
  gradientNorm: 2,
  head: 3,
  full: 6,
} as const;

export interface StepResult {
  /**
   * [loss sum, correct count, gradient norm, head dot, head |g_W|^2, head |g_C|^2, and with full
   * conflict: full dot, |g_W|^2, |g_C|^2]: one tensor so the host reads the step with one await.
   * Untracked: the caller disposes it.
   */
  readonly readout: tf.Tensor1D;
  readonly alpha: number;
  readonly examples: number;
}

type Sum = tf.NamedTensorMap | tf.Tensor;

/** a + b, freeing a and b: keeps accumulation from holding every micro-batch's gradient. */
function accumulate<T extends Sum>(total: T | undefined, next: T): T {
  if (total === undefined) return next;
  if (next instanceof tf.Tensor) {
    const sum = tf.add(total as tf.Tensor, next);
    tf.dispose([total as tf.Tensor, next]);
    return sum as T;
  }
  const sum: tf.NamedTensorMap = {};
  const previous = total as tf.NamedTensorMap;
  for (const name of Object.keys(next)) sum[name] = tf.add(previous[name], next[name]);
  tf.dispose([...Object.values(previous), ...Object.values(next)]);
  return sum as T;
}

/** The mean of accumulated micro-batch gradients; a single micro-batch's are already the mean. */
function meanOf(grads: tf.NamedTensorMap, microBatches: number): tf.NamedTensorMap {
  if (microBatches === 1) return grads;
  const mean: tf.NamedTensorMap = {};
  for (const [name, gradient] of Object.entries(grads)) mean[name] = tf.div(gradient, microBatches);
  return mean;
}

interface MicroBatchTotals {
  grads?: tf.NamedTensorMap;
  /** Loss sum, correct count and head group gradients (telemetry.ts microBatchSums). */
  sums?: tf.Tensor1D;
  fullWrong?: tf.NamedTensorMap;
  fullCorrect?: tf.NamedTensorMap;
}

/**
 * One optimizer step: each micro-batch's gradient (split by its own predictions), their mean
 * (plain accumulation), global-norm clipping, the update; plus the telemetry sums, all taken
 * at the parameters before the update.
 */
export function optimizerStep(plan: StepPlan): StepResult {
  const { model, method, spec } = plan;
  let alpha = 1;
  let examples = 0;
  const readout = tf.tidy(() => {
    const totals: MicroBatchTotals = {};
    plan.microBatches.forEach((indices, offset) => {
      const microBatch = plan.firstMicroBatch + offset;
      const parts = tf.tidy(() => {
        const batch = makeBatch(plan.train.inputs, plan.train.labels, indices);
        const context = {
          model,
          batch,
          step: plan.step,
          totalSteps: plan.totalSteps,
          dropoutSeed: deriveSeed(spec.seed, 'dropout', microBatch),
          noiseSeed: deriveSeed(spec.seed, 'noise', microBatch),
        };
        const result = method.gradient(context);
        alpha = result.alpha;
        const full = plan.withFullConflict ? fullGroupGradients(context) : undefined;
        return {
          grads: result.grads,
          sums: microBatchSums(result.forward, batch.labels),
          ...(full ? { fullWrong: full.wrong, fullCorrect: full.correct } : {}),
        };
      });
      examples += indices.length;
      totals.grads = accumulate(totals.grads, parts.grads);
      totals.sums = accumulate(totals.sums, parts.sums);
      if (parts.fullWrong && parts.fullCorrect) {
        totals.fullWrong = accumulate(totals.fullWrong, parts.fullWrong);
        totals.fullCorrect = accumulate(totals.fullCorrect, parts.fullCorrect);
      }
    });
    const { grads, sums, fullWrong, fullCorrect } = totals;
    if (!grads || !sums) throw new Error('optimizer step without micro-batches');
    // Clipped inside the optimizer; the norm before clipping is read without an extra pass where it can be.
    const norm = plan.optimizer.applyGradientsReadingNorm(meanOf(grads, plan.microBatches.length), plan.learningRate);
    const readout = stepReadout(sums, norm);
    return fullWrong && fullCorrect ? (tf.concat([readout, conflictSums(fullWrong, fullCorrect)]) as tf.Tensor1D) : readout;
  });
  return { readout, alpha, examples };
}
