// Differentiable building blocks with hand-written gradients, chosen for speed and for
// kernel coverage on the wasm backend (see design/TFJS-NOTES.md):
// - autodiff of tf.matMul emits transposed (NT / TN) matMuls, 4-35x slower than NN on wasm;
//   here the operand is transposed explicitly and the product is always NN.
// - the stock tf.gather gradient needs UnsortedSegmentSum, which wasm lacks (and which takes
//   minutes on cpu); tf.scatterND sums duplicate indices and exists on every backend.
import * as tf from '@tensorflow/tfjs';

const transposeLastTwo = (x: tf.Tensor3D): tf.Tensor3D => tf.transpose(x, [0, 2, 1]);

/** a [m, k] x b [k, n] -> [m, n]; the gradient is two NN matMuls against explicit transposes. */
export function denseMatMul(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const product = tf.customGrad((...args) => {
    const [left, right, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([left, right]);
    return {
      value: tf.matMul<tf.Tensor2D>(left, right),
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [savedA, savedB] = saved as [tf.Tensor2D, tf.Tensor2D];
        return [tf.matMul(dy, tf.transpose(savedB)), tf.matMul(tf.transpose(savedA), dy)];
      },
    };
  });
  return product(a, b) as tf.Tensor2D;
}

/** a [batch, m, k] x b [batch, k, n] -> [batch, m, n], NN in the forward and backward pass. */
export function batchedMatMul(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  const product = tf.customGrad((...args) => {
    const [left, right, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc];
    save([left, right]);
    return {
      value: tf.matMul<tf.Tensor3D>(left, right),
      gradFunc: (dy: tf.Tensor3D, saved: tf.Tensor[]) => {
        const [savedA, savedB] = saved as [tf.Tensor3D, tf.Tensor3D];
        return [
          tf.matMul(dy, transposeLastTwo(savedB)),
          tf.matMul(transposeLastTwo(savedA), dy),
        ];
      },
    };
  });
  return product(a, b) as tf.Tensor3D;
}

/** Column sums of m [n, k] -> [k], as a 1 x n matMul: tf.sum over axis 0 is ~30x slower on wasm. */
export function columnSums(m: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.reshape(tf.matMul(tf.ones([1, m.shape[0]]), m), [m.shape[1]]));
}

/**
 * x [n, in] -> x W + b, with W [in, out] and b [out]. The backward pass transposes as few
 * elements as it can (transposes cost per element and are slow on wasm), and sums the bias
 * gradient with a matMul.
 */
export function denseLayer(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  const layer = tf.customGrad((...args) => {
    const [input, weights, offset, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    save([input, weights]);
    return {
      value: tf.add<tf.Tensor2D>(tf.matMul(input, weights), offset),
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [savedInput, savedWeights] = saved as [tf.Tensor2D, tf.Tensor2D];
        const [inDim, outDim] = savedWeights.shape;
        const rows = savedInput.shape[0];
        const dInput = tf.matMul(dy, tf.transpose(savedWeights));
        // dW = x^T dy, or (dy^T x)^T: pick the one that transposes fewer elements.
        const dWeights =
          rows * inDim <= rows * outDim + inDim * outDim
            ? tf.matMul(tf.transpose(savedInput), dy)
            : tf.transpose(tf.matMul(tf.transpose(dy), savedInput));
        return [dInput, dWeights, columnSums(dy)];
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
      value: tf.gather(tableIn as tf.Tensor2D, flatIds),
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
export function layerNorm(
  x: tf.Tensor2D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon = 1e-5,
): tf.Tensor2D {
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
