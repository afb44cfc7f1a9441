// The mechanism behind DSGD (the paper's Theorem 4.6) on a case built by hand.
//
// Construction: a linear softmax classifier on two inputs x1 = (1, 0), x2 = (0, 1) with kernel
// [[ln 3, 0], [0, ln 3]] and bias 0, so p(x1) = (3/4, 1/4) and p(x2) = (1/4, 3/4). The batch
// holds x1 three times with label 0 and once with label 1, and x2 three times with label 1 and
// once with label 0. The model predicts class 0 for x1 and 1 for x2, so W = {(x1, 1), (x2, 0)}
// and C is the other six. For each input, the per-example gradients (p - y) x^T sum to
// (4p - 3 e_major - e_minor) x^T = 0 because p is exactly (3/4, 1/4): g_W + g_C = 0, while
// g_W = x1 (p1 - e1)^T + x2 (p2 - e0)^T = [[3/4, -3/4], [-3/4, 3/4]] / 8 != 0.
// FFT's update is therefore zero and the run is stalled; DSGD's is (1 - alpha) g_W != 0,
// which lowers the misclassified examples' loss.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { perExampleCrossEntropy } from '../../server/engine/loss.js';
import { createDsgd } from '../../server/engine/methods/dsgd.js';
import { createFft } from '../../server/engine/methods/fft.js';
import type { TrainingMethod } from '../../server/engine/methods/method.js';
import type { ClassifierModel } from '../../server/engine/models/classifier.js';
import { createOptimizer } from '../../server/engine/optimizer.js';
import { train } from '../../server/engine/trainer.js';
import type { StepTelemetry, Weights } from '../../server/engine/types.js';
import { batchOf, featureSet, flatGradient, linearModel, norm, optimizerSpec, runSpec, silentHooks } from '../fixtures/engine-fixtures.js';

const LN3 = Math.log(3);
const stalledSet = featureSet(
  [
    [1, 0],
    [1, 0],
    [1, 0],
    [1, 0],
    [0, 1],
    [0, 1],
    [0, 1],
    [0, 1],
  ],
  [0, 0, 0, 1, 1, 1, 1, 0],
  2,
);
const WRONG = [3, 7];
const stalledModel = (): ClassifierModel =>
  linearModel(
    [
      [LN3, 0],
      [0, LN3],
    ],
    [0, 0],
  );
const parameters = (model: ClassifierModel): number[] => model.trainable.flatMap((v) => Array.from(v.dataSync()));

before(async () => {
  await tf.setBackend('cpu');
});

/** Takes `steps` plain-SGD steps (lr 1) with the method on the stalled batch; returns what changed. */
function sgdSteps(method: TrainingMethod, steps: number) {
  const model = stalledModel();
  const batch = batchOf(stalledSet);
  const optimizer = createOptimizer(optimizerSpec({ kind: 'sgd' }), model.trainable);
  const wrongLoss = (): number =>
    tf.tidy(() => {
      const losses = perExampleCrossEntropy(
        model.head(model.features(batch, { training: false, dropoutSeed: 0 })),
        batch.labels,
      ).dataSync();
      return WRONG.reduce((sum, i) => sum + losses[i], 0) / WRONG.length;
    });
  const fftGradientNorm = (): number =>
    tf.tidy(() => {
      const grads = createFft().gradient({ model, batch, step: 0, totalSteps: 1, dropoutSeed: 0, noiseSeed: 0 }).grads;
      return norm(flatGradient(model, grads));
    });
  const start = { parameters: parameters(model), wrongLoss: wrongLoss(), fftGradientNorm: fftGradientNorm() };
  let firstGradientNorm = 0;
  for (let step = 0; step < steps; step++) {
    tf.tidy(() => {
      const { grads } = method.gradient({ model, batch, step, totalSteps: steps, dropoutSeed: 0, noiseSeed: 0 });
      if (step === 0) firstGradientNorm = norm(flatGradient(model, grads));
      optimizer.applyGradients(grads, 1);
    });
  }
  const end = { parameters: parameters(model), wrongLoss: wrongLoss(), fftGradientNorm: fftGradientNorm() };
  optimizer.dispose();
  model.dispose();
  tf.dispose([batch.inputs, batch.labels]);
  const moved = Math.max(...end.parameters.map((value, i) => Math.abs(value - start.parameters[i])));
  return { start, end, moved, firstGradientNorm };
}

describe('Theorem 4.6: DSGD leaves a state where g_W + g_C = 0', () => {
  it('the construction: FFT gradient ~0, while g_W alone is not', () => {
    const { start, firstGradientNorm } = sgdSteps(createDsgd(0, 'static'), 1); // alpha 0: g = g_W
    assert.ok(start.fftGradientNorm < 1e-6, `FFT gradient norm ${start.fftGradientNorm}`);
    // ||g_W|| = sqrt(4 * 0.75^2) / 8 = 0.1875
    assert.ok(Math.abs(firstGradientNorm - 0.1875) < 1e-6, `||g_W|| = ${firstGradientNorm}`);
  });

  it('an FFT step leaves the parameters numerically unchanged', () => {
    const { moved, start, end } = sgdSteps(createFft(), 1);
    assert.ok(moved < 1e-6, `parameters moved by ${moved}`);
    assert.ok(Math.abs(end.wrongLoss - start.wrongLoss) < 1e-6);
  });

  it("a DSGD step with alpha < 1 strictly lowers the misclassified examples' loss", () => {
    for (const alpha of [0, 0.5, 0.9]) {
      const { start, end, firstGradientNorm } = sgdSteps(createDsgd(alpha, 'static'), 1);
      assert.ok(Math.abs(firstGradientNorm - (1 - alpha) * 0.1875) < 1e-6, `alpha ${alpha}: ${firstGradientNorm}`);
      assert.ok(end.wrongLoss < start.wrongLoss - 1e-3, `alpha ${alpha}: ${start.wrongLoss} -> ${end.wrongLoss}`);
    }
  });

  it('repeated DSGD steps leave the stalled state', () => {
    const { moved, end } = sgdSteps(createDsgd(0.5, 'static'), 20);
    assert.ok(moved > 0.1, `parameters moved by ${moved}`);
    assert.ok(end.fftGradientNorm > 1e-2, `batch gradient norm now ${end.fftGradientNorm}: no longer stationary`);
  });

  it('through the trainer: FFT stays put with head cosine -1, DSGD moves', async () => {
    const initialWeights: Weights = [
      { name: 'head/kernel', shape: [2, 2], values: Float32Array.from([LN3, 0, 0, LN3]) },
      { name: 'head/bias', shape: [2], values: Float32Array.from([0, 0]) },
    ];
    const run = async (method: Parameters<typeof runSpec>[0]) => {
      const steps: StepTelemetry[] = [];
      const outcome = await train(
        {
          spec: runSpec(method, {
            model: { family: 'mlp', hiddenUnits: [], dropout: 0 },
            optimizer: optimizerSpec({ kind: 'sgd', learningRate: 1 }),
            batchSize: 8,
            epochs: 5,
            fullConflictEvery: 1,
          }),
          train: stalledSet,
          validation: stalledSet,
          initialWeights,
        },
        { ...silentHooks, onStep: (telemetry) => steps.push(telemetry) },
      );
      const moved = Math.max(
        ...outcome.weights.flatMap((w, i) => Array.from(w.values, (v, j) => Math.abs(v - initialWeights[i].values[j]))),
      );
      return { steps, moved };
    };
    const fft = await run({ kind: 'fft' });
    assert.ok(fft.moved < 1e-5, `FFT moved ${fft.moved}`);
    assert.ok(Math.abs((fft.steps[0].headConflictCosine ?? 0) + 1) < 1e-5, `head cosine ${fft.steps[0].headConflictCosine}`);
    assert.ok(Math.abs((fft.steps[0].fullConflict?.cosine ?? 0) + 1) < 1e-5);
    assert.equal(fft.steps[0].correctFraction, 0.75);
    const dsgd = await run({ kind: 'dsgd', lambda: 0.5, schedule: 'static' });
    assert.ok(dsgd.moved > 0.05, `DSGD moved ${dsgd.moved}`);
  });
});
