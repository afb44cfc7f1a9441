// SteadytuneStepReadout (telemetry-kernels.ts): the step's [loss sum, correct count, norm, head
// dot, |g_W|^2, |g_C|^2] from accumulated head sums, computed in double on both backends.
import type * as tf from '@tensorflow/tfjs';
import { heapAddress, sizeOf, type CpuBackendView, type WasmBackendView } from '../backend-views.js';
import type { EngineKernelConfig } from '../kernel-config.js';
import { STEP_READOUT, stepReadoutReference } from '../telemetry-kernels.js';

export const stepReadoutConfig: EngineKernelConfig = {
  kernelName: STEP_READOUT,
  kernelFuncs: {
    wasm: ({ inputs, backend }) => {
      const view = backend as WasmBackendView;
      const [sums, norm] = [inputs.sums, inputs.norm] as tf.TensorInfo[];
      const start = heapAddress(view, sums) / 4;
      const readout = stepReadoutReference(
        view.wasm.HEAPF32.subarray(start, start + sizeOf(sums.shape)),
        view.wasm.HEAPF32[heapAddress(view, norm) / 4],
      );
      const out = view.makeOutput([readout.length], 'float32');
      view.wasm.HEAPF32.set(readout, heapAddress(view, out) / 4);
      return out;
    },
    cpu: ({ inputs, backend }) => {
      const cpu = backend as CpuBackendView;
      const values = (info: tf.TensorInfo): Float32Array => cpu.readSync(info.dataId) as Float32Array;
      const readout = stepReadoutReference(values(inputs.sums as tf.TensorInfo), values(inputs.norm as tf.TensorInfo)[0]);
      return cpu.makeTensorInfo([readout.length], 'float32', Float32Array.from(readout));
    },
  },
};
