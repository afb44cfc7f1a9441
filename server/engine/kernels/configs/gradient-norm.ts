// SteadytuneGradientNorm (telemetry-kernels.ts): sqrt of the sum of squares over all gradients
// in one kernel, or, with attrs.squared, over scalars that are already sums of squares (the
// fused Adam's by-product). On wasm the pass runs in f32x4 lanes, chunk totals added in double.
import type * as tf from '@tensorflow/tfjs';
import { heapAddress, sizeOf, type CpuBackendView, type WasmBackendView } from '../backend-views.js';
import type { EngineKernelConfig } from '../kernel-config.js';
import { simdKernelsFor } from '../simd-kernels.js';
import { GRADIENT_NORM, NORM_CHUNK } from '../telemetry-kernels.js';

/** The numbered inputs g0, g1, ... in their order. */
const inputList = (inputs: tf.NamedTensorInfoMap): tf.TensorInfo[] =>
  Object.keys(inputs)
    .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))
    .map((name) => inputs[name] as tf.TensorInfo);

export const gradientNormConfig: EngineKernelConfig = {
  kernelName: GRADIENT_NORM,
  kernelFuncs: {
    wasm: ({ inputs, attrs, backend }) => {
      const view = backend as WasmBackendView;
      const kernels = simdKernelsFor(view.wasm.asm.memory);
      const out = view.makeOutput([], 'float32');
      const target = heapAddress(view, out);
      let total = 0;
      for (const gradient of inputList(inputs)) {
        if (attrs?.squared === true) {
          total += view.wasm.HEAPF32[heapAddress(view, gradient) / 4];
          continue;
        }
        const start = heapAddress(view, gradient);
        const size = sizeOf(gradient.shape);
        for (let done = 0; done < size; done += NORM_CHUNK) {
          kernels.sumOfSquares(start + 4 * done, Math.min(NORM_CHUNK, size - done), target);
          total += view.wasm.HEAPF32[target / 4];
        }
      }
      view.wasm.HEAPF32[target / 4] = Math.sqrt(total);
      return out;
    },
    cpu: ({ inputs, attrs, backend }) => {
      const cpu = backend as CpuBackendView;
      const values = (info: tf.TensorInfo): Float32Array => cpu.readSync(info.dataId) as Float32Array;
      let total = 0;
      for (const gradient of inputList(inputs)) {
        if (attrs?.squared === true) total += values(gradient)[0];
        else for (const value of values(gradient)) total += value * value;
      }
      return cpu.makeTensorInfo([], 'float32', Float32Array.of(Math.sqrt(total)));
    },
  },
};
