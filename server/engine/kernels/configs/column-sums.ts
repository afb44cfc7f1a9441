// SteadytuneColumnSums: x [rows, cols] -> [cols], the sum over rows that bias and gain
// gradients need, in f32x4 lanes on wasm when cols % 4 == 0 (the loops otherwise).
import type * as tf from '@tensorflow/tfjs';
import { heapAddress, type CpuBackendView, type WasmBackendView } from '../backend-views.js';
import type { EngineKernelConfig } from '../kernel-config.js';
import { columnSumsReference } from '../reference-kernels.js';
import { simdKernelsFor } from '../simd-kernels.js';

export const COLUMN_SUMS = 'SteadytuneColumnSums';

export const columnSumsConfig: EngineKernelConfig = {
  kernelName: COLUMN_SUMS,
  kernelFuncs: {
    wasm: ({ inputs, backend }) => {
      const view = backend as WasmBackendView;
      const kernels = simdKernelsFor(view.wasm.asm.memory);
      const x = inputs.x as tf.TensorInfo;
      const [rows, cols] = x.shape;
      const out = view.makeOutput([cols], 'float32');
      if (cols % 4 === 0) {
        kernels.columnSums(heapAddress(view, x), heapAddress(view, out), rows, cols);
      } else {
        const heap = view.wasm.HEAPF32;
        const start = heapAddress(view, x) / 4;
        const target = heapAddress(view, out) / 4;
        columnSumsReference(heap.subarray(start, start + rows * cols), heap.subarray(target, target + cols), rows, cols);
      }
      return out;
    },
    cpu: ({ inputs, backend }) => {
      const cpu = backend as CpuBackendView;
      const x = inputs.x as tf.TensorInfo;
      const [rows, cols] = x.shape;
      const out = new Float32Array(cols);
      columnSumsReference(cpu.readSync(x.dataId) as Float32Array, out, rows, cols);
      return cpu.makeTensorInfo([cols], 'float32', out);
    },
  },
};
