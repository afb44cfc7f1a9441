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
  const product = tf.customGrad((aIn, bIn, save) => {
    const left = aIn as tf.Tensor2D;
    const right = bIn as tf.Tensor2D;
    (save as tf.GradSaveFunc)([left, right]);
    return {
      value: tf.matMul(left, right),
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
  const product = tf.customGrad((aIn, bIn, save) => {
    const left = aIn as tf.Tensor3D;
    const right = bIn as tf.Tensor3D;
    (save as tf.GradSaveFunc)([left, right]);
    return {
      value: tf.matMul(left, right),
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

/** x [n, in] -> x W + b, with W [in, out] and b [out]. */
export function denseLayer(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  return tf.add(denseMatMul(x, kernel), bias);
}

/**
 * Rows of `table` [vocab, dim] at integer `ids` (any shape) -> [...ids.shape, dim].
 * Only the table is differentiable; ids are constants.
 */
export function embeddingLookup(table: tf.Tensor2D, ids: tf.Tensor): tf.Tensor {
  const [vocabSize, dim] = table.shape;
  const flatIds = tf.reshape(ids, [-1]);
  const lookup = tf.customGrad((tableIn) => {
    const rows = tf.gather(tableIn as tf.Tensor2D, flatIds);
    return {
      value: rows,
      // d table = sum over occurrences of each id of the incoming rows: scatterND adds duplicates.
      gradFunc: (dy: tf.Tensor) =>
        tf.scatterND(tf.reshape(flatIds, [-1, 1]), tf.reshape(dy, [-1, dim]), [vocabSize, dim]),
    };
  });
  return tf.reshape(lookup(table), [...ids.shape, dim]);
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** GELU, tanh approximation (as in BERT); x^3 as two multiplies because tf.pow is slow. */
export function gelu<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => {
    const cube = tf.mul(tf.mul(x, x), x);
    const inner = tf.mul(tf.add(x, tf.mul(cube, 0.044715)), SQRT_2_OVER_PI);
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1)) as T;
  });
}

/** Layer normalisation over the last axis of x [n, dim], with learned gamma and beta [dim]. */
export function layerNorm(
  x: tf.Tensor2D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon = 1e-5,
): tf.Tensor2D {
  return tf.tidy(() => {
    const mean = tf.mean(x, -1, true);
    const centred = tf.sub(x, mean);
    const variance = tf.mean(tf.mul(centred, centred), -1, true);
    const normalised = tf.mul(centred, tf.rsqrt(tf.add(variance, epsilon)));
    return tf.add(tf.mul(normalised, gamma), beta);
  });
}
