// Whether this V8 accepts WebAssembly relaxed SIMD (f32x4.relaxed_madd: one fused multiply-add
// where the CPU has FMA). Node >= 22 ships it; Node 20 (V8 11.3) has it behind
// --experimental-wasm-relaxed-simd, a V8 flag that v8.setFlagsFromString can still turn on at run
// time, before a module that uses it is compiled (the flag is process-wide, so worker threads
// see it too). Probed once: validate a one-instruction module; if that fails, set the flag and
// validate again; if it still fails (another engine, a future V8 without the flag), the kernels
// are built with a separate multiply and add, as before.
import v8 from 'node:v8';
import { assembleModule, FunctionBuilder } from './wasm-assembler.js';

interface WebAssemblyValidate {
  validate(bytes: Uint8Array): boolean;
}

const webAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyValidate }).WebAssembly;

function probeModule(): Uint8Array {
  const f = new FunctionBuilder('probe', ['i32']);
  const value = f.local('v128');
  f.get(value).get(value).get(value).f32x4RelaxedMadd().set(value);
  return assembleModule([f]);
}

let available: boolean | undefined;
let forcedOff = false;

/** Tests and benchmarks: build the kernels without relaxed SIMD (true) or with it where available. */
export function setRelaxedSimdDisabled(off: boolean): void {
  forcedOff = off;
}

/** Whether kernels may use relaxed SIMD in this process (probes, and sets the V8 flag, once). */
export function relaxedSimdAvailable(): boolean {
  if (forcedOff) return false;
  if (available === undefined) {
    const probe = probeModule();
    available = webAssembly.validate(probe);
    if (!available) {
      try {
        v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
        available = webAssembly.validate(probe);
      } catch {
        available = false;
      }
    }
  }
  return available;
}
