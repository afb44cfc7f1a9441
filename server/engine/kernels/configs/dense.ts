// SteadytuneDense (dense-products.ts): a dense layer's forward act(x W + b) in one kernel,
// through packed B panels on wasm (XNNPACK's fused matMul does the same at ~0.75x the speed).
import type * as tf from '@tensorflow/tfjs';
import { heapAddress, sizeOf, type CpuBackendView, type WasmBackendView } from '../backend-views.js';
import { DENSE, denseReference, packedProduct } from '../dense-products.js';
import type { EngineKernelConfig } from '../kernel-config.js';
import { simdKernelsFor } from '../simd-kernels.js';

export const denseConfig: EngineKernelConfig = {
  kernelName: DENSE,
  kernelFuncs: {
    wasm: ({ inputs, attrs, backend }) => {
      const view = backend as WasmBackendView;
      const [x, w, bias] = [inputs.x, inputs.w, inputs.bias] as tf.TensorInfo[];
      const [m, k] = x.shape;
      const n = w.shape[1];
      const out = view.makeOutput([m, n], 'float32');
      if (n % 4 !== 0) {
        // The tiles cover 4 columns at a time; other widths (ops.ts never sends them) take the loops.
        const heap = view.wasm.HEAPF32;
        const at = (info: tf.TensorInfo, size: number): Float32Array =>
          heap.subarray(heapAddress(view, info) / 4, heapAddress(view, info) / 4 + size);
        denseReference(at(x, m * k), at(w, k * n), at(bias, n), at(out, m * n), m, k, n, attrs?.activation === 'relu');
        return out;
      }
      packedProduct(view, simdKernelsFor(view.wasm.asm.memory), {
        a: heapAddress(view, x),
        aRow: 4 * k,
        aCol: 4,
        b: heapAddress(view, w),
        bRow: 4 * n,
        bCol: 4,
        c: heapAddress(view, out),
        cRow: 4 * n,
        m,
        k,
        n,
        bias: heapAddress(view, bias),
        relu: attrs?.activation === 'relu',
      });
      return out;
    },
    cpu: ({ inputs, attrs, backend }) => {
      const cpu = backend as CpuBackendView;
      const [x, w, bias] = [inputs.x, inputs.w, inputs.bias] as tf.TensorInfo[];
      const values = (info: tf.TensorInfo): Float32Array => cpu.readSync(info.dataId) as Float32Array;
      const [m, k] = x.shape;
      const n = w.shape[1];
      const out = new Float32Array(sizeOf([m, n]));
      denseReference(values(x), values(w), values(bias), out, m, k, n, attrs?.activation === 'relu');
      return cpu.makeTensorInfo([m, n], 'float32', out);
    },
  },
};
