// SteadytuneGeluInner (gelu-kernels.ts): GELU's sigmoid argument, element-wise, in one pass
// instead of the stock ops' 5.
import type * as tf from '@tensorflow/tfjs';
import { heapAddress, sizeOf, type CpuBackendView, type WasmBackendView } from '../backend-views.js';
import { GELU_INNER, geluInnerReference } from '../gelu-kernels.js';
import type { EngineKernelConfig } from '../kernel-config.js';
import { simdKernelsFor } from '../simd-kernels.js';

export const geluInnerConfig: EngineKernelConfig = {
  kernelName: GELU_INNER,
  kernelFuncs: {
    wasm: ({ inputs, backend }) => {
      const view = backend as WasmBackendView;
      const x = inputs.x as tf.TensorInfo;
      const out = view.makeOutput([...x.shape], 'float32');
      simdKernelsFor(view.wasm.asm.memory).geluInner(heapAddress(view, x), heapAddress(view, out), sizeOf(x.shape));
      return out;
    },
    cpu: ({ inputs, backend }) => {
      const cpu = backend as CpuBackendView;
      const x = inputs.x as tf.TensorInfo;
      const out = new Float32Array(sizeOf(x.shape));
      geluInnerReference(cpu.readSync(x.dataId) as Float32Array, out);
      return cpu.makeTensorInfo([...x.shape], 'float32', out);
    },
  },
};
