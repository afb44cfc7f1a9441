// Plain-JS versions of the fast kernels, on Float32Arrays with element offsets. They define what
// the SIMD kernels compute, run on the cpu backend, and cover shapes the SIMD code does not
// (a matMul with n % 4 != 0).

/**
 * Where element (outer o, inner h, row r, column c) of an operand sits, in elements:
 * offset + o*outer + h*inner + r*row + c*column. A batch is indexed by (o, h): per-head views
 * of [batch*seqLen, dModel] activations need two batch strides.
 */
export interface OperandLayout {
  readonly offset: number;
  readonly outer: number;
  readonly inner: number;
  readonly row: number;
  readonly column: number;
}

/** C = A B for every (o, h) of an outer x inner batch; A [m, k], B [k, n], C [m, n]. */
export interface StridedMatMulPlan {
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly outerCount: number;
  readonly innerCount: number;
  readonly a: OperandLayout;
  readonly b: OperandLayout;
  readonly c: OperandLayout;
}

export function stridedMatMulReference(a: Float32Array, b: Float32Array, c: Float32Array, plan: StridedMatMulPlan): void {
  const { m, k, n, a: la, b: lb, c: lc } = plan;
  for (let o = 0; o < plan.outerCount; o++) {
    for (let h = 0; h < plan.innerCount; h++) {
      const aBase = la.offset + o * la.outer + h * la.inner;
      const bBase = lb.offset + o * lb.outer + h * lb.inner;
      const cBase = lc.offset + o * lc.outer + h * lc.inner;
      for (let i = 0; i < m; i++) {
        const cRow = cBase + i * lc.row;
        for (let j = 0; j < n; j++) c[cRow + j * lc.column] = 0;
        for (let p = 0; p < k; p++) {
          const scale = a[aBase + i * la.row + p * la.column];
          const bRow = bBase + p * lb.row;
          for (let j = 0; j < n; j++) c[cRow + j * lc.column] += scale * b[bRow + j * lb.column];
        }
      }
    }
  }
}

/** x [batch, rows, cols] -> out [batch, cols, rows], in tiles so neither side strides badly. */
export function transposeReference(x: Float32Array, out: Float32Array, batch: number, rows: number, cols: number): void {
  const tile = 16;
  for (let t = 0; t < batch; t++) {
    const base = t * rows * cols;
    for (let i0 = 0; i0 < rows; i0 += tile) {
      for (let j0 = 0; j0 < cols; j0 += tile) {
        const iEnd = Math.min(i0 + tile, rows);
        const jEnd = Math.min(j0 + tile, cols);
        for (let i = i0; i < iEnd; i++) {
          for (let j = j0; j < jEnd; j++) out[base + j * rows + i] = x[base + i * cols + j];
        }
      }
    }
  }
}

/** x [rows, cols] -> out [cols], sums over rows. */
export function columnSumsReference(x: Float32Array, out: Float32Array, rows: number, cols: number): void {
  out.fill(0);
  for (let i = 0; i < rows; i++) {
    const base = i * cols;
    for (let j = 0; j < cols; j++) out[j] += x[base + j];
  }
}

/** Every element of C is written exactly once when its layout tiles [outer, inner, m, n] densely. */
export function coversOutput(plan: StridedMatMulPlan, outputSize: number): boolean {
  return plan.outerCount * plan.innerCount * plan.m * plan.n === outputSize;
}
