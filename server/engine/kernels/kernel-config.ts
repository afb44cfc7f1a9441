// One of the engine's kernels as register-all.ts lists it: its TF.js name and its function on
// each backend that has it. A tf.KernelConfig with both backends side by side, since the cpu
// function (plain loops) is the reference the wasm one (SIMD on the heap) is tested against.
import type * as tf from '@tensorflow/tfjs';

/** The backends the engine's kernels exist on; native TensorFlow takes the stock ops. */
export const KERNEL_BACKENDS = ['wasm', 'cpu'] as const;

export type KernelBackend = (typeof KERNEL_BACKENDS)[number];

export interface EngineKernelConfig {
  readonly kernelName: string;
  readonly kernelFuncs: Readonly<Record<KernelBackend, tf.KernelFunc>>;
}
