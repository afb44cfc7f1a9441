// Where an engine step's time goes, kernel by kernel: every kernel the backend registered is
// wrapped with a timer (wasm and cpu kernels run synchronously, so wall time per call is the
// kernel's own time). What is left of the step is TF.js's per-op bookkeeping in JS.
//
//   node --import tsx bench/peer/profile.ts [--backend=wasm] [--models=mlp,transformer] [--steps=5]
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../server/engine/backend.js';
import type { BackendName } from '../../server/engine/types.js';
import { registerFastKernels } from '../../server/engine/kernels/index.js';
import { median } from './peer-stats.js';
import { engineRunner, mlpWorkload, transformerWorkload, type Workload } from './workloads.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => args.find((arg) => arg.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;

interface KernelTotals {
  ms: number;
  calls: number;
}

const byKernel = new Map<string, KernelTotals>();
const byShape = new Map<string, KernelTotals>();
let recording = false;

function shapeKey(inputs: tf.NamedTensorInfoMap): string {
  return Object.values(inputs)
    .map((info) => (info === undefined ? '-' : `[${info.shape.join(',')}]`))
    .join(' ');
}

function add(map: Map<string, KernelTotals>, key: string, ms: number): void {
  const totals = map.get(key) ?? { ms: 0, calls: 0 };
  totals.ms += ms;
  totals.calls += 1;
  map.set(key, totals);
}

/** Wraps each registered kernel of `backend` with a timer (kernel configs are shared objects). */
function instrument(backend: string): void {
  for (const config of tf.getKernelsForBackend(backend)) {
    const original = config.kernelFunc;
    const name = config.kernelName;
    const timed: tf.KernelFunc = (params) => {
      if (!recording) return original(params);
      const started = performance.now();
      const result = original(params);
      const ms = performance.now() - started;
      add(byKernel, name, ms);
      add(byShape, `${name} ${shapeKey(params.inputs)}`, ms);
      return result;
    };
    (config as { kernelFunc: tf.KernelFunc }).kernelFunc = timed;
  }
}

function report(title: string, map: Map<string, KernelTotals>, steps: number, stepMs: number, limit: number): void {
  const rows = [...map.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, limit);
  console.log(`\n${title}`);
  console.log('| kernel | ms/step | % of step | calls/step |');
  console.log('|---|---:|---:|---:|');
  for (const [key, totals] of rows) {
    const ms = totals.ms / steps;
    console.log(`| ${key} | ${ms.toFixed(2)} | ${((100 * ms) / stepMs).toFixed(1)} | ${(totals.calls / steps).toFixed(0)} |`);
  }
}

async function profile(workload: Workload, steps: number): Promise<void> {
  const runner = engineRunner(workload);
  for (let i = 0; i < 3; i++) await runner.step();
  const plain: number[] = [];
  for (let i = 0; i < steps; i++) plain.push(await runner.step());
  byKernel.clear();
  byShape.clear();
  recording = true;
  const timed: number[] = [];
  for (let i = 0; i < steps; i++) timed.push(await runner.step());
  recording = false;
  runner.dispose();
  const stepMs = median(timed);
  const kernelMs = [...byKernel.values()].reduce((sum, totals) => sum + totals.ms, 0) / steps;
  const calls = [...byKernel.values()].reduce((sum, totals) => sum + totals.calls, 0) / steps;
  console.log(`\n## ${workload.label}: ${median(plain).toFixed(1)} ms/step uninstrumented, ${stepMs.toFixed(1)} instrumented`);
  console.log(`kernels ${kernelMs.toFixed(1)} ms in ${calls.toFixed(0)} calls; outside kernels ${(stepMs - kernelMs).toFixed(1)} ms`);
  report('By kernel', byKernel, steps, stepMs, 25);
  report('By kernel and input shapes', byShape, steps, stepMs, 30);
}

async function main(): Promise<void> {
  const backend = option('backend', 'wasm') as BackendName;
  const models = option('models', 'mlp,transformer').split(',');
  const steps = Number(option('steps', '5'));
  await selectBackend(backend);
  registerFastKernels();
  instrument(tf.getBackend());
  console.log(
    `# kernel profile, backend ${tf.getBackend()}, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  if (models.includes('mlp')) await profile(mlpWorkload(), steps * 10);
  if (models.includes('transformer')) await profile(transformerWorkload(), steps);
}

await main();
