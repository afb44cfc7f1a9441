// Registration of the element-wise GELU kernels (gelu-kernels.ts) and of a row gather: wasm's
// GatherV2 takes ~5 ms for 2,048 rows of a [5000, 128] table (a per-element path); copying whole
// rows is ~0.1 ms.
import * as tf from '@tensorflow/tfjs';
import { heapAddress, sizeOf, type CpuBackendView, type WasmBackendView } from './backend-views.js';
import { GELU_GRADIENT, GELU_INNER, geluGradientReference, geluInnerReference } from './gelu-kernels.js';
import { simdKernelsFor } from './simd-kernels.js';

export const GATHER_ROWS = 'SteadytuneGatherRows';

function checkedRow(id: number, rows: number): number {
  if (!(id >= 0 && id < rows)) throw new Error(`${GATHER_ROWS}: id ${id} outside [0, ${rows})`);
  return id;
}

export function registerWasmExtras(): void {
  const viewOf = (backend: object): WasmBackendView => backend as WasmBackendView;
  tf.registerKernel({
    kernelName: GELU_INNER, backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const view = viewOf(backend);
      const x = inputs.x as tf.TensorInfo;
      const out = view.makeOutput([...x.shape], 'float32');
      simdKernelsFor(view.wasm.asm.memory).geluInner(heapAddress(view, x), heapAddress(view, out), sizeOf(x.shape));
      return out;
    },
  });
  tf.registerKernel({
    kernelName: GELU_GRADIENT, backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const view = viewOf(backend);
      const [dy, x, gate] = [inputs.dy, inputs.x, inputs.gate] as tf.TensorInfo[];
      const out = view.makeOutput([...x.shape], 'float32');
      simdKernelsFor(view.wasm.asm.memory).geluGradient(
        heapAddress(view, dy), heapAddress(view, x), heapAddress(view, gate), heapAddress(view, out), sizeOf(x.shape));
      return out;
    },
  });
  tf.registerKernel({
    kernelName: GATHER_ROWS, backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const view = viewOf(backend);
      const [table, ids] = [inputs.table, inputs.ids] as tf.TensorInfo[];
      const [rows, width] = table.shape;
      const count = sizeOf(ids.shape);
      const out = view.makeOutput([count, width], 'float32');
      const { HEAPF32: floats, HEAP32: ints } = view.wasm;
      const [tableStart, idStart, outStart] = [table, ids, out].map((info) => heapAddress(view, info) / 4);
      for (let i = 0; i < count; i++) {
        const source = tableStart + checkedRow(ints[idStart + i], rows) * width;
        floats.copyWithin(outStart + i * width, source, source + width);
      }
      return out;
    },
  });
}

export function registerCpuExtras(): void {
  const values = (cpu: CpuBackendView, info: tf.TensorInfo): Float32Array => cpu.readSync(info.dataId) as Float32Array;
  tf.registerKernel({
    kernelName: GELU_INNER, backendName: 'cpu',
    kernelFunc: ({ inputs, backend }) => {
      const cpu = backend as CpuBackendView;
      const x = inputs.x as tf.TensorInfo;
      const out = new Float32Array(sizeOf(x.shape));
      geluInnerReference(values(cpu, x), out);
      return cpu.makeTensorInfo([...x.shape], 'float32', out);
    },
  });
  tf.registerKernel({
    kernelName: GELU_GRADIENT, backendName: 'cpu',
    kernelFunc: ({ inputs, backend }) => {
      const cpu = backend as CpuBackendView;
      const [dy, x, gate] = [inputs.dy, inputs.x, inputs.gate] as tf.TensorInfo[];
      const out = new Float32Array(sizeOf(x.shape));
      geluGradientReference(values(cpu, dy), values(cpu, x), values(cpu, gate), out);
      return cpu.makeTensorInfo([...x.shape], 'float32', out);
    },
  });
  tf.registerKernel({
    kernelName: GATHER_ROWS, backendName: 'cpu',
    kernelFunc: ({ inputs, backend }) => {
      const cpu = backend as CpuBackendView;
      const [table, ids] = [inputs.table, inputs.ids] as tf.TensorInfo[];
      const [rows, width] = table.shape;
      const tableValues = values(cpu, table);
      const idValues = cpu.readSync(ids.dataId) as Int32Array;
      const out = new Float32Array(idValues.length * width);
      idValues.forEach((id, i) => out.set(tableValues.subarray(checkedRow(id, rows) * width, (id + 1) * width), i * width));
      return cpu.makeTensorInfo([idValues.length, width], 'float32', out);
    },
  });
}
