// Tensor-level entry points to the engine's kernels (register-all.ts). No gradients here: ops.ts
// wraps them in tf.customGrad. Call only when fastKernelsActive().
import * as tf from '@tensorflow/tfjs';
import { registerFastKernels } from './register-all.js';
import { BATCHED_TRANSPOSE } from './configs/batched-transpose.js';
import { COLUMN_SUMS } from './configs/column-sums.js';
import { GATHER_ROWS } from './configs/gather-rows.js';
import { encodePlan, STRIDED_MATMUL } from './configs/strided-matmul.js';
import type { OperandLayout, StridedMatMulPlan } from './reference-kernels.js';
import { ADAM_UPDATE, coefficientList, type AdamCoefficients } from './adam.js';
import { GELU_GRADIENT, GELU_INNER } from './gelu-kernels.js';
import { DENSE, type DenseActivation } from './dense-products.js';
import { DSGD_WEIGHTS } from './example-weights.js';
import { GRADIENT_NORM, HEAD_SUMS, numberedInputs, STEP_READOUT } from './telemetry-kernels.js';

/** Runs one of the engine's kernels (registered on first use). */
function runKernel(name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap = {}): tf.Tensor {
  registerFastKernels();
  return tf.engine().runKernel(name, inputs, attrs) as tf.Tensor;
}

/**
 * A logical [rows, cols] operand of a batch of contiguous matrices: stored row-major, or with
 * `transposed` stored as its transpose [cols, rows] (element (r, c) at c * rows + r).
 */
export function denseLayout(rows: number, cols: number, transposed = false): OperandLayout {
  return transposed
    ? { offset: 0, outer: rows * cols, inner: 0, row: 1, column: rows }
    : { offset: 0, outer: rows * cols, inner: 0, row: cols, column: 1 };
}

/** C = A B per batch entry, operands read through `plan`'s layouts; returns C shaped `outShape`. */
export function stridedMatMul(a: tf.Tensor, b: tf.Tensor, plan: StridedMatMulPlan, outShape: number[]): tf.Tensor {
  return runKernel(STRIDED_MATMUL, { a, b }, { plan: encodePlan(plan), outShape });
}

/** x [batch, rows, cols] -> [batch, cols, rows]. */
export function batchedTranspose(x: tf.Tensor3D): tf.Tensor3D {
  return runKernel(BATCHED_TRANSPOSE, { x }) as tf.Tensor3D;
}

/** x [rows, cols] -> x^T [cols, rows]. */
export function transpose2d(x: tf.Tensor2D): tf.Tensor2D {
  const [rows, cols] = x.shape;
  return tf.tidy(() => tf.reshape(batchedTranspose(tf.reshape(x, [1, rows, cols])), [cols, rows]));
}

/** x [rows, cols] -> [cols], the sum over rows. */
export function columnSumsOf(x: tf.Tensor2D): tf.Tensor1D {
  return runKernel(COLUMN_SUMS, { x }) as tf.Tensor1D;
}

/**
 * a [m, k] (or its transpose [k, m] when `transposeA`) times b [k, n] (or its transpose [n, k]
 * when `transposeB`) -> [m, n]: one kernel call, no transpose materialised.
 */
export function matMulOf(a: tf.Tensor2D, b: tf.Tensor2D, transposeA: boolean, transposeB = false): tf.Tensor2D {
  const [m, k] = transposeA ? [a.shape[1], a.shape[0]] : a.shape;
  const n = transposeB ? b.shape[0] : b.shape[1];
  const plan: StridedMatMulPlan = {
    m,
    k,
    n,
    outerCount: 1,
    innerCount: 1,
    a: denseLayout(m, k, transposeA),
    b: denseLayout(k, n, transposeB),
    c: denseLayout(m, n),
  };
  return stridedMatMul(a, b, plan, [m, n]) as tf.Tensor2D;
}

/** [param', m', v', sum of grad^2] of one Adam/AdamW step for one variable (adam.ts). */
export function adamUpdate(param: tf.Tensor, grad: tf.Tensor, m: tf.Tensor, v: tf.Tensor, coefficients: AdamCoefficients): tf.Tensor[] {
  registerFastKernels();
  return tf.engine().runKernel(ADAM_UPDATE, { param, grad, m, v }, { coefficients: coefficientList(coefficients) }) as tf.Tensor[];
}

/** GELU's sigmoid argument 2u = x (x^2 a + 1) 2 sqrt(2/pi), element-wise (gelu-kernels.ts). */
export function geluInnerOf(x: tf.Tensor): tf.Tensor {
  return runKernel(GELU_INNER, { x });
}

/** GELU's input gradient from dy, x and the saved gate sigmoid(2u). */
export function geluGradientOf(dy: tf.Tensor, x: tf.Tensor, gate: tf.Tensor): tf.Tensor {
  return runKernel(GELU_GRADIENT, { dy, x, gate });
}

/** Rows `ids` (int32, any shape, flattened) of table [rows, width] -> [ids.size, width]. */
export function gatherRowsOf(table: tf.Tensor2D, ids: tf.Tensor): tf.Tensor2D {
  return runKernel(GATHER_ROWS, { table, ids }) as tf.Tensor2D;
}

/** act(x W + b): x [m, k], W [k, n], b [n] -> [m, n] in one kernel (dense-products.ts). */
export function denseForwardOf(x: tf.Tensor2D, w: tf.Tensor2D, bias: tf.Tensor1D, activation: DenseActivation): tf.Tensor2D {
  return runKernel(DENSE, { x, w, bias }, { activation }) as tf.Tensor2D;
}

/** sqrt(sum of squares) over all `gradients`, one kernel (telemetry-kernels.ts). */
export function gradientNormOf(gradients: readonly tf.Tensor[]): tf.Scalar {
  return runKernel(GRADIENT_NORM, numberedInputs(gradients)) as tf.Scalar;
}

/** sqrt of the sum of scalars that are already sums of squares (the fused Adam's by-product). */
export function normFromSquaresOf(squares: readonly tf.Scalar[]): tf.Scalar {
  return runKernel(GRADIENT_NORM, numberedInputs(squares), { squared: true }) as tf.Scalar;
}

/** One micro-batch's [loss sum, correct count, g_W, g_C] of the head (telemetry-kernels.ts). */
export function headSumsOf(logits: tf.Tensor2D, labels: tf.Tensor1D, pooled: tf.Tensor2D, correct: tf.Tensor1D): tf.Tensor1D {
  return runKernel(HEAD_SUMS, { logits, labels, pooled, correct }) as tf.Tensor1D;
}

/** [loss sum, correct count, norm, head dot, |g_W|^2, |g_C|^2] from accumulated head sums. */
export function stepReadoutOf(sums: tf.Tensor1D, norm: tf.Scalar): tf.Tensor1D {
  return runKernel(STEP_READOUT, { sums, norm }) as tf.Tensor1D;
}

/** DSGD's loss weights from the correctness mask: 1 wrong, alpha correct (1 if none is wrong). */
export function dsgdWeightsOf(correct: tf.Tensor1D, alpha: number): tf.Tensor1D {
  return runKernel(DSGD_WEIGHTS, { correct }, { alpha }) as tf.Tensor1D;
}
