// The engine's own TF.js kernels: SIMD wasm versions of what the stock wasm backend does slowly
// (batched and transposed matMuls, power-of-two transposes, column sums, the Adam update),
// reference loops on cpu; and the differentiable ops built on them.
export { fastKernelsActive, registerFastKernels, setFastKernelsEnabled } from './register-all.js';
export {
  adamUpdate,
  batchedTranspose,
  columnSumsOf,
  denseForwardOf,
  denseLayout,
  dsgdWeightsOf,
  gatherRowsOf,
  geluGradientOf,
  geluInnerOf,
  gradientNormOf,
  headSumsOf,
  matMulOf,
  normFromSquaresOf,
  stepReadoutOf,
  stridedMatMul,
  transpose2d,
} from './fast-ops.js';
export type { AdamCoefficients } from './adam.js';
export type { OperandLayout, StridedMatMulPlan } from './reference-kernels.js';
export { attentionContext, attentionScores, type AttentionGeometry } from './attention.js';
export { seededDropout } from './dropout-mask.js';
