// The per-step telemetry of step.ts as three kernels. In stock ops it is ~60 small kernels
// (per-example log-softmax loss, the head's two group gradients, the global norm, stacks and
// concats): a fixed ~1 ms on wasm, which made the 0.4M MLP's 2.6 ms step 1.33-1.39x slower
// (bench/README.md). On wasm the head's two group gradients are one f32 SIMD product; the
// losses, residuals, biases and the readout's sums run in double on the host side of the heap;
// the norm's pass over every gradient runs in f32x4 lanes, chunk totals added in double.
import type * as tf from '@tensorflow/tfjs';
import { FunctionBuilder } from './wasm-assembler.js';

export const GRADIENT_NORM = 'SteadytuneGradientNorm';
export const HEAD_SUMS = 'SteadytuneHeadSums';
export const STEP_READOUT = 'SteadytuneStepReadout';

/**
 * Entries of one micro-batch's head sums: [loss sum, correct count, g_W, g_C], each group
 * gradient flattened as [kernel [featureDim, numClasses] row-major, bias [numClasses]].
 */
export const headSumsLength = (featureDim: number, numClasses: number): number => 2 + 2 * (featureDim + 1) * numClasses;

/** What the head sums need per example, from logits in double: loss sum, correct count, p_i - y_i. */
export interface ExampleResiduals {
  readonly lossSum: number;
  readonly correctCount: number;
  /** p_i - onehot(y_i), [n, numClasses] row-major. */
  readonly residual: Float64Array;
}

/** Cross-entropy by log-sum-exp (never clipped probabilities) and the softmax residuals. */
export function exampleResiduals(logits: Float32Array, labels: Int32Array, correct: Float32Array, numClasses: number): ExampleResiduals {
  const k = numClasses;
  const residual = new Float64Array(labels.length * k);
  let lossSum = 0;
  let correctCount = 0;
  for (let i = 0; i < labels.length; i++) {
    const row = i * k;
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, logits[row + j]);
    let expSum = 0;
    for (let j = 0; j < k; j++) {
      residual[row + j] = Math.exp(logits[row + j] - max);
      expSum += residual[row + j];
    }
    const label = labels[i];
    lossSum -= logits[row + label] - max - Math.log(expSum);
    correctCount += correct[i];
    for (let j = 0; j < k; j++) residual[row + j] = residual[row + j] / expSum - (j === label ? 1 : 0);
  }
  return { lossSum, correctCount, residual };
}

/** Offset of group gradient `correct` (0: W, 1: C) in the head sums. */
export const groupOffset = (featureDim: number, numClasses: number, correct: number): number => 2 + correct * (featureDim + 1) * numClasses;

/**
 * The head sums in double: example i adds h_i (p_i - y_i)^T to its group's kernel and
 * p_i - y_i to its bias, divided by n like the loss (telemetry.ts headGroupGradients).
 */
export function headSumsReference(
  logits: Float32Array,
  labels: Int32Array,
  pooled: Float32Array,
  correct: Float32Array,
  featureDim: number,
  numClasses: number,
): Float64Array {
  const n = labels.length;
  const k = numClasses;
  const { lossSum, correctCount, residual } = exampleResiduals(logits, labels, correct, k);
  const sums = new Float64Array(headSumsLength(featureDim, k));
  sums[0] = lossSum;
  sums[1] = correctCount;
  for (let i = 0; i < n; i++) {
    const group = groupOffset(featureDim, k, correct[i]);
    for (let a = 0; a < featureDim; a++) {
      const h = pooled[i * featureDim + a];
      for (let j = 0; j < k; j++) sums[group + a * k + j] += (h * residual[i * k + j]) / n;
    }
    for (let j = 0; j < k; j++) sums[group + featureDim * k + j] += residual[i * k + j] / n;
  }
  return sums;
}

/** [loss sum, correct count, norm, g_W . g_C, ||g_W||^2, ||g_C||^2] from head sums and the norm. */
export function stepReadoutReference(sums: Float32Array, norm: number): Float64Array {
  const groupSize = (sums.length - 2) / 2;
  let dot = 0;
  let wrongSquared = 0;
  let correctSquared = 0;
  for (let e = 0; e < groupSize; e++) {
    const wrong = sums[2 + e];
    const correct = sums[2 + groupSize + e];
    dot += wrong * correct;
    wrongSquared += wrong * wrong;
    correctSquared += correct * correct;
  }
  return Float64Array.of(sums[0], sums[1], norm, dot, wrongSquared, correctSquared);
}

/** Floats per sumOfSquares call: its f32 lanes stay accurate, chunk totals add up in double. */
export const NORM_CHUNK = 8192;

/** sumOfSquares(src, count, dst): f32 at dst = sum of src[i]^2, four f32x4 accumulators. */
export function buildSumOfSquares(): FunctionBuilder {
  const f = new FunctionBuilder('sumOfSquares', ['i32', 'i32', 'i32']);
  const [src, count, dst] = [0, 1, 2].map((index) => f.param(index));
  const offset = f.local('i32');
  const bytes = f.local('i32');
  const lanes = [0, 1, 2, 3].map(() => f.local('v128'));
  const value = f.local('v128');
  const scalar = f.local('f32');
  const tail = f.local('f32');
  f.get(count).i32Const(4).i32Mul().set(bytes);
  for (const lane of lanes) f.f32Const(0).f32x4Splat().set(lane);
  f.f32Const(0).set(tail);
  const square = (into: number, at: number): void => {
    f.get(src).get(offset).i32Add().v128Load(at).set(value);
    f.get(into).get(value).get(value).f32x4Mul().f32x4Add().set(into);
  };
  f.forSteps(
    offset,
    () => f.i32Const(0),
    bytes,
    64,
    () => lanes.forEach((lane, v) => square(lane, 16 * v)),
  );
  f.forSteps(
    offset,
    () => f.get(offset),
    bytes,
    16,
    () => square(lanes[0], 0),
  );
  f.forSteps(
    offset,
    () => f.get(offset),
    bytes,
    4,
    () => {
      f.get(src).get(offset).i32Add().f32Load().set(scalar);
      f.get(tail).get(scalar).get(scalar).f32Mul().f32Add().set(tail);
    },
  );
  f.get(lanes[0]).get(lanes[1]).f32x4Add().get(lanes[2]).get(lanes[3]).f32x4Add().f32x4Add().set(value);
  f.get(dst);
  f.get(value).f32x4ExtractLane(0).get(value).f32x4ExtractLane(1).f32Add();
  f.get(value).f32x4ExtractLane(2).get(value).f32x4ExtractLane(3).f32Add().f32Add();
  f.get(tail).f32Add();
  f.f32Store();
  return f;
}

/** Named inputs g0, g1, ... in order (kernel inputs are a map). */
export function numberedInputs(tensors: readonly tf.Tensor[]): tf.NamedTensorMap {
  return Object.fromEntries(tensors.map((tensor, i) => [`g${i}`, tensor]));
}
