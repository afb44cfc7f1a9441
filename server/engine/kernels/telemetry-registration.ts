// Registration of the telemetry kernels (telemetry-kernels.ts) on wasm and cpu.
import * as tf from '@tensorflow/tfjs';
import { heapAddress, sizeOf, type CpuBackendView, type WasmBackendView } from './backend-views.js';
import { simdKernelsFor } from './simd-kernels.js';
import {
  exampleResiduals, GRADIENT_NORM, groupOffset, HEAD_SUMS, headSumsLength, headSumsReference, NORM_CHUNK, STEP_READOUT,
  stepReadoutReference,
} from './telemetry-kernels.js';

/** The numbered inputs g0, g1, ... in their order. */
const inputList = (inputs: tf.NamedTensorInfoMap): tf.TensorInfo[] =>
  Object.keys(inputs).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))).map((name) => inputs[name] as tf.TensorInfo);

/**
 * Both group kernels as one SIMD product H^T B, B [n, 2 kp] holding each example's residual in
 * its group's column block (kp: classes rounded up to the f32x4 width); the rest in double.
 */
function wasmHeadSums(view: WasmBackendView, inputs: Record<'logits' | 'labels' | 'pooled' | 'correct', tf.TensorInfo>,
  out: tf.TensorInfo): void {
  const [n, d] = inputs.pooled.shape;
  const k = inputs.logits.shape[1];
  const floatsAt = (info: tf.TensorInfo): Float32Array =>
    view.wasm.HEAPF32.slice(heapAddress(view, info) / 4, heapAddress(view, info) / 4 + sizeOf(info.shape));
  const labelStart = heapAddress(view, inputs.labels) / 4;
  const correct = floatsAt(inputs.correct);
  const { lossSum, correctCount, residual } = exampleResiduals(floatsAt(inputs.logits),
    view.wasm.HEAP32.slice(labelStart, labelStart + n), correct, k);
  const blockWidth = 4 * Math.ceil(k / 4);
  const width = 2 * blockWidth;
  const scratch = view.wasm._malloc(4 * (n + d) * width);
  try {
    const products = scratch + 4 * n * width;
    // _malloc may grow the heap and replace HEAPF32: take the view after it.
    const heap = view.wasm.HEAPF32;
    heap.fill(0, scratch / 4, scratch / 4 + n * width);
    for (let i = 0; i < n; i++) {
      const row = scratch / 4 + i * width + correct[i] * blockWidth;
      for (let j = 0; j < k; j++) heap[row + j] = residual[i * k + j];
    }
    // A[a, i] = pooled[i, a]: aRow 4 bytes, aCol one pooled row. Products [d, width].
    simdKernelsFor(view.wasm.asm.memory).matMul(heapAddress(view, inputs.pooled), 4, 4 * d, scratch, 4 * width,
      products, 4 * width, d, n, width, 0);
    // Written straight into the output: a Float64Array of the whole layout plus a set() cost
    // more than the product itself.
    const target = heapAddress(view, out) / 4;
    heap[target] = lossSum;
    heap[target + 1] = correctCount;
    const biases = new Float64Array(2 * k);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < k; j++) biases[correct[i] * k + j] += residual[i * k + j];
    }
    for (const group of [0, 1]) {
      const base = target + groupOffset(d, k, group);
      for (let a = 0; a < d; a++) {
        const source = products / 4 + a * width + group * blockWidth;
        for (let j = 0; j < k; j++) heap[base + a * k + j] = heap[source + j] / n;
      }
      for (let j = 0; j < k; j++) heap[base + d * k + j] = biases[group * k + j] / n;
    }
  } finally {
    view.wasm._free(scratch);
  }
}

function registerWasm(): void {
  const viewOf = (backend: object): WasmBackendView => backend as WasmBackendView;
  tf.registerKernel({
    kernelName: GRADIENT_NORM, backendName: 'wasm',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const view = viewOf(backend);
      const kernels = simdKernelsFor(view.wasm.asm.memory);
      const out = view.makeOutput([], 'float32');
      const target = heapAddress(view, out);
      let total = 0;
      for (const gradient of inputList(inputs)) {
        if (attrs?.squared === true) {
          total += view.wasm.HEAPF32[heapAddress(view, gradient) / 4];
          continue;
        }
        const start = heapAddress(view, gradient);
        const size = sizeOf(gradient.shape);
        for (let done = 0; done < size; done += NORM_CHUNK) {
          kernels.sumOfSquares(start + 4 * done, Math.min(NORM_CHUNK, size - done), target);
          total += view.wasm.HEAPF32[target / 4];
        }
      }
      view.wasm.HEAPF32[target / 4] = Math.sqrt(total);
      return out;
    },
  });
  tf.registerKernel({
    kernelName: HEAD_SUMS, backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const view = viewOf(backend);
      const [logits, labels, pooled, correct] = [inputs.logits, inputs.labels, inputs.pooled, inputs.correct] as tf.TensorInfo[];
      const out = view.makeOutput([headSumsLength(pooled.shape[1], logits.shape[1])], 'float32');
      wasmHeadSums(view, { logits, labels, pooled, correct }, out);
      return out;
    },
  });
  tf.registerKernel({
    kernelName: STEP_READOUT, backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const view = viewOf(backend);
      const [sums, norm] = [inputs.sums, inputs.norm] as tf.TensorInfo[];
      const start = heapAddress(view, sums) / 4;
      const readout = stepReadoutReference(view.wasm.HEAPF32.subarray(start, start + sizeOf(sums.shape)),
        view.wasm.HEAPF32[heapAddress(view, norm) / 4]);
      const out = view.makeOutput([readout.length], 'float32');
      view.wasm.HEAPF32.set(readout, heapAddress(view, out) / 4);
      return out;
    },
  });
}

function registerCpu(): void {
  const cpuOf = (backend: object): CpuBackendView => backend as CpuBackendView;
  const values = (cpu: CpuBackendView, info: tf.TensorInfo): Float32Array => cpu.readSync(info.dataId) as Float32Array;
  tf.registerKernel({
    kernelName: GRADIENT_NORM, backendName: 'cpu',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const cpu = cpuOf(backend);
      let total = 0;
      for (const gradient of inputList(inputs)) {
        if (attrs?.squared === true) total += values(cpu, gradient)[0];
        else for (const value of values(cpu, gradient)) total += value * value;
      }
      return cpu.makeTensorInfo([], 'float32', Float32Array.of(Math.sqrt(total)));
    },
  });
  tf.registerKernel({
    kernelName: HEAD_SUMS, backendName: 'cpu',
    kernelFunc: ({ inputs, backend }) => {
      const cpu = cpuOf(backend);
      const [logits, labels, pooled, correct] = [inputs.logits, inputs.labels, inputs.pooled, inputs.correct] as tf.TensorInfo[];
      const sums = headSumsReference(values(cpu, logits), cpu.readSync(labels.dataId) as Int32Array, values(cpu, pooled),
        values(cpu, correct), pooled.shape[1], logits.shape[1]);
      return cpu.makeTensorInfo([sums.length], 'float32', Float32Array.from(sums));
    },
  });
  tf.registerKernel({
    kernelName: STEP_READOUT, backendName: 'cpu',
    kernelFunc: ({ inputs, backend }) => {
      const cpu = cpuOf(backend);
      const readout = stepReadoutReference(values(cpu, inputs.sums as tf.TensorInfo), values(cpu, inputs.norm as tf.TensorInfo)[0]);
      return cpu.makeTensorInfo([readout.length], 'float32', Float32Array.from(readout));
    },
  });
}

export function registerTelemetryKernels(backend: 'wasm' | 'cpu'): void {
  if (backend === 'wasm') registerWasm(); else registerCpu();
}
