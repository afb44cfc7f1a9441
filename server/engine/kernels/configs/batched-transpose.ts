// SteadytuneBatchedTranspose: [batch, rows, cols] -> [batch, cols, rows]. The wasm backend's
// Transpose of power-of-two shapes is ~10x slower than of their neighbours (cache-set conflicts
// from 8 KB strides); the SIMD version moves 8-row tiles.
import type * as tf from '@tensorflow/tfjs';
import { heapAddress, type CpuBackendView, type WasmBackendView } from '../backend-views.js';
import type { EngineKernelConfig } from '../kernel-config.js';
import { transposeReference } from '../reference-kernels.js';
import { simdKernelsFor } from '../simd-kernels.js';

export const BATCHED_TRANSPOSE = 'SteadytuneBatchedTranspose';

export const batchedTransposeConfig: EngineKernelConfig = {
  kernelName: BATCHED_TRANSPOSE,
  kernelFuncs: {
    wasm: ({ inputs, backend }) => {
      const view = backend as WasmBackendView;
      const kernels = simdKernelsFor(view.wasm.asm.memory);
      const x = inputs.x as tf.TensorInfo;
      const [batch, rows, cols] = x.shape;
      const out = view.makeOutput([batch, cols, rows], 'float32');
      const [source, target] = [heapAddress(view, x), heapAddress(view, out)];
      for (let t = 0; t < batch; t++) {
        kernels.transpose(source + 4 * t * rows * cols, 4 * cols, target + 4 * t * rows * cols, 4 * rows, rows, cols);
      }
      return out;
    },
    cpu: ({ inputs, backend }) => {
      const cpu = backend as CpuBackendView;
      const x = inputs.x as tf.TensorInfo;
      const [batch, rows, cols] = x.shape;
      const out = new Float32Array(batch * rows * cols);
      transposeReference(cpu.readSync(x.dataId) as Float32Array, out, batch, rows, cols);
      return cpu.makeTensorInfo([batch, cols, rows], 'float32', out);
    },
  },
};
