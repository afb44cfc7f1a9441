// GELU's element-wise arithmetic as two kernels: the sigmoid's argument (forward) and the whole
// gradient (backward). ops.ts's stock version spends 5 kernels on the argument and 8 on the
// gradient, each a pass over the largest activation of the model ([tokens, ffDim]); the
// sigmoid itself stays a stock kernel (wasm SIMD has no exp). Same f32 operations in the same
// order as the stock version, so values match it bit for bit.
import { FunctionBuilder } from './wasm-assembler.js';

export const GELU_INNER = 'SteadytuneGeluInner';
export const GELU_GRADIENT = 'SteadytuneGeluGradient';

export const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
export const GELU_CUBIC = 0.044715;

const f32 = Math.fround;
/** The f32 constants the stock ops multiply by (tf.mul(x, c) rounds c to f32). */
const CUBIC = f32(GELU_CUBIC);
const TRIPLE_CUBIC = f32(3 * GELU_CUBIC);
const TWICE_SCALE = f32(2 * SQRT_2_OVER_PI);

/** 2u = (x (x^2 a + 1)) 2 sqrt(2/pi). */
export function geluInnerReference(x: Float32Array, out: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    out[i] = f32(f32(v * f32(f32(f32(v * v) * CUBIC) + 1)) * TWICE_SCALE);
  }
}

/** dx = dy (s + x (s (1 - s)) ((x^2 3a + 1) 2 sqrt(2/pi))), s the saved sigmoid gate. */
export function geluGradientReference(dy: Float32Array, x: Float32Array, gate: Float32Array, out: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    const s = gate[i];
    const slope = f32(f32(f32(f32(v * v) * TRIPLE_CUBIC) + 1) * TWICE_SCALE);
    const gateSlope = f32(f32(s * f32(1 - s)) * slope);
    out[i] = f32(dy[i] * f32(s + f32(v * gateSlope)));
  }
}

type Lane = 'v128' | 'f32';

/** Element-wise body over `count` floats: f32x4 lanes, then scalar f32 for the last count % 4. */
function elementwise(
  name: string,
  pointers: number,
  body: (f: FunctionBuilder, lane: Lane, load: (pointer: number) => void, constant: (value: number) => void) => void,
): FunctionBuilder {
  const f = new FunctionBuilder(name, Array<'i32'>(pointers + 1).fill('i32'));
  const count = f.param(pointers);
  const offset = f.local('i32');
  const bytes = f.local('i32');
  f.get(count).i32Const(4).i32Mul().set(bytes);
  const pass = (lane: Lane): void => {
    const load = (pointer: number): void => {
      f.get(f.param(pointer)).get(offset).i32Add();
      if (lane === 'v128') f.v128Load();
      else f.f32Load();
    };
    const constant = (value: number): void => {
      f.f32Const(value);
      if (lane === 'v128') f.f32x4Splat();
    };
    // The output is the last pointer; its address goes under the computed value.
    f.get(f.param(pointers - 1))
      .get(offset)
      .i32Add();
    body(f, lane, load, constant);
    if (lane === 'v128') f.v128Store();
    else f.f32Store();
  };
  f.forSteps(
    offset,
    () => f.i32Const(0),
    bytes,
    16,
    () => pass('v128'),
  );
  f.forSteps(
    offset,
    () => f.get(offset),
    bytes,
    4,
    () => pass('f32'),
  );
  return f;
}

const ops = (f: FunctionBuilder, lane: Lane) => ({
  add: () => void (lane === 'v128' ? f.f32x4Add() : f.f32Add()),
  sub: () => void (lane === 'v128' ? f.f32x4Sub() : f.f32Sub()),
  mul: () => void (lane === 'v128' ? f.f32x4Mul() : f.f32Mul()),
});

/** geluInner(x, out, count). */
export function buildGeluInner(): FunctionBuilder {
  return elementwise('geluInner', 2, (f, lane, load, constant) => {
    const { add, mul } = ops(f, lane);
    load(0);
    load(0);
    load(0);
    mul();
    constant(CUBIC);
    mul();
    constant(1);
    add();
    mul();
    constant(TWICE_SCALE);
    mul();
  });
}

/** geluGradient(dy, x, gate, out, count). */
export function buildGeluGradient(): FunctionBuilder {
  return elementwise('geluGradient', 4, (f, lane, load, constant) => {
    const { add, sub, mul } = ops(f, lane);
    load(0); // dy
    load(2); // s
    load(1); // x
    load(2);
    constant(1);
    load(2);
    sub();
    mul(); // s (1 - s)
    load(1);
    load(1);
    mul();
    constant(TRIPLE_CUBIC);
    mul();
    constant(1);
    add();
    constant(TWICE_SCALE);
    mul();
    mul(); // gateSlope
    mul(); // x gateSlope
    add(); // s + x gateSlope
    mul(); // dy (...)
  });
}
