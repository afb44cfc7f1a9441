// DSGD's per-example loss weights as one kernel. In stock ops the weights are ~9 kernels on a
// [batch] vector (any wrong? where, 1 - (1 - alpha) c, scalars): ~60 us of per-op overhead on
// wasm, 2-3% of the 0.4M MLP's step, against the DSGD/FFT <= 1.02 target (bench/README.md).
// Same f32 operations in the same order as methods/dsgd.ts, so the weights match it bitwise.

export const DSGD_WEIGHTS = 'SteadytuneDsgdWeights';

const f32 = Math.fround;

/**
 * w_i = 1 - (1 - a) c_i with a = alpha when some example is wrong, else 1: with W empty the
 * step is ordinary gradient descent (docs/DSGD.md §The update).
 */
export function dsgdWeightsReference(correct: Float32Array, alpha: number, out: Float32Array): void {
  const anyWrong = correct.some((c) => c !== 1);
  const shrink = f32(1 - (anyWrong ? f32(alpha) : 1));
  for (let i = 0; i < correct.length; i++) out[i] = f32(1 - f32(shrink * correct[i]));
}
