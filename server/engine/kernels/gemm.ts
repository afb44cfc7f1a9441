// Register-blocked f32x4 matrix products. buildGemm reads B in place through a row stride (the
// attention products: many small per-head matrices); buildPackedGemm reads B from column panels
// that buildPackPanels copies it into first (the dense products: one large B reused by all rows
// of A; contiguous panels keep power-of-two row strides from thrashing cache sets, and the
// packing reads B through any strides, so B^T costs no transpose). Tile shapes and FMA were
// chosen with bench/peer/matmul.ts (bench/README.md). One tile is `rows` x (4 * vectors) outputs kept in v128 locals (V8 on x64 gives wasm 15
// of the 16 xmm registers: rows * vectors accumulators + vectors B values + 1 splat must fit);
// per step p it loads `vectors` B vectors and splats `rows` A elements. With `fma` the
// multiply-add is relaxed SIMD's f32x4.relaxed_madd (one vfmadd on x64), else f32x4.mul then
// f32x4.add.
//
// Signature (all addresses and strides in bytes):
//   (a, aRow, aCol, b, bRow, c, cRow, m, k, n, accumulate)
// C[i, j] = sum_p A[i, p] B[p, j] for i < m, j < n (n % 4 == 0), A[i, p] at a + i aRow + p aCol,
// B[p, j] at b + p bRow + 4j, C[i, j] at c + i cRow + 4j; `accumulate` 1 adds to C instead.
import { FunctionBuilder } from './wasm-assembler.js';

export interface GemmShape {
  readonly rows: number;
  readonly vectors: number;
  readonly fma: boolean;
}

const I32 = 'i32' as const;

function emitTile(f: FunctionBuilder, shape: GemmShape, rows: number, vectors: number, at: { i: number; j: number }): void {
  const [a, aRow, aCol, b, bRow, c, cRow, , k] = [0, 1, 2, 3, 4, 5, 6, 7, 8].map((i) => f.param(i));
  const p = f.local(I32);
  const bCursor = f.local(I32);
  const aCursors = Array.from({ length: rows }, () => f.local(I32));
  const accumulators = Array.from({ length: rows }, () => Array.from({ length: vectors }, () => f.local('v128')));
  const bValues = Array.from({ length: vectors }, () => f.local('v128'));
  const aSplat = f.local('v128');
  aCursors.forEach((cursor, r) => {
    f.get(at.i).i32Const(r).i32Add().get(aRow).i32Mul().get(a).i32Add().set(cursor);
  });
  f.get(at.j).i32Const(4).i32Mul().get(b).i32Add().set(bCursor);
  const cAddress = (r: number): void => {
    f.get(at.i).i32Const(r).i32Add().get(cRow).i32Mul().get(c).i32Add().get(at.j).i32Const(4).i32Mul().i32Add();
  };
  f.get(f.param(10)).ifElse(
    () =>
      accumulators.forEach((row, r) =>
        row.forEach((accumulator, v) => {
          cAddress(r);
          f.v128Load(16 * v).set(accumulator);
        }),
      ),
    () => {
      for (const row of accumulators) for (const accumulator of row) f.f32Const(0).f32x4Splat().set(accumulator);
    },
  );
  const step = (): void => {
    bValues.forEach((value, v) =>
      f
        .get(bCursor)
        .v128Load(16 * v)
        .set(value),
    );
    aCursors.forEach((cursor, r) => {
      f.get(cursor).v128Load32Splat().set(aSplat);
      bValues.forEach((value, v) => {
        const accumulator = accumulators[r][v];
        if (shape.fma) f.get(aSplat).get(value).get(accumulator).f32x4RelaxedMadd().set(accumulator);
        else f.get(accumulator).get(aSplat).get(value).f32x4Mul().f32x4Add().set(accumulator);
      });
      f.addTo(cursor, aCol);
    });
    f.addTo(bCursor, bRow);
  };
  f.forSteps(p, () => f.i32Const(0), k, 1, step);
  accumulators.forEach((row, r) => {
    row.forEach((accumulator, v) => {
      cAddress(r);
      f.get(accumulator).v128Store(16 * v);
    });
  });
}

/** The whole product: tiles of `shape`, then narrower and shorter tiles for the edges. */
export function buildGemm(name: string, shape: GemmShape): FunctionBuilder {
  const f = new FunctionBuilder(name, [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [m, n] = [f.param(7), f.param(9)];
  const i = f.local(I32);
  const j = f.local(I32);
  const columnsOf = (rows: number): void => {
    f.forSteps(
      j,
      () => f.i32Const(0),
      n,
      4 * shape.vectors,
      () => emitTile(f, shape, rows, shape.vectors, { i, j }),
    );
    if (shape.vectors > 1)
      f.forSteps(
        j,
        () => f.get(j),
        n,
        4,
        () => emitTile(f, shape, rows, 1, { i, j }),
      );
  };
  f.forSteps(
    i,
    () => f.i32Const(0),
    m,
    shape.rows,
    () => columnsOf(shape.rows),
  );
  if (shape.rows > 1)
    f.forSteps(
      i,
      () => f.get(i),
      m,
      1,
      () => columnsOf(1),
    );
  return f;
}

export const PANEL = 8;

/**
 * Packs B [k, n] (element (p, j) at b + p bRow + j bCol bytes, n % 4 == 0) into column panels
 * PANEL wide (the last n % PANEL columns in 4-wide panels): panel of column j at float j * k of
 * `packed`, its row p at float j * k + p * width. Signature: (b, bRow, bCol, packed, k, n).
 */
export function buildPackPanels(name: string): FunctionBuilder {
  const f = new FunctionBuilder(name, [I32, I32, I32, I32, I32, I32]);
  const [b, bRow, bCol, packed, k, n] = [0, 1, 2, 3, 4, 5].map((i) => f.param(i));
  const j = f.local(I32);
  const p = f.local(I32);
  const source = f.local(I32);
  const target = f.local(I32);
  const panels = (width: number): void => {
    f.get(j).get(bCol).i32Mul().get(b).i32Add().set(source);
    f.get(j).get(k).i32Mul().i32Const(4).i32Mul().get(packed).i32Add().set(target);
    f.get(bCol)
      .i32Const(4)
      .i32Sub()
      .ifElse(
        () => {
          // Strided columns (B^T of a row-major matrix): gather element by element.
          f.forSteps(
            p,
            () => f.i32Const(0),
            k,
            1,
            () => {
              for (let e = 0; e < width; e++) {
                f.get(target);
                if (e === 0) f.get(source);
                else f.get(source).get(bCol).i32Const(e).i32Mul().i32Add();
                f.f32Load().f32Store(4 * e);
              }
              f.addTo(source, bRow);
              f.get(target)
                .i32Const(4 * width)
                .i32Add()
                .set(target);
            },
          );
        },
        () => {
          f.forSteps(
            p,
            () => f.i32Const(0),
            k,
            1,
            () => {
              for (let v = 0; v < width / 4; v++)
                f.get(target)
                  .get(source)
                  .v128Load(16 * v)
                  .v128Store(16 * v);
              f.addTo(source, bRow);
              f.get(target)
                .i32Const(4 * width)
                .i32Add()
                .set(target);
            },
          );
        },
      );
  };
  f.forSteps(
    j,
    () => f.i32Const(0),
    n,
    PANEL,
    () => panels(PANEL),
  );
  f.forSteps(
    j,
    () => f.get(j),
    n,
    4,
    () => panels(4),
  );
  return f;
}

/** How a packed product starts its accumulators: from 0, from C (a later k slice), from a bias row. */
export const INIT_ZERO = 0;
export const INIT_FROM_C = 1;
export const INIT_FROM_BIAS = 2;

const PACKED_ROWS = 4;

function emitPackedTile(f: FunctionBuilder, fma: boolean, rows: number, width: number, at: { i: number; j: number }): void {
  const [a, aRow, aCol, packed, c, cRow, , k, , init, bias, relu] = Array.from({ length: 12 }, (_, i) => f.param(i));
  const vectors = width / 4;
  const p = f.local(I32);
  const bCursor = f.local(I32);
  const aCursors = Array.from({ length: rows }, () => f.local(I32));
  const accumulators = Array.from({ length: rows }, () => Array.from({ length: vectors }, () => f.local('v128')));
  const bValues = Array.from({ length: vectors }, () => f.local('v128'));
  const aSplat = f.local('v128');
  aCursors.forEach((cursor, r) => {
    f.get(at.i).i32Const(r).i32Add().get(aRow).i32Mul().get(a).i32Add().set(cursor);
  });
  f.get(at.j).get(k).i32Mul().i32Const(4).i32Mul().get(packed).i32Add().set(bCursor);
  const cAddress = (r: number): void => {
    f.get(at.i).i32Const(r).i32Add().get(cRow).i32Mul().get(c).i32Add().get(at.j).i32Const(4).i32Mul().i32Add();
  };
  const each = (body: (accumulator: number, r: number, v: number) => void): void =>
    accumulators.forEach((row, r) => row.forEach((accumulator, v) => body(accumulator, r, v)));
  f.get(init).ifElse(
    () => {
      f.get(init)
        .i32Const(INIT_FROM_C)
        .i32Sub()
        .ifElse(
          () =>
            each((accumulator, _, v) =>
              f
                .get(at.j)
                .i32Const(4)
                .i32Mul()
                .get(bias)
                .i32Add()
                .v128Load(16 * v)
                .set(accumulator),
            ),
          () =>
            each((accumulator, r, v) => {
              cAddress(r);
              f.v128Load(16 * v).set(accumulator);
            }),
        );
    },
    () => each((accumulator) => f.f32Const(0).f32x4Splat().set(accumulator)),
  );
  f.forSteps(
    p,
    () => f.i32Const(0),
    k,
    1,
    () => {
      bValues.forEach((value, v) =>
        f
          .get(bCursor)
          .v128Load(16 * v)
          .set(value),
      );
      aCursors.forEach((cursor, r) => {
        f.get(cursor).v128Load32Splat().set(aSplat);
        bValues.forEach((value, v) => {
          const accumulator = accumulators[r][v];
          if (fma) f.get(aSplat).get(value).get(accumulator).f32x4RelaxedMadd().set(accumulator);
          else f.get(accumulator).get(aSplat).get(value).f32x4Mul().f32x4Add().set(accumulator);
        });
        f.addTo(cursor, aCol);
      });
      f.get(bCursor)
        .i32Const(4 * width)
        .i32Add()
        .set(bCursor);
    },
  );
  f.get(relu).ifElse(
    () =>
      each((accumulator, r, v) => {
        cAddress(r);
        f.get(accumulator)
          .f32Const(0)
          .f32x4Splat()
          .f32x4Max()
          .v128Store(16 * v);
      }),
    () =>
      each((accumulator, r, v) => {
        cAddress(r);
        f.get(accumulator).v128Store(16 * v);
      }),
  );
}

/**
 * C = A B (+ bias, relu) against B packed by buildPackPanels; 4 x 8 tiles. Signature:
 * (a, aRow, aCol, packed, c, cRow, m, k, n, init, bias, relu): A[i, p] at a + i aRow + p aCol,
 * C[i, j] at c + i cRow + 4j (bytes); init INIT_ZERO / INIT_FROM_C / INIT_FROM_BIAS (bias: n
 * floats); relu 1 stores max(., 0).
 */
export function buildPackedGemm(name: string, fma: boolean): FunctionBuilder {
  const f = new FunctionBuilder(name, Array<'i32'>(12).fill(I32));
  const [m, n] = [f.param(6), f.param(8)];
  const i = f.local(I32);
  const j = f.local(I32);
  const columnsOf = (rows: number): void => {
    f.forSteps(
      j,
      () => f.i32Const(0),
      n,
      PANEL,
      () => emitPackedTile(f, fma, rows, PANEL, { i, j }),
    );
    f.forSteps(
      j,
      () => f.get(j),
      n,
      4,
      () => emitPackedTile(f, fma, rows, 4, { i, j }),
    );
  };
  f.forSteps(
    i,
    () => f.i32Const(0),
    m,
    PACKED_ROWS,
    () => columnsOf(PACKED_ROWS),
  );
  f.forSteps(
    i,
    () => f.get(i),
    m,
    1,
    () => columnsOf(1),
  );
  return f;
}
