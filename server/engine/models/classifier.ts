import type * as tf from '@tensorflow/tfjs';
import type { ExampleInputs, ModelFamily } from '../types.js';

/** One (micro-)batch as tensors. */
export interface Batch {
  /** [n, dim] float32 features, or [n, seqLen] int32 token ids. */
  readonly inputs: tf.Tensor2D;
  /** [n, seqLen] int32 segment ids for sentence pairs. */
  readonly segmentIds?: tf.Tensor2D;
  /** [n] int32 class ids. */
  readonly labels: tf.Tensor1D;
  readonly size: number;
}

export interface ForwardOptions {
  readonly training: boolean;
  /** Seeds this call's dropout masks, so a run is reproducible from its seed. */
  readonly dropoutSeed: number;
}

/**
 * A classifier split into body and head: logits = head(features(x)).
 * The split is what the methods need: the head-conflict cosine has a closed form in the
 * pooled features, LNSR perturbs them, and pretrained bodies get a fresh head.
 */
export interface ClassifierModel {
  readonly family: ModelFamily;
  readonly numClasses: number;
  /** Trainable variables with unique, stable names (save/load and checkpoints key on them). */
  readonly trainable: readonly tf.Variable[];
  /** Head kernel [featureDim, numClasses] and bias [numClasses]; both are in `trainable`. */
  readonly headKernel: tf.Variable;
  readonly headBias: tf.Variable;
  /** Pooled features h, [n, featureDim]: the head's input. */
  features(batch: Batch, options: ForwardOptions): tf.Tensor2D;
  /** Logits [n, numClasses] from pooled features. */
  head(pooled: tf.Tensor2D): tf.Tensor2D;
  dispose(): void;
}

/** What a model needs to know about its inputs (the examples themselves are not needed). */
export type InputMeta =
  | { readonly kind: 'features'; readonly dim: number }
  | { readonly kind: 'tokens'; readonly seqLen: number; readonly vocabSize: number; readonly hasSegments: boolean };

export function describeInputs(inputs: ExampleInputs): InputMeta {
  return inputs.kind === 'features'
    ? { kind: 'features', dim: inputs.dim }
    : { kind: 'tokens', seqLen: inputs.seqLen, vocabSize: inputs.vocabSize, hasSegments: inputs.segmentIds !== undefined };
}
