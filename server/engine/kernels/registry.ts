// Registers the engine's own kernels with TF.js under names of their own (the stock kernels
// stay untouched for everything else): SIMD versions on wasm, the reference loops on cpu.
// Ops call them through runFastKernel; a backend without them (native TensorFlow) takes the
// stock path in ops.ts.
import * as tf from '@tensorflow/tfjs';
import { simdKernelsFor, type SimdKernels } from './simd-kernels.js';
import {
  columnSumsReference,
  coversOutput,
  stridedMatMulReference,
  transposeReference,
  type OperandLayout,
  type StridedMatMulPlan,
} from './reference-kernels.js';
import { ADAM_UPDATE, adamReference } from './adam.js';
import { GATHER_ROWS, registerCpuExtras, registerWasmExtras } from './extra-kernels.js';
import { GELU_GRADIENT, GELU_INNER } from './gelu-kernels.js';
import { shareIdentityOnWasm } from './shared-identity.js';
import { DENSE, K_SLICE, packedProduct, registerCpuDense, registerWasmDense } from './dense-products.js';
import { GRADIENT_NORM, HEAD_SUMS, NORM_CHUNK, STEP_READOUT } from './telemetry-kernels.js';
import { registerTelemetryKernels } from './telemetry-registration.js';
import { DSGD_WEIGHTS, registerExampleWeightKernels } from './example-weights.js';
import { heapAddress, sizeOf, type CpuBackendView, type WasmBackendView } from './backend-views.js';

export const STRIDED_MATMUL = 'SteadytuneStridedMatMul';
export const BATCHED_TRANSPOSE = 'SteadytuneBatchedTranspose';
export const COLUMN_SUMS = 'SteadytuneColumnSums';

const FAST_KERNEL_NAMES = [STRIDED_MATMUL, BATCHED_TRANSPOSE, COLUMN_SUMS, ADAM_UPDATE, GELU_INNER, GELU_GRADIENT, GATHER_ROWS, DENSE,
  GRADIENT_NORM, HEAD_SUMS, STEP_READOUT, DSGD_WEIGHTS] as const;
const FAST_BACKENDS = ['wasm', 'cpu'] as const;

const LAYOUT_FIELDS = 5;

export function encodePlan(plan: StridedMatMulPlan): number[] {
  const layout = (l: OperandLayout): number[] => [l.offset, l.outer, l.inner, l.row, l.column];
  return [plan.m, plan.k, plan.n, plan.outerCount, plan.innerCount, ...layout(plan.a), ...layout(plan.b), ...layout(plan.c)];
}

function decodePlan(encoded: number[]): StridedMatMulPlan {
  const layout = (start: number): OperandLayout => {
    const [offset, outer, inner, row, column] = encoded.slice(start, start + LAYOUT_FIELDS);
    return { offset, outer, inner, row, column };
  };
  const [m, k, n, outerCount, innerCount] = encoded;
  return { m, k, n, outerCount, innerCount, a: layout(5), b: layout(10), c: layout(15) };
}

function checkedPlan(attrs: tf.NamedAttrMap | undefined, outShape: number[]): StridedMatMulPlan {
  const plan = decodePlan(attrs?.plan as number[]);
  const size = sizeOf(outShape);
  if (!coversOutput(plan, size)) throw new Error(`${STRIDED_MATMUL}: plan does not cover output [${outShape}]`);
  return plan;
}

/**
 * The SIMD tiles need n % 4 == 0 and contiguous C columns; a batch of products (attention) also
 * contiguous B columns (it reads B in place), a single product packs B and reads it any way.
 */
const simdCanRun = (plan: StridedMatMulPlan): boolean =>
  plan.n % 4 === 0 && plan.c.column === 1 && (plan.outerCount * plan.innerCount === 1 || plan.b.column === 1);

function wasmStridedMatMul(view: WasmBackendView, kernels: SimdKernels, a: tf.TensorInfo, b: tf.TensorInfo,
  plan: StridedMatMulPlan, outShape: number[]): tf.TensorInfo {
  const out = view.makeOutput(outShape, 'float32');
  const [aBase, bBase, cBase] = [heapAddress(view, a), heapAddress(view, b), heapAddress(view, out)];
  if (!simdCanRun(plan)) {
    const heap = view.wasm.HEAPF32;
    const shifted = (layout: OperandLayout, base: number): OperandLayout => ({ ...layout, offset: layout.offset + base / 4 });
    stridedMatMulReference(heap, heap, heap, { ...plan, a: shifted(plan.a, aBase), b: shifted(plan.b, bBase), c: shifted(plan.c, cBase) });
    return out;
  }
  const { m, k, n, a: la, b: lb, c: lc } = plan;
  if (plan.outerCount * plan.innerCount === 1) {
    packedProduct(view, kernels, {
      a: aBase + 4 * la.offset, aRow: 4 * la.row, aCol: 4 * la.column,
      b: bBase + 4 * lb.offset, bRow: 4 * lb.row, bCol: 4 * lb.column,
      c: cBase + 4 * lc.offset, cRow: 4 * lc.row, m, k, n, bias: 0, relu: false,
    });
    return out;
  }
  // A long k (a weight gradient sums over all 2048 tokens) streams all of B once per 4-row
  // tile; slices of K_SLICE rows keep B's panel in L2 across the tiles.
  for (let o = 0; o < plan.outerCount; o++) {
    for (let h = 0; h < plan.innerCount; h++) {
      const a0 = aBase + 4 * (la.offset + o * la.outer + h * la.inner);
      const b0 = bBase + 4 * (lb.offset + o * lb.outer + h * lb.inner);
      const c0 = cBase + 4 * (lc.offset + o * lc.outer + h * lc.inner);
      for (let p = 0; p < k; p += K_SLICE) {
        const slice = Math.min(K_SLICE, k - p);
        kernels.matMul(a0 + 4 * p * la.column, 4 * la.row, 4 * la.column, b0 + 4 * p * lb.row, 4 * lb.row,
          c0, 4 * lc.row, m, slice, n, p > 0 ? 1 : 0);
      }
    }
  }
  return out;
}

function registerWasm(): void {
  const bind = (backend: object): { view: WasmBackendView; kernels: SimdKernels } => {
    const view = backend as WasmBackendView;
    return { view, kernels: simdKernelsFor(view.wasm.asm.memory) };
  };
  const address = heapAddress;
  tf.registerKernel({
    kernelName: STRIDED_MATMUL, backendName: 'wasm',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const { view, kernels } = bind(backend);
      const outShape = attrs?.outShape as number[];
      return wasmStridedMatMul(view, kernels, inputs.a as tf.TensorInfo, inputs.b as tf.TensorInfo, checkedPlan(attrs, outShape), outShape);
    },
  });
  tf.registerKernel({
    kernelName: BATCHED_TRANSPOSE, backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const { view, kernels } = bind(backend);
      const x = inputs.x as tf.TensorInfo;
      const [batch, rows, cols] = x.shape;
      const out = view.makeOutput([batch, cols, rows], 'float32');
      const [source, target] = [address(view, x), address(view, out)];
      for (let t = 0; t < batch; t++) {
        kernels.transpose(source + 4 * t * rows * cols, 4 * cols, target + 4 * t * rows * cols, 4 * rows, rows, cols);
      }
      return out;
    },
  });
  tf.registerKernel({
    kernelName: COLUMN_SUMS, backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const { view, kernels } = bind(backend);
      const x = inputs.x as tf.TensorInfo;
      const [rows, cols] = x.shape;
      const out = view.makeOutput([cols], 'float32');
      if (cols % 4 === 0) {
        kernels.columnSums(address(view, x), address(view, out), rows, cols);
      } else {
        const heap = view.wasm.HEAPF32;
        const start = address(view, x) / 4;
        const target = address(view, out) / 4;
        columnSumsReference(heap.subarray(start, start + rows * cols), heap.subarray(target, target + cols), rows, cols);
      }
      return out;
    },
  });
}

const ADAM_INPUTS = ['param', 'grad', 'm', 'v'] as const;

/**
 * Outputs [param', m', v', sum g^2]. The update runs in chunks of NORM_CHUNK floats so the
 * squares' f32 lanes stay accurate; chunk totals add up in double.
 */
function registerWasmAdam(): void {
  tf.registerKernel({
    kernelName: ADAM_UPDATE, backendName: 'wasm',
    kernelFunc: ({ inputs, attrs, backend }) => {
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
        kernels.adamUpdate(p + at, g + at, m + at, v + at, outParam + at, outM + at, outV + at, squaresAt,
          Math.min(NORM_CHUNK, size - done), ...coefficients);
        total += view.wasm.HEAPF32[squaresAt / 4];
      }
      view.wasm.HEAPF32[squaresAt / 4] = total;
      return [...outputs, squares];
    },
  });
}

function registerCpuAdam(): void {
  tf.registerKernel({
    kernelName: ADAM_UPDATE, backendName: 'cpu',
    kernelFunc: ({ inputs, attrs, backend }) => {
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
  });
}

function registerCpu(): void {
  const valuesOf = (backend: CpuBackendView, info: tf.TensorInfo): Float32Array => backend.readSync(info.dataId) as Float32Array;
  tf.registerKernel({
    kernelName: STRIDED_MATMUL, backendName: 'cpu',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const cpu = backend as CpuBackendView;
      const outShape = attrs?.outShape as number[];
      const plan = checkedPlan(attrs, outShape);
      const out = new Float32Array(sizeOf(outShape));
      stridedMatMulReference(valuesOf(cpu, inputs.a as tf.TensorInfo), valuesOf(cpu, inputs.b as tf.TensorInfo), out, plan);
      return cpu.makeTensorInfo(outShape, 'float32', out);
    },
  });
  tf.registerKernel({
    kernelName: BATCHED_TRANSPOSE, backendName: 'cpu',
    kernelFunc: ({ inputs, backend }) => {
      const cpu = backend as CpuBackendView;
      const x = inputs.x as tf.TensorInfo;
      const [batch, rows, cols] = x.shape;
      const out = new Float32Array(batch * rows * cols);
      transposeReference(valuesOf(cpu, x), out, batch, rows, cols);
      return cpu.makeTensorInfo([batch, cols, rows], 'float32', out);
    },
  });
  tf.registerKernel({
    kernelName: COLUMN_SUMS, backendName: 'cpu',
    kernelFunc: ({ inputs, backend }) => {
      const cpu = backend as CpuBackendView;
      const x = inputs.x as tf.TensorInfo;
      const [rows, cols] = x.shape;
      const out = new Float32Array(cols);
      columnSumsReference(valuesOf(cpu, x), out, rows, cols);
      return cpu.makeTensorInfo([cols], 'float32', out);
    },
  });
}

let registered = false;
let enabled = true;

/** Turns the fast paths off (true: on) so benchmarks and tests can compare them with the stock ops. */
export function setFastKernelsEnabled(on: boolean): void {
  enabled = on;
}

/** Registers the kernels once per process (TF.js's kernel registry is global). */
export function registerFastKernels(): void {
  if (registered) return;
  registered = true;
  if (tf.getKernel(STRIDED_MATMUL, 'wasm') === undefined) {
    registerWasm();
    registerWasmAdam();
    registerWasmExtras();
    registerWasmDense();
    registerTelemetryKernels('wasm');
    registerExampleWeightKernels('wasm');
  }
  if (tf.getKernel(STRIDED_MATMUL, 'cpu') === undefined) {
    registerCpu();
    registerCpuAdam();
    registerCpuExtras();
    registerCpuDense();
    registerTelemetryKernels('cpu');
    registerExampleWeightKernels('cpu');
  }
}

/** Whether the current backend has the engine's kernels (wasm and cpu do; native TF does not). */
export function fastKernelsActive(): boolean {
  if (!enabled) return false;
  registerFastKernels();
  const backend = tf.getBackend();
  if (backend === 'wasm') shareIdentityOnWasm(() => enabled);
  return (FAST_BACKENDS as readonly string[]).includes(backend) &&
    FAST_KERNEL_NAMES.every((name) => tf.getKernel(name, backend) !== undefined);
}
