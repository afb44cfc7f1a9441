// The dense products of the transformer step, kernel against kernel, at the real shapes:
// XNNPACK (tf.matMul / tf.fused.matMul on wasm) and builds of gemm.ts, with and without
// relaxed-SIMD FMA. Variants run interleaved (one call each per round) and medians are reported,
// so other load on the machine falls on all of them alike. "packed" times include packing B.
//
//   node --import tsx bench/peer/matmul.ts [--rounds=30]
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../server/engine/backend.js';
import { heapAddress, type WasmBackendView } from '../../server/engine/kernels/backend-views.js';
import {
  buildGemm,
  buildPackedGemm,
  buildPackPanels,
  INIT_FROM_BIAS,
  INIT_ZERO,
  type GemmShape,
} from '../../server/engine/kernels/gemm.js';
import { relaxedSimdAvailable } from '../../server/engine/kernels/relaxed-simd.js';
import { assembleModule, type FunctionBuilder } from '../../server/engine/kernels/wasm-assembler.js';
import { median } from './peer-stats.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => args.find((arg) => arg.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;

type Kernel = (...values: number[]) => void;

interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { readonly exports: Record<string, Kernel> };
}

const SHAPES: Array<[number, number, number]> = [
  [2048, 128, 128],
  [2048, 128, 512],
  [2048, 512, 128],
];

async function main(): Promise<void> {
  await selectBackend('wasm');
  const rounds = Number(option('rounds', '30'));
  const fma = relaxedSimdAvailable();
  const strided: Record<string, GemmShape> = { 'in place 4x8 mul+add': { rows: 4, vectors: 2, fma: false } };
  if (fma) {
    strided['in place 4x8 fma'] = { rows: 4, vectors: 2, fma: true };
    strided['in place 6x8 fma'] = { rows: 6, vectors: 2, fma: true };
    strided['in place 2x16 fma'] = { rows: 2, vectors: 4, fma: true };
    strided['in place 3x16 fma'] = { rows: 3, vectors: 4, fma: true };
  }
  const stridedNames = Object.keys(strided);
  const builders: FunctionBuilder[] = stridedNames.map((name, i) => buildGemm(`s${i}`, strided[name]));
  builders.push(buildPackPanels('pack'), buildPackedGemm('packedPlain', false));
  if (fma) builders.push(buildPackedGemm('packedFma', true));
  const wasm = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;
  const view = tf.backend() as unknown as WasmBackendView;
  const kernels = new wasm.Instance(new wasm.Module(assembleModule(builders)), { env: { memory: view.wasm.asm.memory } }).exports;
  console.log(
    `# dense products, wasm, relaxed SIMD ${fma ? 'on' : 'unavailable'}; load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log('| m x k x n | kernel | ms (median) | GFLOP/s | max abs diff vs XNNPACK |');
  console.log('|---|---|---:|---:|---:|');
  for (const [m, k, n] of SHAPES) {
    const a = tf.randomNormal([m, k], 0, 1, 'float32', 1) as tf.Tensor2D;
    const b = tf.randomNormal([k, n], 0, 1, 'float32', 2) as tf.Tensor2D;
    const bT = tf.transpose(b) as tf.Tensor2D;
    const bias = tf.randomNormal([n], 0, 1, 'float32', 3) as tf.Tensor1D;
    const c = tf.zeros([m, n]);
    const packed = tf.zeros([k, n]);
    const [aAt, bAt, bTAt, biasAt, cAt, packedAt] = [a, b, bT, bias, c, packed].map((t) => heapAddress(view, t));
    const reference = tf.matMul(a, b).dataSync();
    const withBias = tf.add(tf.matMul(a, b), bias).dataSync();
    const variants: Array<[string, () => void, ArrayLike<number> | undefined]> = [
      ['XNNPACK matMul', () => tf.tidy(() => tf.matMul(a, b)).dispose(), undefined],
      ['XNNPACK fused + bias', () => tf.tidy(() => tf.fused.matMul({ a, b, bias })).dispose(), undefined],
      ['XNNPACK transpose + matMul (dy W^T)', () => tf.tidy(() => tf.matMul(a, tf.transpose(bT))).dispose(), undefined],
      ...stridedNames.map((name, i): [string, () => void, ArrayLike<number>] => [
        name,
        () => kernels[`s${i}`](aAt, 4 * k, 4, bAt, 4 * n, cAt, 4 * n, m, k, n, 0),
        reference,
      ]),
    ];
    for (const kind of fma ? ['Plain', 'Fma'] : ['Plain']) {
      const label = kind === 'Fma' ? 'fma' : 'mul+add';
      const product = kernels[`packed${kind}`];
      variants.push([
        `packed 4x8 ${label} + bias`,
        () => {
          kernels.pack(bAt, 4 * n, 4, packedAt, k, n);
          product(aAt, 4 * k, 4, packedAt, cAt, 4 * n, m, k, n, INIT_FROM_BIAS, biasAt, 0);
        },
        withBias,
      ]);
      variants.push([
        `packed 4x8 ${label}, B^T read in place`,
        () => {
          kernels.pack(bTAt, 4, 4 * k, packedAt, k, n);
          product(aAt, 4 * k, 4, packedAt, cAt, 4 * n, m, k, n, INIT_ZERO, 0, 0);
        },
        reference,
      ]);
    }
    const diffs = variants.map(([, run, expected]) => {
      if (expected === undefined) return '-';
      run();
      const out = view.wasm.HEAPF32.subarray(cAt / 4, cAt / 4 + m * n);
      let worst = 0;
      for (let e = 0; e < out.length; e++) worst = Math.max(worst, Math.abs(out[e] - expected[e]));
      return worst.toExponential(1);
    });
    const times = variants.map((): number[] => []);
    for (let round = 0; round < rounds + 3; round++) {
      variants.forEach(([, run], i) => {
        const start = performance.now();
        run();
        if (round >= 3) times[i].push(performance.now() - start);
      });
    }
    const flops = 2 * m * k * n;
    variants.forEach(([name], i) => {
      const ms = median(times[i]);
      console.log(`| ${m}x${k}x${n} | ${name} | ${ms.toFixed(3)} | ${(flops / ms / 1e6).toFixed(1)} | ${diffs[i]} |`);
    });
    tf.dispose([a, b, bT, bias, c, packed]);
  }
  console.log(
    `load at end ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
}

await main();
