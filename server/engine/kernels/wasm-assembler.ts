// A minimal WebAssembly binary writer: enough to emit a few hand-written SIMD kernels at run
// time, with no toolchain and no generated files. One module imports one memory (the TF.js
// wasm backend's heap, so kernels read and write tensors in place) and exports i32-parameter
// functions. Opcodes: WebAssembly core spec 2.0 and the fixed-width SIMD proposal (0xFD prefix).

export type ValueType = 'i32' | 'f32' | 'v128';

const VALUE_TYPE_CODE: Record<ValueType, number> = { i32: 0x7f, f32: 0x7d, v128: 0x7b };

function unsignedLeb(value: number): number[] {
  const bytes: number[] = [];
  let rest = value >>> 0;
  do {
    let byte = rest & 0x7f;
    rest >>>= 7;
    if (rest !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (rest !== 0);
  return bytes;
}

function signedLeb(value: number): number[] {
  const bytes: number[] = [];
  let rest = value | 0;
  for (;;) {
    const byte = rest & 0x7f;
    rest >>= 7;
    const done = (rest === 0 && (byte & 0x40) === 0) || (rest === -1 && (byte & 0x40) !== 0);
    bytes.push(done ? byte : byte | 0x80);
    if (done) return bytes;
  }
}

const encodeName = (name: string): number[] => {
  const bytes = [...new TextEncoder().encode(name)];
  return [...unsignedLeb(bytes.length), ...bytes];
};

const vector = (items: number[][]): number[] => [...unsignedLeb(items.length), ...items.flat()];

const section = (id: number, body: number[]): number[] => [id, ...unsignedLeb(body.length), ...body];

/** Emits one function body; locals are declared up front and addressed by index. */
export class FunctionBuilder {
  readonly bytes: number[] = [];
  private readonly localTypes: ValueType[] = [];

  constructor(
    readonly name: string,
    readonly params: readonly ValueType[],
  ) {}

  /** Index of parameter `i` (parameters come first in the local index space). */
  param(i: number): number {
    return i;
  }

  local(type: ValueType): number {
    this.localTypes.push(type);
    return this.params.length + this.localTypes.length - 1;
  }

  private emit(...codes: number[]): this {
    this.bytes.push(...codes);
    return this;
  }

  get(index: number): this {
    return this.emit(0x20, ...unsignedLeb(index));
  }
  set(index: number): this {
    return this.emit(0x21, ...unsignedLeb(index));
  }
  i32Const(value: number): this {
    return this.emit(0x41, ...signedLeb(value));
  }
  i32Add(): this {
    return this.emit(0x6a);
  }
  i32Sub(): this {
    return this.emit(0x6b);
  }
  i32Mul(): this {
    return this.emit(0x6c);
  }
  i32LtU(): this {
    return this.emit(0x49);
  }
  i32GeU(): this {
    return this.emit(0x4f);
  }
  i32GtU(): this {
    return this.emit(0x4b);
  }
  f32Load(offset = 0): this {
    return this.emit(0x2a, 2, ...unsignedLeb(offset));
  }
  f32Store(offset = 0): this {
    return this.emit(0x38, 2, ...unsignedLeb(offset));
  }
  f32Add(): this {
    return this.emit(0x92);
  }
  f32Sub(): this {
    return this.emit(0x93);
  }
  f32Mul(): this {
    return this.emit(0x94);
  }
  f32Div(): this {
    return this.emit(0x95);
  }
  f32Sqrt(): this {
    return this.emit(0x91);
  }
  f32Const(value: number): this {
    return this.emit(0x43, ...new Uint8Array(new Float32Array([value]).buffer));
  }

  private simd(opcode: number, ...immediates: number[]): this {
    return this.emit(0xfd, ...unsignedLeb(opcode), ...immediates);
  }
  // Alignment hints are 0 (byte): tensors sit at 4-byte aligned heap addresses only.
  v128Load(offset = 0): this {
    return this.simd(0x00, 0, ...unsignedLeb(offset));
  }
  v128Load32Splat(offset = 0): this {
    return this.simd(0x09, 0, ...unsignedLeb(offset));
  }
  v128Store(offset = 0): this {
    return this.simd(0x0b, 0, ...unsignedLeb(offset));
  }
  f32x4Splat(): this {
    return this.simd(0x13);
  }
  f32x4ExtractLane(lane: number): this {
    return this.simd(0x1f, lane);
  }
  f32x4Add(): this {
    return this.simd(0xe4);
  }
  f32x4Sub(): this {
    return this.simd(0xe5);
  }
  f32x4Mul(): this {
    return this.simd(0xe6);
  }
  f32x4Div(): this {
    return this.simd(0xe7);
  }
  f32x4Sqrt(): this {
    return this.simd(0xe3);
  }
  f32x4Max(): this {
    return this.simd(0xe9);
  }
  f32x4Neg(): this {
    return this.simd(0xe1);
  }
  /** Relaxed SIMD (a b + c, fused or not as the hardware does it): only in a module that `relaxed-simd.ts` says validates. */
  f32x4RelaxedMadd(): this {
    return this.simd(0x105);
  }

  /** block ... end; `br 0` inside `body` jumps past the end. */
  block(body: () => void): this {
    this.emit(0x02, 0x40);
    body();
    return this.emit(0x0b);
  }

  /** loop ... end; `br 0` inside `body` jumps back to the start. */
  loop(body: () => void): this {
    this.emit(0x03, 0x40);
    body();
    return this.emit(0x0b);
  }

  /** if (popped i32 != 0) then() else otherwise(). */
  ifElse(then: () => void, otherwise: () => void): this {
    this.emit(0x04, 0x40);
    then();
    this.emit(0x05);
    otherwise();
    return this.emit(0x0b);
  }

  br(depth: number): this {
    return this.emit(0x0c, ...unsignedLeb(depth));
  }
  brIf(depth: number): this {
    return this.emit(0x0d, ...unsignedLeb(depth));
  }

  /**
   * for (counter = start; counter + step <= end; counter += step) body(), counters as i32 locals;
   * `start` is pushed by the caller's `pushStart`. The body must leave the stack balanced.
   */
  forSteps(counter: number, pushStart: () => void, end: number, step: number, body: () => void): this {
    pushStart();
    this.set(counter);
    return this.block(() => {
      this.loop(() => {
        // exit when counter + step > end
        this.get(counter).i32Const(step).i32Add().get(end).i32GtU().brIf(1);
        body();
        this.get(counter).i32Const(step).i32Add().set(counter);
        this.br(0);
      });
    });
  }

  /** local[index] += local[delta] */
  addTo(index: number, delta: number): this {
    return this.get(index).get(delta).i32Add().set(index);
  }

  encode(): number[] {
    const groups: number[][] = this.localTypes.map((type) => [1, VALUE_TYPE_CODE[type]]);
    const body = [...vector(groups), ...this.bytes, 0x0b];
    return [...unsignedLeb(body.length), ...body];
  }
}

/** A module of void functions that import memory `env.memory`. */
export function assembleModule(functions: readonly FunctionBuilder[]): Uint8Array {
  const types = functions.map((f) => [0x60, ...vector(f.params.map((p) => [VALUE_TYPE_CODE[p]])), 0]);
  const memoryImport = [...encodeName('env'), ...encodeName('memory'), 0x02, 0x00, 0x00];
  const exports = functions.map((f, i) => [...encodeName(f.name), 0x00, ...unsignedLeb(i)]);
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vector(types)),
    ...section(2, vector([memoryImport])),
    ...section(3, vector(functions.map((_, i) => unsignedLeb(i)))),
    ...section(7, vector(exports)),
    ...section(10, vector(functions.map((f) => f.encode()))),
  ]);
}
