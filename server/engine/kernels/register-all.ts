// The engine's own TF.js kernels, registered from one list under names of their own (the stock
// kernels stay untouched for everything else): SIMD versions on wasm, the reference loops on
// cpu. Each kernel's config is a file in configs/. Ops call them through fast-ops.ts; a backend
// without them (native TensorFlow) takes the stock path in ops.ts.
import * as tf from '@tensorflow/tfjs';
import { adamUpdateConfig } from './configs/adam-update.js';
import { batchedTransposeConfig } from './configs/batched-transpose.js';
import { columnSumsConfig } from './configs/column-sums.js';
import { denseConfig } from './configs/dense.js';
import { dsgdWeightsConfig } from './configs/dsgd-weights.js';
import { gatherRowsConfig } from './configs/gather-rows.js';
import { geluGradientConfig } from './configs/gelu-gradient.js';
import { geluInnerConfig } from './configs/gelu-inner.js';
import { gradientNormConfig } from './configs/gradient-norm.js';
import { headSumsConfig } from './configs/head-sums.js';
import { stepReadoutConfig } from './configs/step-readout.js';
import { stridedMatMulConfig } from './configs/strided-matmul.js';
import { KERNEL_BACKENDS, type EngineKernelConfig } from './kernel-config.js';
import { shareIdentityOnWasm } from './shared-identity.js';

/** Every kernel of the engine; the fast paths are active on a backend only if all are there. */
const ENGINE_KERNELS: readonly EngineKernelConfig[] = [
  // Products and layout (ops.ts: matMul, attention, transposes, bias gradients).
  stridedMatMulConfig,
  batchedTransposeConfig,
  columnSumsConfig,
  // The optimizer step (optimizer.ts).
  adamUpdateConfig,
  // Transformer layers: GELU both ways, embedding rows, dense forward.
  geluInnerConfig,
  geluGradientConfig,
  gatherRowsConfig,
  denseConfig,
  // Per-step telemetry (step.ts).
  gradientNormConfig,
  headSumsConfig,
  stepReadoutConfig,
  // DSGD's per-example weights (methods/dsgd.ts).
  dsgdWeightsConfig,
];

let registered = false;
let enabled = true;

/** Turns the fast paths off (true: on) so benchmarks and tests can compare them with the stock ops. */
export function setFastKernelsEnabled(on: boolean): void {
  enabled = on;
}

/**
 * Registers the kernels once per process (TF.js's kernel registry is global); a backend that
 * already has them (registered by another copy of this module) is left as it is.
 */
export function registerFastKernels(): void {
  if (registered) return;
  registered = true;
  for (const backendName of KERNEL_BACKENDS) {
    if (tf.getKernel(ENGINE_KERNELS[0].kernelName, backendName) !== undefined) continue;
    for (const { kernelName, kernelFuncs } of ENGINE_KERNELS) {
      tf.registerKernel({ kernelName, backendName, kernelFunc: kernelFuncs[backendName] });
    }
  }
}

/** Whether the current backend has the engine's kernels (wasm and cpu do; native TF does not). */
export function fastKernelsActive(): boolean {
  if (!enabled) return false;
  registerFastKernels();
  const backend = tf.getBackend();
  if (backend === 'wasm') shareIdentityOnWasm(() => enabled);
  return (
    (KERNEL_BACKENDS as readonly string[]).includes(backend) &&
    ENGINE_KERNELS.every(({ kernelName }) => tf.getKernel(kernelName, backend) !== undefined)
  );
}
