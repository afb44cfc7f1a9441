// SteadytuneDsgdWeights (example-weights.ts): DSGD's per-example loss weights as one kernel
// instead of ~9 on a [batch] vector; the same f32 arithmetic on both backends.
import type * as tf from '@tensorflow/tfjs';
import { heapAddress, sizeOf, type CpuBackendView, type WasmBackendView } from '../backend-views.js';
import { DSGD_WEIGHTS, dsgdWeightsReference } from '../example-weights.js';
import type { EngineKernelConfig } from '../kernel-config.js';

export const dsgdWeightsConfig: EngineKernelConfig = {
  kernelName: DSGD_WEIGHTS,
  kernelFuncs: {
    wasm: ({ inputs, attrs, backend }) => {
      const view = backend as WasmBackendView;
      const correct = inputs.correct as tf.TensorInfo;
      const out = view.makeOutput([...correct.shape], 'float32');
      const [from, to] = [heapAddress(view, correct) / 4, heapAddress(view, out) / 4];
      const size = sizeOf(correct.shape);
      const heap = view.wasm.HEAPF32;
      dsgdWeightsReference(heap.subarray(from, from + size), attrs?.alpha as number, heap.subarray(to, to + size));
      return out;
    },
    cpu: ({ inputs, attrs, backend }) => {
      const cpu = backend as CpuBackendView;
      const correct = inputs.correct as tf.TensorInfo;
      const values = cpu.readSync(correct.dataId) as Float32Array;
      const out = new Float32Array(values.length);
      dsgdWeightsReference(values, attrs?.alpha as number, out);
      return cpu.makeTensorInfo([...correct.shape], 'float32', out);
    },
  },
};
