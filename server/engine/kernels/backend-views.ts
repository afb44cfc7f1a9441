// The parts of the wasm and cpu backends the engine's kernels touch. The wasm backend's heap
// layout is not in its public typings: a tensor's data is `memoryOffset` bytes into the heap.
import type * as tf from '@tensorflow/tfjs';
import type { WasmMemory } from './simd-kernels.js';

export interface WasmBackendView {
  readonly wasm: {
    readonly asm: { readonly memory: WasmMemory };
    readonly HEAPF32: Float32Array;
    readonly HEAP32: Int32Array;
    /** The backend's own allocator (scratch space for packed operands). */
    _malloc(bytes: number): number;
    _free(address: number): void;
  };
  readonly dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
}

export interface CpuBackendView {
  readSync(dataId: tf.DataId): unknown;
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo;
}

/** Byte address of a tensor's data in the wasm heap. */
export function heapAddress(view: WasmBackendView, info: tf.TensorInfo): number {
  const data = view.dataIdMap.get(info.dataId);
  if (data === undefined) throw new Error('tensor data is not on the wasm heap');
  return data.memoryOffset;
}

export const sizeOf = (shape: readonly number[]): number => shape.reduce((product, dim) => product * dim, 1);
