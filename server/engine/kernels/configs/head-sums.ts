// SteadytuneHeadSums (telemetry-kernels.ts): one micro-batch's [loss sum, correct count, g_W,
// g_C] of the head, the two group gradients DSGD's telemetry compares.
import type * as tf from '@tensorflow/tfjs';
import { heapAddress, sizeOf, type CpuBackendView, type WasmBackendView } from '../backend-views.js';
import type { EngineKernelConfig } from '../kernel-config.js';
import { simdKernelsFor } from '../simd-kernels.js';
import { exampleResiduals, groupOffset, HEAD_SUMS, headSumsLength, headSumsReference } from '../telemetry-kernels.js';

/**
 * Both group kernels as one SIMD product H^T B, B [n, 2 kp] holding each example's residual in
 * its group's column block (kp: classes rounded up to the f32x4 width); the rest in double.
 */
function wasmHeadSums(
  view: WasmBackendView,
  inputs: Record<'logits' | 'labels' | 'pooled' | 'correct', tf.TensorInfo>,
  out: tf.TensorInfo,
): void {
  const [n, d] = inputs.pooled.shape;
  const k = inputs.logits.shape[1];
  const floatsAt = (info: tf.TensorInfo): Float32Array =>
    view.wasm.HEAPF32.slice(heapAddress(view, info) / 4, heapAddress(view, info) / 4 + sizeOf(info.shape));
  const labelStart = heapAddress(view, inputs.labels) / 4;
  const correct = floatsAt(inputs.correct);
  const { lossSum, correctCount, residual } = exampleResiduals(
    floatsAt(inputs.logits),
    view.wasm.HEAP32.slice(labelStart, labelStart + n),
    correct,
    k,
  );
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
    simdKernelsFor(view.wasm.asm.memory).matMul(
      heapAddress(view, inputs.pooled),
      4,
      4 * d,
      scratch,
      4 * width,
      products,
      4 * width,
      d,
      n,
      width,
      0,
    );
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

export const headSumsConfig: EngineKernelConfig = {
  kernelName: HEAD_SUMS,
  kernelFuncs: {
    wasm: ({ inputs, backend }) => {
      const view = backend as WasmBackendView;
      const [logits, labels, pooled, correct] = [inputs.logits, inputs.labels, inputs.pooled, inputs.correct] as tf.TensorInfo[];
      const out = view.makeOutput([headSumsLength(pooled.shape[1], logits.shape[1])], 'float32');
      wasmHeadSums(view, { logits, labels, pooled, correct }, out);
      return out;
    },
    cpu: ({ inputs, backend }) => {
      const cpu = backend as CpuBackendView;
      const values = (info: tf.TensorInfo): Float32Array => cpu.readSync(info.dataId) as Float32Array;
      const [logits, labels, pooled, correct] = [inputs.logits, inputs.labels, inputs.pooled, inputs.correct] as tf.TensorInfo[];
      const sums = headSumsReference(
        values(logits),
        cpu.readSync(labels.dataId) as Int32Array,
        values(pooled),
        values(correct),
        pooled.shape[1],
        logits.shape[1],
      );
      return cpu.makeTensorInfo([sums.length], 'float32', Float32Array.from(sums));
    },
  },
};
