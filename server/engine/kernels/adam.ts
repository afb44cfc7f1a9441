// Adam / AdamW moment and parameter update as one kernel per variable. The stock-op version
// (optimizer.ts) is ~15 kernels per variable, ~1,000 per transformer step: each pays TF.js's
// per-op overhead and a pass over memory, and wasm's Sqrt is not vectorised. Same f32
// operations in the same order as optimizer.ts, so the results match it to the last bit or two.
import { FunctionBuilder } from './wasm-assembler.js';

export const ADAM_UPDATE = 'SteadytuneAdamUpdate';

/** Per-step constants; the weight decay of AdamW enters as the multiplier `decay` = 1 - lr*wd. */
export interface AdamCoefficients {
  readonly beta1: number;
  readonly beta2: number;
  /** 1 - beta1^t and 1 - beta2^t. */
  readonly biasCorrection1: number;
  readonly biasCorrection2: number;
  readonly epsilon: number;
  readonly learningRate: number;
  readonly decay: number;
}

const COEFFICIENT_ORDER = [
  'beta1',
  'oneMinusBeta1',
  'beta2',
  'oneMinusBeta2',
  'biasCorrection1',
  'biasCorrection2',
  'epsilon',
  'learningRate',
  'decay',
] as const;

/** The f32 parameters in kernel order (1 - beta computed in double, as optimizer.ts does). */
export function coefficientList(c: AdamCoefficients): number[] {
  return [c.beta1, 1 - c.beta1, c.beta2, 1 - c.beta2, c.biasCorrection1, c.biasCorrection2, c.epsilon, c.learningRate, c.decay];
}

/**
 * m' = b1 m + (1-b1) g; v' = b2 v + (1-b2) g^2; p' = p decay - lr (m'/bc1) / (sqrt(v'/bc2) + eps).
 * Returns sum g^2 (in double): the gradient norm's share of this variable, read in passing.
 */
export function adamReference(
  param: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  v: Float32Array,
  outParam: Float32Array,
  outM: Float32Array,
  outV: Float32Array,
  coefficients: number[],
): number {
  const f = Math.fround;
  const [b1, omb1, b2, omb2, bc1, bc2, eps, lr, decay] = coefficients.map(f);
  let squares = 0;
  for (let i = 0; i < param.length; i++) {
    const g = grad[i];
    squares += g * g;
    const nextM = f(f(b1 * m[i]) + f(omb1 * g));
    const nextV = f(f(b2 * v[i]) + f(omb2 * f(g * g)));
    const denominator = f(f(Math.sqrt(f(nextV / bc2))) + eps);
    const update = f(f(nextM / bc1) / denominator);
    outM[i] = nextM;
    outV[i] = nextV;
    outParam[i] = f(f(param[i] * decay) - f(lr * update));
  }
  return squares;
}

/**
 * The same update in f32x4 lanes, scalar f32 for the last count % 4 elements; the f32 at
 * `squares` receives sum g^2 (callers keep `count` moderate so f32 lanes stay accurate).
 */
export function buildAdamUpdate(): FunctionBuilder {
  const pointerCount = 8;
  const f = new FunctionBuilder('adamUpdate', [
    ...Array<'i32'>(pointerCount + 1).fill('i32'),
    ...Array<'f32'>(COEFFICIENT_ORDER.length).fill('f32'),
  ]);
  const [param, grad, m, v, outParam, outM, outV, squares, count] = Array.from({ length: pointerCount + 1 }, (_, i) => f.param(i));
  const scalars = COEFFICIENT_ORDER.map((_, i) => f.param(pointerCount + 1 + i));
  const vectors = scalars.map((scalar) => {
    const splat = f.local('v128');
    f.get(scalar).f32x4Splat().set(splat);
    return splat;
  });
  const offset = f.local('i32');
  const bytes = f.local('i32');
  const squareLanes = f.local('v128');
  const squareTail = f.local('f32');
  f.f32Const(0).f32x4Splat().set(squareLanes);
  f.f32Const(0).set(squareTail);
  f.get(count).i32Const(4).i32Mul().set(bytes);
  const emitLanes = (vectorised: boolean): void => {
    const constant = vectorised ? vectors : scalars;
    const [b1, omb1, b2, omb2, bc1, bc2, eps, lr, decay] = constant;
    const load = (pointer: number): void => {
      f.get(pointer).get(offset).i32Add();
      if (vectorised) f.v128Load();
      else f.f32Load();
    };
    const add = (): void => void (vectorised ? f.f32x4Add() : f.f32Add());
    const sub = (): void => void (vectorised ? f.f32x4Sub() : f.f32Sub());
    const mul = (): void => void (vectorised ? f.f32x4Mul() : f.f32Mul());
    const div = (): void => void (vectorised ? f.f32x4Div() : f.f32Div());
    const sqrt = (): void => void (vectorised ? f.f32x4Sqrt() : f.f32Sqrt());
    const type = vectorised ? 'v128' : 'f32';
    const [g, nextM, nextV] = [f.local(type), f.local(type), f.local(type)];
    const store = (pointer: number, value: number): void => {
      f.get(pointer).get(offset).i32Add().get(value);
      if (vectorised) f.v128Store();
      else f.f32Store();
    };
    load(grad);
    f.set(g);
    const squareSum = vectorised ? squareLanes : squareTail;
    f.get(squareSum).get(g).get(g);
    mul();
    add();
    f.set(squareSum);
    f.get(b1);
    load(m);
    mul();
    f.get(omb1).get(g);
    mul();
    add();
    f.set(nextM);
    f.get(b2);
    load(v);
    mul();
    f.get(omb2).get(g).get(g);
    mul();
    mul();
    add();
    f.set(nextV);
    store(outM, nextM);
    store(outV, nextV);
    // p' = p * decay - lr * ((m' / bc1) / (sqrt(v' / bc2) + eps))
    f.get(outParam).get(offset).i32Add();
    load(param);
    f.get(decay);
    mul();
    f.get(lr);
    f.get(nextM).get(bc1);
    div();
    f.get(nextV).get(bc2);
    div();
    sqrt();
    f.get(eps);
    add();
    div();
    mul();
    sub();
    if (vectorised) f.v128Store();
    else f.f32Store();
  };
  f.forSteps(
    offset,
    () => f.i32Const(0),
    bytes,
    16,
    () => emitLanes(true),
  );
  f.forSteps(
    offset,
    () => f.get(offset),
    bytes,
    4,
    () => emitLanes(false),
  );
  f.get(squares);
  f.get(squareLanes).f32x4ExtractLane(0).get(squareLanes).f32x4ExtractLane(1).f32Add();
  f.get(squareLanes).f32x4ExtractLane(2).get(squareLanes).f32x4ExtractLane(3).f32Add().f32Add();
  f.get(squareTail).f32Add();
  f.f32Store();
  return f;
}
