// End-to-end: every available method fine-tunes an MLP on a long-tailed split of the `mnist`
// package's digits (read straight from its JSON, in file order: deterministic) on wasm.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { train } from '../../server/engine/trainer.js';
import type { ExampleSet, MethodSpec } from '../../server/engine/types.js';
import { optimizerSpec, runSpec, silentHooks } from '../fixtures/engine-fixtures.js';

const PIXELS = 784;
const HEAD_COUNT = 300;
/** Per-class count HEAD_COUNT * IMBALANCE^(-k/9): 300 for digit 0 down to 15 for digit 9 (20:1). */
const IMBALANCE = 20;
const TEST_PER_CLASS = 50;
const TEST_OFFSET = 800; // past every training slice; digit 5 has only 863 examples

function digits(): Float32Array[] {
  const packageDir = dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
  return Array.from({ length: 10 }, (_, digit) => {
    const file = join(packageDir, 'src', 'digits', `${digit}.json`);
    return Float32Array.from((JSON.parse(readFileSync(file, 'utf8')) as { data: number[] }).data);
  });
}

function slices(raw: Float32Array[], range: (digit: number) => [number, number]): ExampleSet {
  const rows: Float32Array[] = [];
  const labels: number[] = [];
  raw.forEach((pixels, digit) => {
    const [start, end] = range(digit);
    if (end * PIXELS > pixels.length) throw new Error(`digit ${digit} has only ${pixels.length / PIXELS} examples`);
    for (let i = start; i < end; i++) {
      rows.push(pixels.subarray(i * PIXELS, (i + 1) * PIXELS));
      labels.push(digit);
    }
  });
  const values = new Float32Array(rows.length * PIXELS);
  rows.forEach((row, i) => values.set(row, i * PIXELS));
  return { inputs: { kind: 'features', values, dim: PIXELS }, labels: Int32Array.from(labels), numClasses: 10 };
}

const methods: MethodSpec[] = [
  { kind: 'fft' },
  { kind: 'dsgd', lambda: 1, schedule: 'linear' },
  { kind: 'focal', gamma: 2 },
  { kind: 'pcgrad' },
  { kind: 'noisytune', noise: 0.15 },
  { kind: 'lnsr', noiseStd: 0.1, weight: 0.1 },
  { kind: 'swa', window: 3 },
];

describe('long-tailed mnist digits, MLP on wasm', () => {
  let trainSet: ExampleSet;
  let testSet: ExampleSet;
  before(async () => {
    await tf.setBackend('wasm');
    const raw = digits();
    trainSet = slices(raw, (digit) => [0, Math.round(HEAD_COUNT * IMBALANCE ** (-digit / 9))]);
    testSet = slices(raw, () => [TEST_OFFSET, TEST_OFFSET + TEST_PER_CLASS]);
  });

  for (const method of methods) {
    it(`${method.kind} reaches balanced accuracy well above chance`, async (t) => {
      const started = performance.now();
      const outcome = await train(
        {
          spec: runSpec(method, {
            model: { family: 'mlp', hiddenUnits: [64], dropout: 0.1 },
            optimizer: optimizerSpec({ learningRate: 0.003, warmupFraction: 0.1, lrSchedule: 'linear', weightDecay: 0.01 }),
            batchSize: 32,
            epochs: 8,
            seed: 42,
            fullConflictEvery: 20,
          }),
          train: trainSet,
          validation: testSet,
        },
        silentHooks,
      );
      const validation = outcome.validation;
      assert.ok(validation);
      t.diagnostic(
        `${method.kind}: ${trainSet.labels.length} train / ${testSet.labels.length} test, ` +
          `balanced accuracy ${validation.balancedAccuracy.toFixed(3)}, macro-F1 ${validation.macroF1.toFixed(3)}, ` +
          `tail recall (digit 9) ${validation.perClassRecall[9].toFixed(2)}, verdict ${validation.verdict}, ` +
          `${outcome.steps} steps in ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
      assert.ok(validation.balancedAccuracy > 0.5, `balanced accuracy ${validation.balancedAccuracy}`);
      assert.equal(validation.verdict, 'ok');
    });
  }
});
