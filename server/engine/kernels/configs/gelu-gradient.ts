// SteadytuneGeluGradient (gelu-kernels.ts): GELU's whole input gradient from dy, x and the
// saved gate, element-wise, in one pass instead of the stock ops' 8.
import type * as tf from '@tensorflow/tfjs';
import { heapAddress, sizeOf, type CpuBackendView, type WasmBackendView } from '../backend-views.js';
import { GELU_GRADIENT, geluGradientReference } from '../gelu-kernels.js';
import type { EngineKernelConfig } from '../kernel-config.js';
import { simdKernelsFor } from '../simd-kernels.js';

export const geluGradientConfig: EngineKernelConfig = {
  kernelName: GELU_GRADIENT,
  kernelFuncs: {
    wasm: ({ inputs, backend }) => {
      const view = backend as WasmBackendView;
      const [dy, x, gate] = [inputs.dy, inputs.x, inputs.gate] as tf.TensorInfo[];
      const out = view.makeOutput([...x.shape], 'float32');
      simdKernelsFor(view.wasm.asm.memory).geluGradient(
        heapAddress(view, dy),
        heapAddress(view, x),
        heapAddress(view, gate),
        heapAddress(view, out),
        sizeOf(x.shape),
      );
      return out;
    },
    cpu: ({ inputs, backend }) => {
      const cpu = backend as CpuBackendView;
      const values = (info: tf.TensorInfo): Float32Array => cpu.readSync(info.dataId) as Float32Array;
      const [dy, x, gate] = [inputs.dy, inputs.x, inputs.gate] as tf.TensorInfo[];
      const out = new Float32Array(sizeOf(x.shape));
      geluGradientReference(values(dy), values(x), values(gate), out);
      return cpu.makeTensorInfo([...x.shape], 'float32', out);
    },
  },
};
