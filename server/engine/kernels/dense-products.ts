// Dense products through packed B panels (gemm.ts): the K-sliced driver that the strided
// matMul kernel uses for single products, and SteadytuneDense, a dense layer's forward
// act(x W + b) in one kernel (XNNPACK's fused matMul does the same at ~0.75x the speed on wasm,
// bench/README.md; its config: configs/dense.ts). The cpu twin computes the same sums in plain JS.
import type { WasmBackendView } from './backend-views.js';
import { INIT_FROM_BIAS, INIT_FROM_C, INIT_ZERO } from './gemm.js';
import type { SimdKernels } from './simd-kernels.js';

export const DENSE = 'SteadytuneDense';

/** Rows of B per product call: 256 x 512 floats (512 KB) fit in L2 with room for A and C. */
export const K_SLICE = 256;

/** Operand addresses and strides in bytes for packedProduct. */
export interface PackedOperands {
  readonly a: number;
  readonly aRow: number;
  readonly aCol: number;
  readonly b: number;
  readonly bRow: number;
  readonly bCol: number;
  readonly c: number;
  readonly cRow: number;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  /** Address of n bias floats to start from, or 0 for none. */
  readonly bias: number;
  readonly relu: boolean;
}

/**
 * One dense product through packed B panels (gemm.ts), k in slices of K_SLICE rows so a packed
 * slice stays in L2: the first slice starts from the bias (or 0), later ones add to C, the last
 * applies the relu.
 */
export function packedProduct(view: WasmBackendView, kernels: SimdKernels, o: PackedOperands): void {
  const sliceRows = Math.min(K_SLICE, o.k);
  const scratch = view.wasm._malloc(4 * sliceRows * o.n);
  try {
    for (let p = 0; p < o.k; p += K_SLICE) {
      const slice = Math.min(K_SLICE, o.k - p);
      kernels.packPanels(o.b + p * o.bRow, o.bRow, o.bCol, scratch, slice, o.n);
      const init = p > 0 ? INIT_FROM_C : o.bias !== 0 ? INIT_FROM_BIAS : INIT_ZERO;
      const last = p + K_SLICE >= o.k;
      kernels.packedMatMul(o.a + p * o.aCol, o.aRow, o.aCol, scratch, o.c, o.cRow, o.m, slice, o.n, init, o.bias, last && o.relu ? 1 : 0);
    }
  } finally {
    view.wasm._free(scratch);
  }
}

export type DenseActivation = 'linear' | 'relu';

/** x [m, k] W [k, n] + b [n], then relu if asked: the bias first, then the products in p order. */
export function denseReference(
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array,
  out: Float32Array,
  m: number,
  k: number,
  n: number,
  relu: boolean,
): void {
  for (let i = 0; i < m; i++) {
    const row = out.subarray(i * n, (i + 1) * n);
    row.set(bias);
    for (let p = 0; p < k; p++) {
      const scale = x[i * k + p];
      const wRow = p * n;
      for (let j = 0; j < n; j++) row[j] += scale * w[wRow + j];
    }
    if (relu) for (let j = 0; j < n; j++) row[j] = Math.max(row[j], 0);
  }
}
