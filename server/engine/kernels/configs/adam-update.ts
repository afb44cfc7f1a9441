// SteadytuneAdamUpdate (adam.ts): one Adam/AdamW step of one variable. Outputs [param', m', v',
// sum g^2]; the sum of squares is the gradient norm's share of the variable, read in passing.
import type * as tf from '@tensorflow/tfjs';
import { ADAM_UPDATE, adamReference } from '../adam.js';
import { heapAddress, sizeOf, type CpuBackendView, type WasmBackendView } from '../backend-views.js';
import type { EngineKernelConfig } from '../kernel-config.js';
import { simdKernelsFor } from '../simd-kernels.js';
import { NORM_CHUNK } from '../telemetry-kernels.js';

const ADAM_INPUTS = ['param', 'grad', 'm', 'v'] as const;

export const adamUpdateConfig: EngineKernelConfig = {
  kernelName: ADAM_UPDATE,
  kernelFuncs: {
    // The update runs in chunks of NORM_CHUNK floats so the squares' f32 lanes stay accurate;
    // chunk totals add up in double.
    wasm: ({ inputs, attrs, backend }) => {
      const view = backend as WasmBackendView;
      const kernels = simdKernelsFor(view.wasm.asm.memory);
      const param = inputs.param as tf.TensorInfo;
      const outputs = [0, 1, 2].map(() => view.makeOutput([...param.shape], 'float32'));
      const squares = view.makeOutput([], 'float32');
      const address = (info: tf.TensorInfo): number => heapAddress(view, info);
      const [p, g, m, v] = ADAM_INPUTS.map((name) => address(inputs[name] as tf.TensorInfo));
      const [outParam, outM, outV] = outputs.map(address);
      const squaresAt = address(squares);
      const size = sizeOf(param.shape);
      const coefficients = attrs?.coefficients as number[];
      let total = 0;
      for (let done = 0; done < size; done += NORM_CHUNK) {
        const at = 4 * done;
        kernels.adamUpdate(
          p + at,
          g + at,
          m + at,
          v + at,
          outParam + at,
          outM + at,
          outV + at,
          squaresAt,
          Math.min(NORM_CHUNK, size - done),
          ...coefficients,
        );
        total += view.wasm.HEAPF32[squaresAt / 4];
      }
      view.wasm.HEAPF32[squaresAt / 4] = total;
      return [...outputs, squares];
    },
    cpu: ({ inputs, attrs, backend }) => {
      const cpu = backend as CpuBackendView;
      const param = inputs.param as tf.TensorInfo;
      const [p, g, m, v] = ADAM_INPUTS.map((name) => cpu.readSync((inputs[name] as tf.TensorInfo).dataId) as Float32Array);
      const outputs = [0, 1, 2].map(() => new Float32Array(p.length));
      const squares = adamReference(p, g, m, v, outputs[0], outputs[1], outputs[2], attrs?.coefficients as number[]);
      return [
        ...outputs.map((values) => cpu.makeTensorInfo([...param.shape], 'float32', values)),
        cpu.makeTensorInfo([], 'float32', Float32Array.of(squares)),
      ];
    },
  },
};
