// Step throughput per method, model and backend, in one process so the ratios share a machine
// state. Variants are interleaved in rounds, each round in a new seeded order (A C B, B A C,
// ...), so drift from other load on the machine spreads over all of them and none always
// follows the same one; each figure is the median step time.
//
//   npm run bench:throughput -- [--quick] [--backends=wasm,cpu] [--models=mlp,transformer]
//                               [--cpu-transformer]   (the transformer on cpu: ~10 s/step)
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../server/engine/backend.js';
import { disposeBatch, makeBatch } from '../../server/engine/batching.js';
import { createMethod } from '../../server/engine/methods/index.js';
import type { TrainingMethod } from '../../server/engine/methods/method.js';
import type { ClassifierModel } from '../../server/engine/models/classifier.js';
import { createOptimizer, type ParameterOptimizer } from '../../server/engine/optimizer.js';
import { optimizerStep } from '../../server/engine/step.js';
import { seededRandom, shuffledIndices } from '../../server/engine/random.js';
import type { BackendName, ExampleSet, MethodSpec, RunSpec } from '../../server/engine/types.js';
import {
  BATCH,
  DSGD,
  OPTIMIZER,
  TOTAL_STEPS,
  mlpWorkload as peerMlpWorkload,
  transformerWorkload as peerTransformerWorkload,
  type Workload as PeerWorkload,
} from '../peer/workloads.js';

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(`--${name}`);
const listOption = (name: string, fallback: string[]): string[] =>
  args
    .find((arg) => arg.startsWith(`--${name}=`))
    ?.split('=')[1]
    .split(',') ?? fallback;

interface Workload {
  readonly label: string;
  readonly build: (seed: number) => ClassifierModel;
  readonly data: ExampleSet;
  readonly rounds: number;
  readonly stepsPerRound: number;
}

/** Each variant: how one optimizer step runs. */
interface Variant {
  readonly label: string;
  readonly method: MethodSpec;
  /** 'bare': method gradient + update only; 'trainer': the trainer's optimizerStep with telemetry. */
  readonly path: 'bare' | 'trainer';
  readonly fullConflict?: boolean;
}

const VARIANTS: readonly Variant[] = [
  { label: 'FFT', method: { kind: 'fft' }, path: 'bare' },
  { label: 'DSGD', method: DSGD, path: 'bare' },
  { label: 'DSGD + head telemetry', method: DSGD, path: 'trainer' },
  { label: 'DSGD + full conflict', method: DSGD, path: 'trainer', fullConflict: true },
  { label: 'PCGrad', method: { kind: 'pcgrad' }, path: 'bare' },
];

// The models and data are bench/peer's, so the PyTorch comparison times exactly these shapes.
function withRounds(workload: PeerWorkload, rounds: number, stepsPerRound: number): Workload {
  return { label: workload.label, build: workload.build, data: workload.data, rounds, stepsPerRound };
}

// Rounds: enough 2 ms wasm steps that the medians settle to ~1%; cpu steps are 30x longer.
function mlpWorkload(quick: boolean, backend: BackendName): Workload {
  return withRounds(peerMlpWorkload(), quick ? 4 : backend === 'wasm' ? 150 : 30, quick ? 3 : 4);
}

function transformerWorkload(quick: boolean): Workload {
  return withRounds(peerTransformerWorkload(), quick ? 1 : 6, 2);
}

interface Runner {
  readonly variant: Variant;
  readonly model: ClassifierModel;
  readonly method: TrainingMethod;
  readonly optimizer: ParameterOptimizer;
  readonly times: number[];
  step: number;
}

async function runStep(runner: Runner, workload: Workload): Promise<void> {
  const { variant, model, method, optimizer } = runner;
  const count = workload.data.labels.length;
  const first = (runner.step * BATCH) % count;
  const indices = Int32Array.from({ length: BATCH }, (_, i) => (first + i) % count);
  const started = performance.now();
  if (variant.path === 'bare') {
    const batch = makeBatch(workload.data.inputs, workload.data.labels, indices);
    const loss = tf.tidy(() => {
      const { grads, forward } = method.gradient({
        model,
        batch,
        step: runner.step,
        totalSteps: TOTAL_STEPS,
        dropoutSeed: runner.step,
        noiseSeed: runner.step,
      });
      optimizer.applyGradients(grads, OPTIMIZER.learningRate);
      return tf.sum(forward.correct);
    });
    await loss.data();
    loss.dispose();
    disposeBatch(batch);
  } else {
    const spec: RunSpec = {
      model: { family: 'mlp', hiddenUnits: [], dropout: 0 },
      method: variant.method,
      optimizer: OPTIMIZER,
      batchSize: BATCH,
      gradientAccumulation: 1,
      epochs: 1,
      seed: 7,
      fullConflictEvery: variant.fullConflict ? 1 : 0,
    };
    const result = optimizerStep({
      model,
      method,
      optimizer,
      spec,
      train: workload.data,
      microBatches: [indices],
      firstMicroBatch: runner.step,
      step: runner.step,
      totalSteps: TOTAL_STEPS,
      learningRate: OPTIMIZER.learningRate,
      withFullConflict: variant.fullConflict === true,
    });
    await result.readout.data();
    result.readout.dispose();
  }
  runner.times.push(performance.now() - started);
  runner.step += 1;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

async function measure(workload: Workload, backend: BackendName): Promise<void> {
  // One model and optimizer for every variant: with a model each, where their tensors landed
  // in memory moved the ratios by a few percent (a step's cost does not depend on the values).
  const model = workload.build(42);
  const optimizer = createOptimizer(OPTIMIZER, model.trainable);
  const runners: Runner[] = VARIANTS.map((variant) => ({
    variant,
    model,
    method: createMethod(variant.method),
    optimizer,
    times: [],
    step: 0,
  }));
  const parameters = runners[0].model.trainable.reduce((sum, variable) => sum + variable.size, 0);
  for (const runner of runners) {
    await runStep(runner, workload); // warm-up: kernel setup, first allocations
    runner.times.length = 0;
  }
  const tensorsBefore = tf.memory().numTensors;
  const order = seededRandom(11);
  for (let round = 0; round < workload.rounds; round++) {
    // A fresh seeded order each round: a fixed order made FFT always follow PCGrad's larger
    // working set and read ~3% slow, which biased every ratio against it.
    for (const index of shuffledIndices(runners.length, order)) {
      const runner = runners[index];
      for (let i = 0; i < workload.stepsPerRound; i++) await runStep(runner, workload);
    }
  }
  const leaked = tf.memory().numTensors - tensorsBefore;
  const baseline = median(runners[0].times);
  console.log(`\n### ${workload.label} (${(parameters / 1e6).toFixed(2)}M params), batch ${BATCH}, ${backend}`);
  console.log('| method | ms/step (median) | steps/s | / FFT | steps |');
  console.log('|---|---:|---:|---:|---:|');
  for (const runner of runners) {
    const ms = median(runner.times);
    console.log(
      `| ${runner.variant.label} | ${ms.toFixed(1)} | ${(1000 / ms).toFixed(2)} | ${(ms / baseline).toFixed(2)} | ${runner.times.length} |`,
    );
  }
  if (leaked !== 0) console.log(`(tensor count changed by ${leaked} during measurement)`);
  for (const runner of runners) {
    runner.method.dispose?.();
  }
  optimizer.dispose();
  model.dispose();
}

async function main(): Promise<void> {
  const quick = flag('quick');
  const backends = listOption('backends', ['tensorflow', 'wasm', 'cpu']) as BackendName[];
  const models = listOption('models', ['mlp', 'transformer']);
  const cpus = os.cpus();
  console.log(`# steadytune throughput — ${new Date().toISOString()}`);
  console.log(`CPU: ${cpus[0]?.model ?? 'unknown'} x${cpus.length}; Node ${process.version}; tfjs ${tf.version.tfjs}`);
  console.log(
    `load average at start: ${os
      .loadavg()
      .map((load) => load.toFixed(2))
      .join(' ')}`,
  );
  for (const backend of backends) {
    try {
      const selection = await selectBackend(backend);
      console.log(`\n## backend ${selection.name}`);
    } catch (error) {
      console.log(`\n## backend ${backend}: skipped (${error instanceof Error ? error.message.split(':')[0] : error})`);
      continue;
    }
    if (models.includes('mlp')) await measure(mlpWorkload(quick, backend), backend);
    if (models.includes('transformer')) {
      if (backend === 'cpu' && !flag('cpu-transformer')) {
        console.log('\n(transformer on cpu skipped: ~10 s/step; pass --cpu-transformer to include it)');
      } else {
        await measure(transformerWorkload(quick), backend);
      }
    }
  }
  console.log(
    `\nload average at end: ${os
      .loadavg()
      .map((load) => load.toFixed(2))
      .join(' ')}`,
  );
}

await main();
