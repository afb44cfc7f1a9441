// SteadytuneStridedMatMul: C = A B for a batch of products whose operands are read through
// strided layouts (transposed operands and per-head views cost nothing). The wasm backend's
// batched matMul is a scalar loop at ~3 GFLOP/s; this runs the register-blocked SIMD tiles.
import type * as tf from '@tensorflow/tfjs';
import { heapAddress, sizeOf, type CpuBackendView, type WasmBackendView } from '../backend-views.js';
import { K_SLICE, packedProduct } from '../dense-products.js';
import type { EngineKernelConfig } from '../kernel-config.js';
import { coversOutput, stridedMatMulReference, type OperandLayout, type StridedMatMulPlan } from '../reference-kernels.js';
import { simdKernelsFor, type SimdKernels } from '../simd-kernels.js';

export const STRIDED_MATMUL = 'SteadytuneStridedMatMul';

const LAYOUT_FIELDS = 5;

export function encodePlan(plan: StridedMatMulPlan): number[] {
  const layout = (l: OperandLayout): number[] => [l.offset, l.outer, l.inner, l.row, l.column];
  return [plan.m, plan.k, plan.n, plan.outerCount, plan.innerCount, ...layout(plan.a), ...layout(plan.b), ...layout(plan.c)];
}

function decodePlan(encoded: number[]): StridedMatMulPlan {
  const layout = (start: number): OperandLayout => {
    const [offset, outer, inner, row, column] = encoded.slice(start, start + LAYOUT_FIELDS);
    return { offset, outer, inner, row, column };
  };
  const [m, k, n, outerCount, innerCount] = encoded;
  return { m, k, n, outerCount, innerCount, a: layout(5), b: layout(10), c: layout(15) };
}

function checkedPlan(attrs: tf.NamedAttrMap | undefined, outShape: number[]): StridedMatMulPlan {
  const plan = decodePlan(attrs?.plan as number[]);
  const size = sizeOf(outShape);
  if (!coversOutput(plan, size)) throw new Error(`${STRIDED_MATMUL}: plan does not cover output [${outShape}]`);
  return plan;
}

/**
 * The SIMD tiles need n % 4 == 0 and contiguous C columns; a batch of products (attention) also
 * contiguous B columns (it reads B in place), a single product packs B and reads it any way.
 */
const simdCanRun = (plan: StridedMatMulPlan): boolean =>
  plan.n % 4 === 0 && plan.c.column === 1 && (plan.outerCount * plan.innerCount === 1 || plan.b.column === 1);

function wasmStridedMatMul(
  view: WasmBackendView,
  kernels: SimdKernels,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  plan: StridedMatMulPlan,
  outShape: number[],
): tf.TensorInfo {
  const out = view.makeOutput(outShape, 'float32');
  const [aBase, bBase, cBase] = [heapAddress(view, a), heapAddress(view, b), heapAddress(view, out)];
  if (!simdCanRun(plan)) {
    const heap = view.wasm.HEAPF32;
    const shifted = (layout: OperandLayout, base: number): OperandLayout => ({ ...layout, offset: layout.offset + base / 4 });
    stridedMatMulReference(heap, heap, heap, { ...plan, a: shifted(plan.a, aBase), b: shifted(plan.b, bBase), c: shifted(plan.c, cBase) });
    return out;
  }
  const { m, k, n, a: la, b: lb, c: lc } = plan;
  if (plan.outerCount * plan.innerCount === 1) {
    packedProduct(view, kernels, {
      a: aBase + 4 * la.offset,
      aRow: 4 * la.row,
      aCol: 4 * la.column,
      b: bBase + 4 * lb.offset,
      bRow: 4 * lb.row,
      bCol: 4 * lb.column,
      c: cBase + 4 * lc.offset,
      cRow: 4 * lc.row,
      m,
      k,
      n,
      bias: 0,
      relu: false,
    });
    return out;
  }
  // A long k (a weight gradient sums over all 2048 tokens) streams all of B once per 4-row
  // tile; slices of K_SLICE rows keep B's panel in L2 across the tiles.
  for (let o = 0; o < plan.outerCount; o++) {
    for (let h = 0; h < plan.innerCount; h++) {
      const a0 = aBase + 4 * (la.offset + o * la.outer + h * la.inner);
      const b0 = bBase + 4 * (lb.offset + o * lb.outer + h * lb.inner);
      const c0 = cBase + 4 * (lc.offset + o * lc.outer + h * lc.inner);
      for (let p = 0; p < k; p += K_SLICE) {
        const slice = Math.min(K_SLICE, k - p);
        kernels.matMul(
          a0 + 4 * p * la.column,
          4 * la.row,
          4 * la.column,
          b0 + 4 * p * lb.row,
          4 * lb.row,
          c0,
          4 * lc.row,
          m,
          slice,
          n,
          p > 0 ? 1 : 0,
        );
      }
    }
  }
  return out;
}

export const stridedMatMulConfig: EngineKernelConfig = {
  kernelName: STRIDED_MATMUL,
  kernelFuncs: {
    wasm: ({ inputs, attrs, backend }) => {
      const view = backend as WasmBackendView;
      const kernels = simdKernelsFor(view.wasm.asm.memory);
      const outShape = attrs?.outShape as number[];
      return wasmStridedMatMul(view, kernels, inputs.a as tf.TensorInfo, inputs.b as tf.TensorInfo, checkedPlan(attrs, outShape), outShape);
    },
    cpu: ({ inputs, attrs, backend }) => {
      const cpu = backend as CpuBackendView;
      const valuesOf = (info: tf.TensorInfo): Float32Array => cpu.readSync(info.dataId) as Float32Array;
      const outShape = attrs?.outShape as number[];
      const plan = checkedPlan(attrs, outShape);
      const out = new Float32Array(sizeOf(outShape));
      stridedMatMulReference(valuesOf(inputs.a as tf.TensorInfo), valuesOf(inputs.b as tf.TensorInfo), out, plan);
      return cpu.makeTensorInfo(outShape, 'float32', out);
    },
  },
};
