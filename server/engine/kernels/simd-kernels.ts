// Hand-written wasm SIMD (f32x4) kernels that work in place on the TF.js wasm heap. They cover
// what the wasm backend does slowly (docs/ENGINE.md, bench/README.md):
// - matMul (gemm.ts): its batched (rank-3) path is a scalar loop at ~3 GFLOP/s whatever the
//   layout; this one is register-blocked (4 rows x 8 columns per tile) and reads A with arbitrary
//   strides, so transposed operands and per-head views of [B*L, D] activations cost nothing.
// - packPanels + packedMatMul (gemm.ts): the dense products, ~1.35x XNNPACK at the transformer's
//   shapes with relaxed-SIMD FMA (relaxed-simd.ts; a separate multiply and add where it is absent).
// - transpose: its Transpose of power-of-two shapes ([2048, 128]) is ~10x slower than of
//   [2000, 128] (cache-set conflicts from 8 KB strides); 8-row tiles avoid them.
// - columnSums: the sum over axis 0 that bias and gain gradients need.
// - adamUpdate (adam.ts): the optimizer step of one variable in one pass.
// - sumOfSquares (telemetry-kernels.ts): the global gradient norm's pass over memory.
// All addresses and strides are in bytes; every function returns nothing.
import { assembleModule, FunctionBuilder } from './wasm-assembler.js';
import { buildGemm, buildPackedGemm, buildPackPanels } from './gemm.js';
import { relaxedSimdAvailable } from './relaxed-simd.js';
import { buildAdamUpdate } from './adam.js';
import { buildGeluGradient, buildGeluInner } from './gelu-kernels.js';
import { buildSumOfSquares } from './telemetry-kernels.js';

export interface SimdKernels {
  /**
   * C[i, j] = sum_p A[i, p] B[p, j] for i < m, j < n (n % 4 == 0), with
   * A[i, p] at a + i*aRow + p*aCol, B[p, j] at b + p*bRow + 4j, C[i, j] at c + i*cRow + 4j;
   * with `accumulate` 1, C += A B instead (for splitting a long k into cache-sized slices).
   */
  matMul(
    a: number,
    aRow: number,
    aCol: number,
    b: number,
    bRow: number,
    c: number,
    cRow: number,
    m: number,
    k: number,
    n: number,
    accumulate: number,
  ): void;
  /** gemm.ts buildPackPanels: B (any strides) -> column panels at `packed`. */
  packPanels(b: number, bRow: number, bCol: number, packed: number, k: number, n: number): void;
  /** gemm.ts buildPackedGemm: C = A B (+ bias, relu) against packed B. */
  packedMatMul(
    a: number,
    aRow: number,
    aCol: number,
    packed: number,
    c: number,
    cRow: number,
    m: number,
    k: number,
    n: number,
    init: number,
    bias: number,
    relu: number,
  ): void;
  /** dst[j, i] = src[i, j] for i < rows, j < cols; rows are `srcRow` / `dstRow` bytes apart. */
  transpose(src: number, srcRow: number, dst: number, dstRow: number, rows: number, cols: number): void;
  /** dst[j] = sum_i src[i, j] for i < rows, j < cols (cols % 4 == 0), contiguous rows. */
  columnSums(src: number, dst: number, rows: number, cols: number): void;
  /** adam.ts: one Adam/AdamW step over `count` floats, sum g^2 to `squares`; then the 9 coefficients in kernel order. */
  adamUpdate(
    param: number,
    grad: number,
    m: number,
    v: number,
    outParam: number,
    outM: number,
    outV: number,
    squares: number,
    count: number,
    ...coefficients: number[]
  ): void;
  /** gelu-kernels.ts: the sigmoid argument of GELU, and GELU's gradient, over `count` floats. */
  geluInner(x: number, out: number, count: number): void;
  geluGradient(dy: number, x: number, gate: number, out: number, count: number): void;
  /** telemetry-kernels.ts: f32 at dst = the sum of squares of `count` floats. */
  sumOfSquares(src: number, count: number, dst: number): void;
}

const I32 = 'i32' as const;

const TRANSPOSE_TILE_ROWS = 8;

function buildTranspose(): FunctionBuilder {
  const f = new FunctionBuilder('transpose', [I32, I32, I32, I32, I32, I32]);
  const [src, srcRow, dst, dstRow, rows, cols] = [0, 1, 2, 3, 4, 5].map((index) => f.param(index));
  const i = f.local(I32);
  const j = f.local(I32);
  const srcCursor = f.local(I32);
  const dstCursor = f.local(I32);
  // For `tileRows` source rows from i: walk the columns; each column j becomes `tileRows`
  // consecutive floats of destination row j.
  const rowsFrom = (tileRows: number): void => {
    f.get(i).get(srcRow).i32Mul().get(src).i32Add().set(srcCursor);
    f.get(i).i32Const(4).i32Mul().get(dst).i32Add().set(dstCursor);
    f.forSteps(
      j,
      () => f.i32Const(0),
      cols,
      1,
      () => {
        for (let r = 0; r < tileRows; r++) {
          f.get(dstCursor);
          if (r === 0) f.get(srcCursor);
          else f.get(srcCursor).get(srcRow).i32Const(r).i32Mul().i32Add();
          f.f32Load().f32Store(4 * r);
        }
        f.get(srcCursor).i32Const(4).i32Add().set(srcCursor);
        f.addTo(dstCursor, dstRow);
      },
    );
  };
  f.forSteps(
    i,
    () => f.i32Const(0),
    rows,
    TRANSPOSE_TILE_ROWS,
    () => rowsFrom(TRANSPOSE_TILE_ROWS),
  );
  f.forSteps(
    i,
    () => f.get(i),
    rows,
    1,
    () => rowsFrom(1),
  );
  return f;
}

function buildColumnSums(): FunctionBuilder {
  const f = new FunctionBuilder('columnSums', [I32, I32, I32, I32]);
  const [src, dst, rows, cols] = [0, 1, 2, 3].map((index) => f.param(index));
  const i = f.local(I32);
  const j = f.local(I32);
  const cursor = f.local(I32);
  const rowBytes = f.local(I32);
  f.get(cols).i32Const(4).i32Mul().set(rowBytes);
  const stripe = (vectors: number): void => {
    const sums = Array.from({ length: vectors }, () => f.local('v128'));
    for (const sum of sums) f.f32Const(0).f32x4Splat().set(sum);
    f.get(j).i32Const(4).i32Mul().get(src).i32Add().set(cursor);
    f.forSteps(
      i,
      () => f.i32Const(0),
      rows,
      1,
      () => {
        sums.forEach((sum, v) =>
          f
            .get(sum)
            .get(cursor)
            .v128Load(16 * v)
            .f32x4Add()
            .set(sum),
        );
        f.addTo(cursor, rowBytes);
      },
    );
    sums.forEach((sum, v) =>
      f
        .get(j)
        .i32Const(4)
        .i32Mul()
        .get(dst)
        .i32Add()
        .get(sum)
        .v128Store(16 * v),
    );
  };
  f.forSteps(
    j,
    () => f.i32Const(0),
    cols,
    16,
    () => stripe(4),
  );
  f.forSteps(
    j,
    () => f.get(j),
    cols,
    4,
    () => stripe(1),
  );
  return f;
}

/** The slice of the WebAssembly JS API used here (tsconfig's libs do not declare it). */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { readonly exports: unknown };
}

/** A WebAssembly.Memory, opaque here: the kernels only import it. */
export type WasmMemory = object;

const webAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;
let compiled: object | undefined;
const instances = new WeakMap<WasmMemory, SimdKernels>();

/** The kernels bound to `memory` (compiled once per process, instantiated once per memory). */
export function simdKernelsFor(memory: WasmMemory): SimdKernels {
  const existing = instances.get(memory);
  if (existing !== undefined) return existing;
  const fma = relaxedSimdAvailable();
  compiled ??= new webAssembly.Module(
    assembleModule([
      buildGemm('matMul', { rows: 4, vectors: 2, fma }),
      buildPackPanels('packPanels'),
      buildPackedGemm('packedMatMul', fma),
      buildTranspose(),
      buildColumnSums(),
      buildAdamUpdate(),
      buildGeluInner(),
      buildGeluGradient(),
      buildSumOfSquares(),
    ]),
  );
  const exports = new webAssembly.Instance(compiled, { env: { memory } }).exports as SimdKernels;
  const kernels: SimdKernels = {
    matMul: exports.matMul,
    packPanels: exports.packPanels,
    packedMatMul: exports.packedMatMul,
    transpose: exports.transpose,
    columnSums: exports.columnSums,
    adamUpdate: exports.adamUpdate,
    geluInner: exports.geluInner,
    geluGradient: exports.geluGradient,
    sumOfSquares: exports.sumOfSquares,
  };
  instances.set(memory, kernels);
  return kernels;
}
