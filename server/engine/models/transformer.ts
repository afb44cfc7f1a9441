import * as tf from '@tensorflow/tfjs';
import type { TokenInputs, TransformerModelSpec } from '../types.js';
import type { Batch, ClassifierModel, ForwardOptions } from './classifier.js';
import { denseMatMul, embeddingLookup } from '../ops.js';
import { ParameterFactory } from './parameters.js';
import { HEAD_BIAS_NAME, HEAD_KERNEL_NAME } from './mlp.js';
import {
  applyEncoderLayer,
  applyNorm,
  createEncoderLayer,
  createNorm,
  maybeDropout,
  type EncoderLayerParams,
  type NormParams,
} from './encoder-layer.js';

/** What the transformer needs to know about its token inputs. */
export interface TransformerInputShape {
  readonly vocabSize: number;
  readonly seqLen: number;
  /** Sentence pairs: adds a learned segment embedding (segment ids 0 and 1). */
  readonly hasSegments: boolean;
}

export interface TransformerOptions {
  /** Default 'pre': trains from scratch without warmup tricks. 'post' matches BERT checkpoints. */
  readonly norm?: 'pre' | 'post';
}

export interface TransformerClassifier extends ClassifierModel {
  /** The last encoder layer's output [B, L, dModel] (after the final norm for pre-LN), before pooling. */
  sequenceOutput(batch: Batch, options: ForwardOptions): tf.Tensor3D;
}

export function transformerInputShape(inputs: TokenInputs): TransformerInputShape {
  return { vocabSize: inputs.vocabSize, seqLen: inputs.seqLen, hasSegments: inputs.segmentIds !== undefined };
}

/** Token id 0 is padding (types.ts): it is masked out of attention and of mean pooling. */
const PADDING_ID = 0;
/** Added to attention scores of padded keys; exp() of it underflows to exactly 0. */
const MASKED_SCORE = -1e9;

function validate(spec: TransformerModelSpec, inputs: TransformerInputShape, numClasses: number): void {
  const problems: string[] = [];
  if (!(spec.dModel > 0 && spec.heads > 0 && spec.dModel % spec.heads === 0)) {
    problems.push(`dModel (${spec.dModel}) must be a positive multiple of heads (${spec.heads})`);
  }
  if (!(spec.layers >= 1 && spec.ffDim >= 1)) problems.push('layers and ffDim must be >= 1');
  if (!(spec.dropout >= 0 && spec.dropout < 1)) problems.push(`dropout ${spec.dropout} is outside [0, 1)`);
  if (!(inputs.vocabSize >= 2 && inputs.seqLen >= 1)) problems.push('vocabSize must be >= 2 and seqLen >= 1');
  if (!(numClasses >= 2)) problems.push(`numClasses ${numClasses} must be >= 2`);
  if (problems.length > 0) throw new Error(`invalid transformer spec: ${problems.join('; ')}`);
}

/**
 * A token classifier: token + position (+ segment) embeddings, `layers` encoder layers,
 * [CLS] (position 0) or masked-mean pooling, dense head. Variables are named
 * `embeddings/...`, `encoder/layer{i}/...`, `head/kernel`, `head/bias`.
 */
export function createTransformerClassifier(
  spec: TransformerModelSpec,
  inputs: TransformerInputShape,
  numClasses: number,
  seed: number,
  options: TransformerOptions = {},
): TransformerClassifier {
  validate(spec, inputs, numClasses);
  const norm = options.norm ?? 'pre';
  const { dModel, heads } = spec;
  const params = new ParameterFactory(seed);
  const tokenTable = params.normal('embeddings/token', [inputs.vocabSize, dModel]);
  const positionTable = params.normal('embeddings/position', [inputs.seqLen, dModel]);
  const segmentTable = inputs.hasSegments ? params.normal('embeddings/segment', [2, dModel]) : undefined;
  const embeddingNorm: NormParams = createNorm(params, 'embeddings/layer_norm', dModel);
  const layers: EncoderLayerParams[] = [];
  for (let i = 0; i < spec.layers; i++) {
    layers.push(createEncoderLayer(params, `encoder/layer${i}`, dModel, spec.ffDim));
  }
  // Pre-LN leaves the residual stream unnormalised: a final norm before pooling, as in GPT-2/ViT.
  const finalNorm = norm === 'pre' ? createNorm(params, 'encoder/final_norm', dModel) : undefined;
  const headKernel = params.glorot(HEAD_KERNEL_NAME, [dModel, numClasses]);
  const headBias = params.zeros(HEAD_BIAS_NAME, [numClasses]);

  function embed(ids: tf.Tensor2D, segmentIds: tf.Tensor2D | undefined, batch: number, seqLen: number): tf.Tensor2D {
    const tokens = tf.reshape(embeddingLookup(tokenTable as tf.Tensor2D, ids), [batch, seqLen, dModel]);
    const positionRows = seqLen === inputs.seqLen ? positionTable : tf.slice(positionTable, [0, 0], [seqLen, dModel]);
    let summed: tf.Tensor = tf.add(tokens, positionRows);
    if (segmentTable !== undefined) {
      if (segmentIds === undefined) throw new Error('this model was built for sentence pairs: segmentIds missing');
      summed = tf.add(summed, embeddingLookup(segmentTable as tf.Tensor2D, segmentIds));
    }
    return tf.reshape(summed, [batch * seqLen, dModel]);
  }

  /** Token ids [B, L] -> 0/1 float mask of real (non-padding) tokens. */
  const realTokenMask = (ids: tf.Tensor2D): tf.Tensor2D => tf.cast(tf.notEqual<tf.Tensor2D>(ids, PADDING_ID), 'float32');

  function sequenceOutput(batch: Batch, forward: ForwardOptions): tf.Tensor3D {
    return tf.tidy(() => {
      const ids = batch.inputs;
      const [batchSize, seqLen] = ids.shape;
      if (ids.dtype !== 'int32') throw new Error('the transformer takes int32 token ids, not float features');
      if (seqLen > inputs.seqLen) throw new Error(`sequence length ${seqLen} exceeds the model's ${inputs.seqLen}`);
      const geometry = { batch: batchSize, seqLen, dModel, heads };
      const keyBias = tf.reshape(tf.mul(tf.sub(1, realTokenMask(ids)), MASKED_SCORE), [batchSize, 1, 1, seqLen]);
      const training = forward.training && spec.dropout > 0;
      const dropoutSeed = `${forward.dropoutSeed}`;
      let x = applyNorm(embed(ids, batch.segmentIds, batchSize, seqLen), embeddingNorm);
      x = maybeDropout(x, spec.dropout, training, `${dropoutSeed}/embeddings`);
      layers.forEach((layer, i) => {
        x = applyEncoderLayer(x, keyBias as tf.Tensor4D, layer, geometry, {
          norm,
          dropout: spec.dropout,
          training,
          dropoutSeed: `${dropoutSeed}/layer${i}`,
        });
      });
      if (finalNorm !== undefined) x = applyNorm(x, finalNorm);
      return tf.reshape<tf.Rank.R3>(x, [batchSize, seqLen, dModel]);
    });
  }

  function features(batch: Batch, forward: ForwardOptions): tf.Tensor2D {
    return tf.tidy(() => {
      const sequence = sequenceOutput(batch, forward);
      const [batchSize, seqLen] = sequence.shape;
      if (spec.pooling === 'cls') {
        return tf.reshape<tf.Rank.R2>(tf.slice(sequence, [0, 0, 0], [batchSize, 1, dModel]), [batchSize, dModel]);
      }
      // Masked mean: padded positions contribute nothing; max(count, 1) guards all-padding rows.
      const realToken = realTokenMask(batch.inputs);
      const summed = tf.sum(tf.mul(sequence, tf.reshape(realToken, [batchSize, seqLen, 1])), 1);
      return tf.div<tf.Tensor2D>(summed, tf.maximum(tf.sum(realToken, 1, true), 1));
    });
  }

  function head(pooled: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.add(denseMatMul(pooled, headKernel as tf.Tensor2D), headBias));
  }

  const trainable = params.variables;
  return {
    family: 'transformer',
    numClasses,
    trainable,
    headKernel,
    headBias,
    features,
    sequenceOutput,
    head,
    dispose: () => trainable.forEach((variable) => variable.dispose()),
  };
}
