import * as tf from '@tensorflow/tfjs';
import type { Batch, ClassifierModel } from '../models/classifier.js';
import type { MethodKind, MethodState } from '../types.js';
import { perExampleCrossEntropy, weightedMean } from '../loss.js';

// The contract every training method implements, and the one-backward-pass helper they share.
//
// Life of a run, as trainer.ts drives it (hook points marked):
//   build model -> load initial weights
//   -> method.prepare?(model, seed)                      [noisytune: perturb weights once]
//   for each optimizer step:
//     for each micro-batch:  method.gradient(context)    [every method; lnsr adds a regularizer]
//     average micro-batch gradients, clip, optimizer update
//     -> method.afterStep?(model, info)                   [swa: collect a snapshot]
//   -> method.finalize?(model)                           [swa: write the average into the model]
//   checkpoints: method.exportState?() / importState?()  [swa: its snapshots]
//   final evaluation, export weights -> method.dispose?()
//
// Memory rules: gradient() is called inside the trainer's tf.tidy and returns tracked tensors;
// prepare/afterStep/finalize are called outside any tidy, so wrap their work in tf.tidy
// (variable.assign outside tidy leaks, docs/ENGINE.md §Measured facts). Tensors a method keeps across steps
// (swa snapshots) must be tf.keep'd or held in non-trainable tf.Variables, and freed in dispose().

/** What one micro-batch's gradient is computed from. */
export interface MicroBatchContext {
  readonly model: ClassifierModel;
  readonly batch: Batch;
  /** Optimizer steps completed before this one (0-based); progress for schedules is step / totalSteps. */
  readonly step: number;
  readonly totalSteps: number;
  /** Seeds the forward pass's dropout: equal seeds give bitwise-equal forward passes. */
  readonly dropoutSeed: number;
  /** Seeds any other randomness the method draws for this micro-batch (lnsr's noise). */
  readonly noiseSeed: number;
}

/** The forward pass a gradient came from (tracked tensors, freed by the caller's tidy). */
export interface ForwardRecord {
  /** Pooled features h, [n, featureDim]: the head's input. */
  readonly pooled: tf.Tensor2D;
  readonly logits: tf.Tensor2D;
  /** float32 [n]: 1 where argmax(logits) equals the label (the DSGD split's C), else 0. */
  readonly correct: tf.Tensor1D;
}

export interface MicroBatchGradient {
  /** Gradient of the method's objective for this micro-batch, keyed by tf variable name. */
  readonly grads: tf.NamedTensorMap;
  readonly forward: ForwardRecord;
  /** alpha_t applied to the correct group; 1 for methods that do not scale. */
  readonly alpha: number;
}

export interface AfterStepInfo {
  /** 1-based number of optimizer steps completed so far. */
  readonly step: number;
  readonly totalSteps: number;
  /** 0-based epoch the step belonged to. */
  readonly epoch: number;
  /** True for the last step of an epoch (a natural SWA snapshot point). */
  readonly isEpochEnd: boolean;
}

export interface TrainingMethod {
  readonly kind: MethodKind;
  /** Once, after initial weights are loaded and before the optimizer sees the model (noisytune). */
  prepare?(model: ClassifierModel, seed: number): void;
  /** Per micro-batch, inside the trainer's tidy. Most methods call weightedGradient or plainGradient. */
  gradient(context: MicroBatchContext): MicroBatchGradient;
  /** After every optimizer update (swa collects snapshots here). */
  afterStep?(model: ClassifierModel, info: AfterStepInfo): void;
  /** After the last step, before final evaluation and weight export: may overwrite the model's weights. */
  finalize?(model: ClassifierModel): void;
  /** Frees tensors the method holds across steps. */
  dispose?(): void;
  /** The state it keeps across steps, as plain data for checkpoints (methods without any omit it). */
  exportState?(): MethodState;
  /** Restores exportState's output, replacing whatever state the method holds. */
  importState?(state: MethodState): void;
}

/** What lnsr's regularizer sees, all from the same forward pass as the loss. */
export interface RegularizerInput {
  readonly model: ClassifierModel;
  readonly pooled: tf.Tensor2D;
  readonly logits: tf.Tensor2D;
  readonly context: MicroBatchContext;
}

/** A method's objective for one micro-batch: loss = sum_i w_i l_i / n + regularizer. */
export interface WeightedObjective {
  /**
   * Per-example weights from the correctness mask (1 = correct). Runs inside a zero-gradient
   * op, so any tensor ops are allowed here (greater, where, sums over the batch) and the result
   * is a constant to the gradient.
   */
  exampleWeights(correct: tf.Tensor1D): tf.Tensor1D;
  /** Per-example loss from logits; defaults to cross-entropy. */
  perExampleLoss?(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D;
  /**
   * Extra scalar added to the loss, differentiated with it (lnsr: perturb `pooled`, run
   * model.head on it, penalize the change of logits). Draw randomness from context.noiseSeed.
   */
  regularizer?(input: RegularizerInput): tf.Scalar;
}

/** argmax(logits) == labels as float 0/1. */
function correctness(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32') as tf.Tensor1D;
}

/**
 * compute(input) behind a custom op whose gradient is zero, so to the differentiated loss it
 * is a constant. argmax/equal/greater have no gradient in TF.js ("gradient function not found
 * for Equal"); inside the op they are off the tape, and the mask still comes from the one
 * forward pass the loss is differentiated through.
 */
function constantOf<T extends tf.Tensor>(input: T, compute: (input: T) => tf.Tensor1D): tf.Tensor1D {
  const op = tf.customGrad((...inputs) => {
    const x = inputs[0] as T;
    return { value: compute(x), gradFunc: () => tf.zerosLike(x) };
  });
  return op(input) as tf.Tensor1D;
}

/** Moves a tf.keep'd tensor back under the current tidy scope (clone shares the data). */
function retrack<T extends tf.Tensor>(kept: T): T {
  const tracked = kept.clone();
  kept.dispose();
  return tracked;
}

/**
 * The shared one-backward-pass gradient: forward once, split the batch by the model's own
 * predictions, weight each example's loss by a constant, backprop the weighted mean
 * (divided by batch.size, as plain training). Call inside tf.tidy.
 */
export function weightedGradient(
  context: MicroBatchContext,
  objective: WeightedObjective,
): {
  readonly grads: tf.NamedTensorMap;
  readonly forward: ForwardRecord;
} {
  const { model, batch } = context;
  const variables = [...model.trainable];
  let keptForward: ForwardRecord | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const pooled = model.features(batch, { training: true, dropoutSeed: context.dropoutSeed });
    const logits = model.head(pooled);
    const correct = constantOf(logits, (x) => correctness(x, batch.labels));
    // From the mask itself (a constant already): no second argmax over the logits.
    const weights = constantOf(correct, (mask) => objective.exampleWeights(mask));
    const perExample = objective.perExampleLoss
      ? objective.perExampleLoss(logits, batch.labels)
      : perExampleCrossEntropy(logits, batch.labels);
    let loss = weightedMean(perExample, weights, batch.size);
    if (objective.regularizer) {
      loss = tf.add(loss, objective.regularizer({ model, pooled, logits, context }));
    }
    // variableGrads disposes everything made in here except the loss: keep copies of what
    // telemetry needs (copies, because `pooled` may be the caller's own input tensor).
    keptForward = {
      pooled: tf.keep(tf.clone(pooled)),
      logits: tf.keep(tf.clone(logits)),
      correct: tf.keep(tf.clone(correct)),
    };
    return loss;
  }, variables);
  value.dispose();
  if (keptForward === undefined) throw new Error('forward pass did not run');
  const forward: ForwardRecord = {
    pooled: retrack(keptForward.pooled),
    logits: retrack(keptForward.logits),
    correct: retrack(keptForward.correct),
  };
  // A variable the loss does not reach (e.g. an unused embedding row block) gets a zero gradient.
  const complete: tf.NamedTensorMap = {};
  for (const variable of variables) {
    complete[variable.name] = grads[variable.name] ?? tf.zerosLike(variable);
  }
  return { grads: complete, forward };
}

/** Plain fine-tuning gradient (every weight 1): what fft, noisytune and swa train with. */
export function plainGradient(context: MicroBatchContext): MicroBatchGradient {
  const { grads, forward } = weightedGradient(context, { exampleWeights: (correct) => tf.onesLike(correct) });
  return { grads, forward, alpha: 1 };
}

/** Weights selecting one group: 'wrong' keeps W (1 - correct), 'correct' keeps C. */
export function groupWeights(group: 'wrong' | 'correct'): (correct: tf.Tensor1D) => tf.Tensor1D {
  return group === 'correct' ? (correct) => correct : (correct) => tf.sub(1, correct);
}
