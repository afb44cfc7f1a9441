import * as tf from '@tensorflow/tfjs';
import { denseLayer, gelu, layerNorm } from '../ops.js';
import { attentionContext, attentionScores, seededDropout } from '../kernels/index.js';
import type { ParameterFactory } from './parameters.js';

// One transformer encoder layer on activations kept 2-D, [batch * seqLen, dModel]: every
// projection is then a plain 2-D matMul, the only fast stock matMul layout on wasm
// (docs/ENGINE.md §Measured facts). The two attention products (scores, context) read per-head
// views of those activations in place (kernels/attention.ts).

export interface DenseParams {
  readonly kernel: tf.Variable;
  readonly bias: tf.Variable;
}

export interface NormParams {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;
}

export interface EncoderLayerParams {
  readonly query: DenseParams;
  readonly key: DenseParams;
  readonly value: DenseParams;
  readonly attentionOutput: DenseParams;
  readonly attentionNorm: NormParams;
  readonly intermediate: DenseParams;
  readonly ffnOutput: DenseParams;
  readonly ffnNorm: NormParams;
}

export interface EncoderGeometry {
  readonly batch: number;
  readonly seqLen: number;
  readonly dModel: number;
  readonly heads: number;
}

export interface EncoderLayerOptions {
  /** Pre-LN normalises each sublayer's input (stable from scratch); post-LN its output (BERT). */
  readonly norm: 'pre' | 'post';
  /** Dropout rate when training; 0 or inference disables it. */
  readonly dropout: number;
  readonly training: boolean;
  /** Distinguishes this layer's dropout draws from every other site's. */
  readonly dropoutSeed: string;
}

export function createDense(params: ParameterFactory, prefix: string, inDim: number, outDim: number): DenseParams {
  return { kernel: params.normal(`${prefix}/kernel`, [inDim, outDim]), bias: params.zeros(`${prefix}/bias`, [outDim]) };
}

export function createNorm(params: ParameterFactory, prefix: string, dim: number): NormParams {
  return { gamma: params.ones(`${prefix}/gamma`, [dim]), beta: params.zeros(`${prefix}/beta`, [dim]) };
}

export function createEncoderLayer(params: ParameterFactory, prefix: string, dModel: number, ffDim: number): EncoderLayerParams {
  return {
    query: createDense(params, `${prefix}/attn/query`, dModel, dModel),
    key: createDense(params, `${prefix}/attn/key`, dModel, dModel),
    value: createDense(params, `${prefix}/attn/value`, dModel, dModel),
    attentionOutput: createDense(params, `${prefix}/attn/output`, dModel, dModel),
    attentionNorm: createNorm(params, `${prefix}/attn_norm`, dModel),
    intermediate: createDense(params, `${prefix}/ffn/intermediate`, dModel, ffDim),
    ffnOutput: createDense(params, `${prefix}/ffn/output`, ffDim, dModel),
    ffnNorm: createNorm(params, `${prefix}/ffn_norm`, dModel),
  };
}

export function applyDense(x: tf.Tensor2D, dense: DenseParams): tf.Tensor2D {
  return denseLayer(x, dense.kernel as tf.Tensor2D, dense.bias as tf.Tensor1D);
}

export function applyNorm(x: tf.Tensor2D, norm: NormParams): tf.Tensor2D {
  return layerNorm(x, norm.gamma as tf.Tensor1D, norm.beta as tf.Tensor1D);
}

export function maybeDropout<T extends tf.Tensor>(x: T, rate: number, training: boolean, seed: string): T {
  // One string seed per site keeps the masks independent and reproducible; seededDropout is
  // tf.dropout's exact mask, drawn without its per-element overhead.
  return training && rate > 0 ? seededDropout(x, rate, seed) : x;
}

/**
 * Multi-head self-attention. x [B*L, D]; keyBias [B, 1, 1, L] is 0 for real tokens and a
 * large negative number for padding, so no query attends to a padded key.
 */
function selfAttention(
  x: tf.Tensor2D,
  keyBias: tf.Tensor4D,
  layer: EncoderLayerParams,
  geometry: EncoderGeometry,
  options: EncoderLayerOptions,
): tf.Tensor2D {
  const { batch, seqLen, dModel, heads } = geometry;
  const headDim = dModel / heads;
  // Scaling the queries (B*L*D values) is cheaper than scaling the scores (B*H*L*L).
  const queries: tf.Tensor2D = tf.mul(applyDense(x, layer.query), 1 / Math.sqrt(headDim));
  const keys = applyDense(x, layer.key);
  const values = applyDense(x, layer.value);
  const scores = tf.add(tf.reshape(attentionScores(queries, keys, geometry), [batch, heads, seqLen, seqLen]), keyBias);
  const probabilities = maybeDropout(tf.softmax(scores), options.dropout, options.training, `${options.dropoutSeed}/attn_probs`);
  const merged = attentionContext(tf.reshape<tf.Rank.R3>(probabilities, [batch * heads, seqLen, seqLen]), values, geometry);
  return applyDense(merged, layer.attentionOutput);
}

function feedForward(x: tf.Tensor2D, layer: EncoderLayerParams): tf.Tensor2D {
  return applyDense(gelu(applyDense(x, layer.intermediate)), layer.ffnOutput);
}

/** One encoder layer: x [B*L, D] -> [B*L, D]. */
export function applyEncoderLayer(
  x: tf.Tensor2D,
  keyBias: tf.Tensor4D,
  layer: EncoderLayerParams,
  geometry: EncoderGeometry,
  options: EncoderLayerOptions,
): tf.Tensor2D {
  const drop = (t: tf.Tensor2D, site: string): tf.Tensor2D =>
    maybeDropout(t, options.dropout, options.training, `${options.dropoutSeed}/${site}`);
  if (options.norm === 'pre') {
    const attended: tf.Tensor2D = tf.add(
      x,
      drop(selfAttention(applyNorm(x, layer.attentionNorm), keyBias, layer, geometry, options), 'attn_out'),
    );
    return tf.add(attended, drop(feedForward(applyNorm(attended, layer.ffnNorm), layer), 'ffn_out'));
  }
  const attended = applyNorm(
    tf.add<tf.Tensor2D>(x, drop(selfAttention(x, keyBias, layer, geometry, options), 'attn_out')),
    layer.attentionNorm,
  );
  return applyNorm(tf.add(attended, drop(feedForward(attended, layer), 'ffn_out')), layer.ffnNorm);
}
