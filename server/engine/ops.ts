// Differentiable building blocks with hand-written gradients, chosen for speed and for
// kernel coverage on the wasm backend (see docs/ENGINE.md):
// - autodiff of tf.matMul emits transposed (NT / TN) matMuls, 4-35x slower than NN on wasm;
//   here the operand is transposed explicitly and the product is always NN.
// - the stock tf.gather gradient needs UnsortedSegmentSum, which wasm lacks (and which takes
//   minutes on cpu); tf.scatterND sums duplicate indices and exists on every backend.
// - where the engine's kernels are registered (wasm, cpu: kernels/), transposes, column sums,
//   batched and transposed-operand products go through them (see bench/README.md for the
//   measured gains); elsewhere the stock ops below compute the same values.
import * as tf from '@tensorflow/tfjs';
import {
  batchedTranspose,
  columnSumsOf,
  denseForwardOf,
  denseLayout,
  fastKernelsActive,
  gatherRowsOf,
  geluGradientOf,
  geluInnerOf,
  matMulOf,
  stridedMatMul,
  transpose2d,
} from './kernels/index.js';

/** The SIMD matMul tiles 4 output columns at a time; other widths take the stock path. */
const fitsSimdTile = (columns: number): boolean => columns % 4 === 0;

const transposeLastTwo = (x: tf.Tensor3D): tf.Tensor3D => (fastKernelsActive() ? batchedTranspose(x) : tf.transpose(x, [0, 2, 1]));

/** x^T; the stock wasm Transpose is ~10x slower on power-of-two shapes like [2048, 128]. */
const transposeMatrix = (x: tf.Tensor2D): tf.Tensor2D => (fastKernelsActive() ? transpose2d(x) : tf.transpose(x));

/** a^T b with a [k, m], b [k, n]: read transposed in place where the kernels allow. */
function transposedTimes(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (fastKernelsActive() && fitsSimdTile(b.shape[1])) return matMulOf(a, b, true);
  return tf.matMul(transposeMatrix(a), b);
}

/** a [m, k] x b [k, n] -> [m, n]; the gradient is two NN matMuls against explicit transposes. */
export function denseMatMul(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const product = tf.customGrad((...args) => {
    const [left, right, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([left, right]);
    return {
      value: tf.matMul<tf.Tensor2D>(left, right),
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [savedA, savedB] = saved as [tf.Tensor2D, tf.Tensor2D];
        return [tf.matMul(dy, transposeMatrix(savedB)), transposedTimes(savedA, dy)];
      },
    };
  });
  return product(a, b) as tf.Tensor2D;
}

/** a [batch, m, k] x b [batch, k, n] -> [batch, m, n], NN in the forward and backward pass. */
export function batchedMatMul(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  const [batch, m, k] = a.shape;
  const n = b.shape[2];
  const fast = fastKernelsActive() && fitsSimdTile(n) && fitsSimdTile(k);
  // The kernel reads A^T in place: dB = A^T dY needs no transpose, dA = dY B^T one of B.
  const product = (left: tf.Tensor3D, right: tf.Tensor3D, rows: number, inner: number, cols: number, transposeLeft: boolean): tf.Tensor3D =>
    stridedMatMul(
      left,
      right,
      {
        m: rows,
        k: inner,
        n: cols,
        outerCount: batch,
        innerCount: 1,
        a: denseLayout(rows, inner, transposeLeft),
        b: denseLayout(inner, cols),
        c: denseLayout(rows, cols),
      },
      [batch, rows, cols],
    ) as tf.Tensor3D;
  const batched = tf.customGrad((...args) => {
    const [left, right, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc];
    save([left, right]);
    return {
      value: fast ? product(left, right, m, k, n, false) : tf.matMul<tf.Tensor3D>(left, right),
      gradFunc: (dy: tf.Tensor3D, saved: tf.Tensor[]) => {
        const [savedA, savedB] = saved as [tf.Tensor3D, tf.Tensor3D];
        if (fast) return [product(dy, transposeLastTwo(savedB), m, n, k, false), product(savedA, dy, k, m, n, true)];
        return [tf.matMul(dy, transposeLastTwo(savedB)), tf.matMul(transposeLastTwo(savedA), dy)];
      },
    };
  });
  return batched(a, b) as tf.Tensor3D;
}

/** Column sums of m [n, k] -> [k], as a 1 x n matMul: tf.sum over axis 0 is ~30x slower on wasm. */
export function columnSums(m: tf.Tensor2D): tf.Tensor1D {
  // The 1 x n matMul makes XNNPACK pack all of m as weights: ~1 ms for [2048, 128].
  if (fastKernelsActive()) return columnSumsOf(m);
  return tf.tidy(() => tf.reshape(tf.matMul(tf.ones([1, m.shape[0]]), m), [m.shape[1]]));
}

export interface DenseOptions {
  /** 'relu' fuses the activation into the product (one kernel on wasm); default 'linear'. */
  readonly activation?: 'linear' | 'relu';
  /**
   * false when x is data, not a function of any parameter (an MLP's first layer): the
   * input gradient, a full-size product, is then never computed (x gets no gradient at all).
   */
  readonly inputGradient?: boolean;
}

/**
 * x [n, in] -> act(x W + b), with W [in, out] and b [out]. The forward is one fused
 * matMul + bias (+ relu); the backward transposes as few elements as it can (transposes cost
 * per element and are slow on wasm) and sums the bias gradient without tf.sum over axis 0.
 */
export function denseLayer(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D, options: DenseOptions = {}): tf.Tensor2D {
  const activation = options.activation ?? 'linear';
  const inputGradient = options.inputGradient ?? true;
  // The engine's packed product (bias and relu in the same pass) where it can tile the output.
  const forward = (input: tf.Tensor2D, weights: tf.Tensor2D, offset: tf.Tensor1D): tf.Tensor2D =>
    fastKernelsActive() && fitsSimdTile(weights.shape[1])
      ? denseForwardOf(input, weights, offset, activation)
      : (tf.fused.matMul({ a: input, b: weights, bias: offset, activation }) as tf.Tensor2D);
  const backward = (dy: tf.Tensor2D, input: tf.Tensor2D, weights: tf.Tensor2D, output: tf.Tensor2D): tf.Tensor[] => {
    // relu'(z) from the output: z > 0 exactly where relu(z) > 0.
    const dPre: tf.Tensor2D = activation === 'relu' ? tf.mul(dy, tf.step(output)) : dy;
    const [inDim, outDim] = weights.shape;
    const rows = input.shape[0];
    let dWeights: tf.Tensor2D;
    if (fastKernelsActive()) {
      dWeights = transposedTimes(input, dPre);
    } else {
      // dW = x^T dy, or (dy^T x)^T: pick the one that transposes fewer elements.
      dWeights =
        rows * inDim <= rows * outDim + inDim * outDim
          ? tf.matMul(tf.transpose(input), dPre)
          : (tf.transpose(tf.matMul(tf.transpose(dPre), input)) as tf.Tensor2D);
    }
    const grads: tf.Tensor[] = [dWeights, columnSums(dPre)];
    if (!inputGradient) return grads;
    // dx = dy W^T: the packed product reads W^T in place (no transpose kernel).
    const dInput =
      fastKernelsActive() && fitsSimdTile(inDim) ? matMulOf(dPre, weights, false, true) : tf.matMul(dPre, transposeMatrix(weights));
    return [dInput, ...grads];
  };
  if (!inputGradient) {
    // x is closed over, not an input: the tape asks for no gradient of it.
    const layer = tf.customGrad((...args) => {
      const [weights, offset, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
      const value = forward(x, weights, offset);
      save([x, weights, value]);
      return {
        value,
        gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
          const [savedInput, savedWeights, savedOutput] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
          return backward(dy, savedInput, savedWeights, savedOutput);
        },
      };
    });
    return layer(kernel, bias) as tf.Tensor2D;
  }
  const layer = tf.customGrad((...args) => {
    const [input, weights, offset, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    const value = forward(input, weights, offset);
    save(activation === 'relu' ? [input, weights, value] : [input, weights]);
    return {
      value,
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [savedInput, savedWeights, savedOutput] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
        return backward(dy, savedInput, savedWeights, savedOutput);
      },
    };
  });
  return layer(x, kernel, bias) as tf.Tensor2D;
}

/**
 * Rows of `table` [vocab, dim] at integer `ids` (any shape) -> [...ids.shape, dim].
 * Only the table is differentiable; ids are constants.
 */
export function embeddingLookup(table: tf.Tensor2D, ids: tf.Tensor): tf.Tensor {
  const [vocabSize, dim] = table.shape;
  const flatIds = tf.reshape(ids, [-1]);
  const lookup = tf.customGrad((tableIn, save) => {
    // Tensors the gradient reads must go through save(): the forward scope disposes the rest.
    (save as tf.GradSaveFunc)([flatIds]);
    return {
      value: fastKernelsActive() ? gatherRowsOf(tableIn as tf.Tensor2D, flatIds) : tf.gather(tableIn as tf.Tensor2D, flatIds),
      // d table = sum over occurrences of each id of the incoming rows: scatterND adds duplicates.
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.scatterND(tf.reshape(saved[0], [-1, 1]), tf.reshape(dy, [-1, dim]), [vocabSize, dim]),
    };
  });
  return tf.reshape(lookup(table), [...ids.shape, dim]);
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

const GELU_CUBIC = 0.044715;

/**
 * GELU, tanh approximation (as in BERT), written as x * sigmoid(2u), which equals
 * 0.5 x (1 + tanh(u)) exactly: wasm's Sigmoid is vectorised, its Tanh is ~8x slower.
 * x^3 is multiplies because tf.pow is slow; the hand-written gradient needs ~half the ops
 * autodiff would emit on the largest activation of the model.
 */
export function gelu<T extends tf.Tensor>(x: T): T {
  if (fastKernelsActive()) {
    // The same arithmetic as below in two element-wise kernels (kernels/gelu-kernels.ts).
    const fused = tf.customGrad((...args) => {
      const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
      const gate = tf.sigmoid(geluInnerOf(input));
      save([input, gate]);
      return {
        value: tf.mul(input, gate),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => geluGradientOf(dy, saved[0], saved[1]),
      };
    });
    return fused(x) as T;
  }
  const activation = tf.customGrad((...args) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const square = tf.mul(input, input);
    // 2u = 2 sqrt(2/pi) (x + a x^3) = x (2 sqrt(2/pi)) (1 + a x^2)
    const twiceInner = tf.mul(tf.mul(input, tf.add(tf.mul(square, GELU_CUBIC), 1)), 2 * SQRT_2_OVER_PI);
    const gate = tf.sigmoid(twiceInner);
    save([input, square, gate]);
    return {
      value: tf.mul(input, gate),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedInput, savedSquare, savedGate] = saved;
        // d/dx [x s(2u)] = s + x s (1 - s) 2u', with 2u' = 2 sqrt(2/pi) (1 + 3a x^2)
        const twiceInnerSlope = tf.mul(tf.add(tf.mul(savedSquare, 3 * GELU_CUBIC), 1), 2 * SQRT_2_OVER_PI);
        const gateSlope = tf.mul(tf.mul(savedGate, tf.sub(1, savedGate)), twiceInnerSlope);
        return tf.mul(dy, tf.add(savedGate, tf.mul(savedInput, gateSlope)));
      },
    };
  });
  return activation(x) as T;
}

/**
 * Layer normalisation over the last axis of x [n, dim], with learned gamma and beta [dim].
 * Hand-written backward: autodiff reduces gamma/beta gradients with tf.sum over axis 0 (slow
 * on wasm) and emits about twice the ops.
 */
export function layerNorm(x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon = 1e-5): tf.Tensor2D {
  const normalise = tf.customGrad((...args) => {
    const [input, scale, offset, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    const centred = tf.sub(input, tf.mean(input, -1, true));
    const inverseStd = tf.rsqrt(tf.add(tf.mean(tf.mul(centred, centred), -1, true), epsilon));
    const normalised = tf.mul(centred, inverseStd);
    save([normalised, inverseStd, scale]);
    return {
      value: tf.add<tf.Tensor2D>(tf.mul(normalised, scale), offset),
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [savedNormalised, savedInverseStd, savedScale] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
        const dNormalised = tf.mul(dy, savedScale);
        // dx = (g - mean(g) - x_hat * mean(g * x_hat)) / std, with g = dy * gamma.
        const dInput = tf.mul(
          tf.sub(
            tf.sub(dNormalised, tf.mean(dNormalised, -1, true)),
            tf.mul(savedNormalised, tf.mean(tf.mul(dNormalised, savedNormalised), -1, true)),
          ),
          savedInverseStd,
        );
        return [dInput, columnSums(tf.mul(dy, savedNormalised)), columnSums(dy)];
      },
    };
  });
  return normalise(x, gamma, beta) as tf.Tensor2D;
}
