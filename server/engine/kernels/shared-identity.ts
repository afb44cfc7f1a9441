// TF.js clones every tensor a kernel saves for the backward pass (engine.saveTensorsForBackwardMode
// runs the Identity kernel), and wasm's Identity copies the data: ~210 copies a transformer step,
// 3% of it (bench/README.md). The cpu and webgl backends share the buffer instead (one more
// reference). Tensors are immutable and every kernel, stock or ours, writes a fresh output, so
// sharing is safe on wasm too; this replaces wasm's Identity with the sharing version while the
// engine's kernels are on (off, it copies as before). The wasm backend's own internal identity
// calls (inside Transpose and the reductions) bind the copying function directly and are untouched.
import * as tf from '@tensorflow/tfjs';

interface RefCountingBackend {
  incRef(dataId: tf.DataId): void;
}

let swapped = false;

/** Idempotent; a no-op until the wasm backend's kernels are registered (its module imported). */
export function shareIdentityOnWasm(active: () => boolean): void {
  if (swapped) return;
  const stock = tf.getKernel('Identity', 'wasm');
  if (stock === undefined) return;
  swapped = true;
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({
    ...stock,
    kernelFunc: (args) => {
      const x = args.inputs.x as tf.TensorInfo;
      if (!active() || x.dtype === 'string') return stock.kernelFunc(args);
      (args.backend as unknown as RefCountingBackend).incRef(x.dataId);
      return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
    },
  });
}
