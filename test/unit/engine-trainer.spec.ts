import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { evaluateWeights, predict, train } from '../../server/engine/index.js';
import type { EpochReport, ExampleSet, MethodSpec, RunSpec, StepTelemetry } from '../../server/engine/index.js';
import { seededRandom } from '../../server/engine/random.js';
import { optimizerSpec, randomSet, runSpec, silentHooks } from '../fixtures/engine-fixtures.js';

const trainSet = randomSet(40, 6, 3, 1);
const validationSet = randomSet(30, 6, 3, 2);
const dsgd: MethodSpec = { kind: 'dsgd', lambda: 1, schedule: 'linear' };
const spec = (overrides: Partial<RunSpec> = {}): RunSpec =>
  runSpec(dsgd, { model: { family: 'mlp', hiddenUnits: [16, 8], dropout: 0.2 }, epochs: 2, ...overrides });

async function run(runSpecValue: RunSpec) {
  const steps: StepTelemetry[] = [];
  const epochs: EpochReport[] = [];
  const outcome = await train(
    { spec: runSpecValue, train: trainSet, validation: validationSet },
    { ...silentHooks, onStep: (telemetry) => steps.push(telemetry), onEpochEnd: (report) => epochs.push(report) },
  );
  return { outcome, steps, epochs };
}

describe('train', () => {
  it('emits telemetry every step and a validation at each epoch end', async () => {
    await tf.setBackend('cpu');
    const { outcome, steps, epochs } = await run(
      spec({
        fullConflictEvery: 5,
        optimizer: optimizerSpec({ warmupFraction: 0.1, lrSchedule: 'linear' }),
      }),
    );
    assert.equal(steps.length, 20); // 40 examples / batch 4 = 10 steps per epoch, 2 epochs
    assert.equal(outcome.steps, 20);
    assert.equal(outcome.stopped, false);
    assert.deepEqual(
      steps.map((s) => s.step),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    assert.deepEqual(
      steps.map((s) => s.alpha),
      Array.from({ length: 20 }, (_, i) => i / 20),
    );
    assert.equal(steps[0].learningRate, 0.005); // warmup of ceil(0.1 * 20) = 2 steps
    assert.equal(steps[19].learningRate, 0.01 / 18);
    assert.deepEqual(
      steps.filter((s) => s.fullConflict).map((s) => s.step),
      [5, 10, 15, 20],
    );
    for (const s of steps) {
      assert.ok(s.loss > 0 && Number.isFinite(s.gradientNorm) && s.accuracy === s.correctFraction);
      assert.ok(s.headConflictCosine === null || Math.abs(s.headConflictCosine) <= 1 + 1e-6);
    }
    assert.deepEqual(
      epochs.map((e) => [e.epoch, e.step]),
      [
        [0, 10],
        [1, 20],
      ],
    );
    assert.deepEqual(outcome.validation, epochs[1].validation);
    assert.deepEqual(
      outcome.weights.map((w) => w.name),
      ['mlp/dense0/kernel', 'mlp/dense0/bias', 'mlp/dense1/kernel', 'mlp/dense1/bias', 'head/kernel', 'head/bias'],
    );
  });

  it('keeps the tensor count flat over 50 steps and frees everything at the end', async () => {
    await tf.setBackend('cpu');
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    await train(
      {
        spec: spec({ epochs: 5, batchSize: 2, gradientAccumulation: 2, fullConflictEvery: 3 }),
        train: trainSet,
        validation: validationSet,
      },
      { ...silentHooks, onStep: () => counts.push(tf.memory().numTensors) },
    );
    assert.equal(counts.length, 50);
    assert.equal(new Set(counts.slice(1)).size, 1, `tensor counts ${[...new Set(counts)]}`);
    assert.equal(tf.memory().numTensors, before);
  });

  it('averages micro-batches like plain accumulation', async () => {
    await tf.setBackend('cpu');
    const sgd = optimizerSpec({ kind: 'sgd', learningRate: 0.1 });
    const plain = (overrides: Partial<RunSpec>) => run(runSpec({ kind: 'fft' }, { optimizer: sgd, ...overrides }));
    const whole = await plain({ batchSize: 4 });
    const accumulated = await plain({ batchSize: 2, gradientAccumulation: 2 });
    assert.equal(accumulated.outcome.steps, whole.outcome.steps);
    // Same data order (the permutation does not depend on the batch size), same updates.
    whole.outcome.weights.forEach((weight, i) => {
      const other = accumulated.outcome.weights[i].values;
      weight.values.forEach((value, j) => assert.ok(Math.abs(value - other[j]) < 1e-6, `${weight.name}[${j}]`));
    });
  });

  it('stops when betweenSteps says so', async () => {
    await tf.setBackend('cpu');
    let calls = 0;
    const outcome = await train(
      { spec: spec(), train: trainSet, validation: validationSet },
      { ...silentHooks, betweenSteps: async () => (++calls === 3 ? 'stop' : 'continue') },
    );
    assert.equal(outcome.stopped, true);
    assert.equal(outcome.steps, 3);
    assert.equal(outcome.validation, undefined);
  });

  it('gives bitwise-equal weights for one seed, on cpu and on wasm', async () => {
    for (const backend of ['cpu', 'wasm']) {
      await tf.setBackend(backend);
      assert.equal(tf.getBackend(), backend);
      const first = await run(spec({ seed: 7 }));
      const second = await run(spec({ seed: 7 }));
      assert.deepEqual(second.outcome.weights, first.outcome.weights, backend);
      const otherSeed = await run(spec({ seed: 8 }));
      assert.notDeepEqual(otherSeed.outcome.weights, first.outcome.weights, backend);
    }
    await tf.setBackend('cpu');
  });

  it('reuses a body under a fresh head, and serves evaluate and predict from the weights', async () => {
    await tf.setBackend('cpu');
    const { outcome } = await run(spec());
    const notices: string[] = [];
    const binary = randomSet(20, 6, 2, 4);
    await train(
      { spec: spec({ epochs: 1 }), train: binary, validation: binary, initialWeights: outcome.weights },
      { ...silentHooks, onNotice: (message) => notices.push(message) },
    );
    assert.deepEqual(notices, ['initial weights: kept fresh initialisation for head/kernel, head/bias']);

    const modelSpec = spec().model;
    const evaluation = await evaluateWeights(modelSpec, outcome.weights, validationSet);
    assert.deepEqual(evaluation, outcome.validation);
    const predicted = await predict(modelSpec, outcome.weights, validationSet.inputs);
    assert.equal(predicted.numClasses, 3);
    assert.deepEqual(predicted.predictions, evaluation.predictions);
    for (let i = 0; i < 30; i++) {
      const rowSum = predicted.probabilities.slice(i * 3, i * 3 + 3).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(rowSum - 1) < 1e-5);
    }
  });

  it('trains the transformer family through the same loop (token inputs)', async () => {
    await tf.setBackend('wasm');
    const random = seededRandom(9);
    const count = 16;
    const seqLen = 6;
    // Label = whether token 3 occurs: learnable, and exercises token batches end to end.
    const ids = Int32Array.from({ length: count * seqLen }, () => 1 + Math.floor(random.next() * 5));
    const labels = Int32Array.from({ length: count }, (_, i) => (ids.subarray(i * seqLen, (i + 1) * seqLen).includes(3) ? 1 : 0));
    const tokens: ExampleSet = { inputs: { kind: 'tokens', ids, seqLen, vocabSize: 8 }, labels, numClasses: 2 };
    const steps: StepTelemetry[] = [];
    const outcome = await train(
      {
        spec: runSpec(dsgd, {
          model: { family: 'transformer', dModel: 8, heads: 2, layers: 1, ffDim: 16, pooling: 'cls', dropout: 0.1 },
          epochs: 2,
          fullConflictEvery: 2,
        }),
        train: tokens,
        validation: tokens,
      },
      { ...silentHooks, onStep: (telemetry) => steps.push(telemetry) },
    );
    assert.equal(outcome.steps, 8);
    assert.ok(steps.every((s) => Number.isFinite(s.loss) && Number.isFinite(s.gradientNorm)));
    assert.ok(steps.filter((s) => s.fullConflict).length === 4);
    assert.ok(outcome.weights.some((w) => w.name === 'head/kernel'));
    assert.equal(outcome.validation?.examples, count);
    await tf.setBackend('cpu');
  });
});
