// The two products of multi-head attention, differentiable, on activations kept as
// [batch * seqLen, dModel] with head h in columns [h*headDim, (h+1)*headDim). With the engine's
// kernels every product (and its gradient) reads per-head views in place through strides:
// no head split or merge transposes, and no batched stock matMul (~3 GFLOP/s on wasm). The
// only copies left are K^T (forward) and V^T (backward). Without the kernels (native
// TensorFlow) the same values come from stock transposes and batched matMuls.
import * as tf from '@tensorflow/tfjs';
import { fastKernelsActive } from './register-all.js';
import { batchedTranspose, stridedMatMul } from './fast-ops.js';
import type { OperandLayout, StridedMatMulPlan } from './reference-kernels.js';

export interface AttentionGeometry {
  readonly batch: number;
  readonly seqLen: number;
  readonly dModel: number;
  readonly heads: number;
}

/** Head h of example b in a [B*L, D] activation: an [L, headDim] view. */
function headView(g: AttentionGeometry, transposed = false): OperandLayout {
  const headDim = g.dModel / g.heads;
  const outer = g.seqLen * g.dModel;
  return transposed
    ? { offset: 0, outer, inner: headDim, row: 1, column: g.dModel }
    : { offset: 0, outer, inner: headDim, row: g.dModel, column: 1 };
}

/** Score matrix (b, h) of a [B*H, L, L] tensor: an [L, L] view. */
function scoreView(g: AttentionGeometry, transposed = false): OperandLayout {
  const square = g.seqLen * g.seqLen;
  return transposed
    ? { offset: 0, outer: g.heads * square, inner: square, row: 1, column: g.seqLen }
    : { offset: 0, outer: g.heads * square, inner: square, row: g.seqLen, column: 1 };
}

/** Head h of example b in a [B, D, L] tensor (the per-example transpose): a [headDim, L] view. */
function transposedHeadView(g: AttentionGeometry): OperandLayout {
  const headDim = g.dModel / g.heads;
  return { offset: 0, outer: g.dModel * g.seqLen, inner: headDim * g.seqLen, row: g.seqLen, column: 1 };
}

function plan(
  g: AttentionGeometry,
  m: number,
  k: number,
  n: number,
  a: OperandLayout,
  b: OperandLayout,
  c: OperandLayout,
): StridedMatMulPlan {
  return { m, k, n, outerCount: g.batch, innerCount: g.heads, a, b, c };
}

/** [B*L, D] -> [B, L, D] -> transposed per example [B, D, L]. */
const perExampleTranspose = (x: tf.Tensor2D, g: AttentionGeometry): tf.Tensor3D =>
  batchedTranspose(tf.reshape(x, [g.batch, g.seqLen, g.dModel]));

/** [B*L, D] -> [B*H, L, headDim] (permutation [0, 2, 1, 3]) or [B*H, headDim, L] ([0, 2, 3, 1]). */
function splitHeads(x: tf.Tensor2D, g: AttentionGeometry, keysLast: boolean): tf.Tensor3D {
  const headDim = g.dModel / g.heads;
  const split = tf.transpose(tf.reshape(x, [g.batch, g.seqLen, g.heads, headDim]), keysLast ? [0, 2, 3, 1] : [0, 2, 1, 3]);
  return tf.reshape(split, keysLast ? [g.batch * g.heads, headDim, g.seqLen] : [g.batch * g.heads, g.seqLen, headDim]);
}

/** Stock path: batched matMuls whose gradients transpose explicitly (no NT/TN products). */
function stockBatchedMatMul(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  const product = tf.customGrad((...args) => {
    const [left, right, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc];
    save([left, right]);
    return {
      value: tf.matMul<tf.Tensor3D>(left, right),
      gradFunc: (dy: tf.Tensor3D, saved: tf.Tensor[]) => {
        const [savedA, savedB] = saved as [tf.Tensor3D, tf.Tensor3D];
        return [tf.matMul(dy, tf.transpose(savedB, [0, 2, 1])), tf.matMul(tf.transpose(savedA, [0, 2, 1]), dy)];
      },
    };
  });
  return product(a, b) as tf.Tensor3D;
}

/** Scores q_bh k_bh^T for every example and head: q, k [B*L, D] -> [B*H, L, L]. */
export function attentionScores(q: tf.Tensor2D, k: tf.Tensor2D, g: AttentionGeometry): tf.Tensor3D {
  const { batch, seqLen, dModel, heads } = g;
  const headDim = dModel / heads;
  const scoresShape = [batch * heads, seqLen, seqLen];
  if (!fastKernelsActive()) return stockBatchedMatMul(splitHeads(q, g, false), splitHeads(k, g, true));
  const scores = tf.customGrad((...args) => {
    const [queries, keys, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([queries, keys]);
    const keysT = perExampleTranspose(keys, g);
    return {
      value: stridedMatMul(queries, keysT, plan(g, seqLen, headDim, seqLen, headView(g), transposedHeadView(g), scoreView(g)), scoresShape),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedQ, savedK] = saved;
        // dQ_bh = dS_bh K_bh and dK_bh = dS_bh^T Q_bh, written straight into [B*L, D].
        return [
          stridedMatMul(dy, savedK, plan(g, seqLen, seqLen, headDim, scoreView(g), headView(g), headView(g)), [batch * seqLen, dModel]),
          stridedMatMul(dy, savedQ, plan(g, seqLen, seqLen, headDim, scoreView(g, true), headView(g), headView(g)), [
            batch * seqLen,
            dModel,
          ]),
        ];
      },
    };
  });
  return scores(q, k) as tf.Tensor3D;
}

/** Context p_bh v_bh, heads merged: probabilities [B*H, L, L], v [B*L, D] -> [B*L, D]. */
export function attentionContext(probabilities: tf.Tensor3D, v: tf.Tensor2D, g: AttentionGeometry): tf.Tensor2D {
  const { batch, seqLen, dModel, heads } = g;
  const headDim = dModel / heads;
  if (!fastKernelsActive()) {
    const context = stockBatchedMatMul(probabilities, splitHeads(v, g, false));
    return tf.reshape(tf.transpose(tf.reshape(context, [batch, heads, seqLen, headDim]), [0, 2, 1, 3]), [batch * seqLen, dModel]);
  }
  const context = tf.customGrad((...args) => {
    const [weights, values, save] = args as [tf.Tensor3D, tf.Tensor2D, tf.GradSaveFunc];
    save([weights, values]);
    return {
      value: stridedMatMul(weights, values, plan(g, seqLen, seqLen, headDim, scoreView(g), headView(g), headView(g)), [
        batch * seqLen,
        dModel,
      ]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedP, savedV] = saved as [tf.Tensor3D, tf.Tensor2D];
        // dP_bh = dO_bh V_bh^T (V^T materialised once), dV_bh = P_bh^T dO_bh.
        const valuesT = perExampleTranspose(savedV, g);
        return [
          stridedMatMul(dy, valuesT, plan(g, seqLen, headDim, seqLen, headView(g), transposedHeadView(g), scoreView(g)), [
            batch * heads,
            seqLen,
            seqLen,
          ]),
          stridedMatMul(savedP, dy, plan(g, seqLen, seqLen, headDim, scoreView(g, true), headView(g), headView(g)), [
            batch * seqLen,
            dModel,
          ]),
        ];
      },
    };
  });
  return context(probabilities, v) as tf.Tensor2D;
}
