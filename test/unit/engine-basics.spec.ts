import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { summarizeEvaluation, meanPairwiseCosine } from '../../server/engine/evaluation.js';
import { perExampleCrossEntropy, perExampleFocal, weightedMean } from '../../server/engine/loss.js';
import { clipByGlobalNorm, createOptimizer, globalNorm, learningRateAt } from '../../server/engine/optimizer.js';
import { deriveSeed, seededRandom, shuffledIndices } from '../../server/engine/random.js';
import { dynamicScaler } from '../../server/engine/scaler.js';
import { optimizerSpec } from '../fixtures/engine-fixtures.js';

const close = (actual: number, expected: number, tolerance = 1e-6): void =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} != ${expected} (±${tolerance})`);

before(async () => {
  await tf.setBackend('cpu');
});

describe('dynamicScaler', () => {
  it('gives lambda * s(p) at p = 0, 0.5, 1 for every schedule', () => {
    const expected: Array<[Parameters<typeof dynamicScaler>[0], [number, number, number]]> = [
      ['linear', [0, 0.4, 0.8]],
      ['cosine', [0, 0.4, 0.8]], // (1 - cos(pi/2)) / 2 = 0.5
      ['linear_descending', [0.8, 0.4, 0]],
      ['static', [0.8, 0.8, 0.8]],
    ];
    for (const [schedule, values] of expected) {
      const alpha = dynamicScaler(schedule, 0.8);
      [0, 0.5, 1].forEach((p, i) => close(alpha(p), values[i], 1e-12));
    }
    close(dynamicScaler('cosine', 1)(0.25), (1 - Math.SQRT1_2) / 2, 1e-12);
    close(dynamicScaler('linear', 1)(1.5), 1, 0); // progress is clamped
  });
});

describe('losses', () => {
  const logits = (): tf.Tensor2D =>
    tf.tensor2d([
      [2, 0.5, -1],
      [2, 0.5, -1],
    ]);
  const labels = (): tf.Tensor1D => tf.tensor1d([0, 2], 'int32');
  it('cross-entropy from logits matches log-sum-exp by hand', () => {
    const values = tf.tidy(() => perExampleCrossEntropy(logits(), labels()).arraySync());
    // lse(2, 0.5, -1) = ln(9.405656) = 2.2413113
    close(values[0], 0.24131129665715711, 1e-6);
    close(values[1], 3.241311296657157, 1e-6);
  });
  it('focal loss matches -(1 - p_y)^gamma log p_y by hand, with class weights', () => {
    const plain = tf.tidy(() => perExampleFocal(logits(), labels(), 2).arraySync());
    close(plain[0], 0.011092750091379824, 1e-6);
    close(plain[1], 2.9927177820795428, 1e-5);
    const weighted = tf.tidy(() => perExampleFocal(logits(), labels(), 0.5, [0.25, 1, 0.25]).arraySync());
    close(weighted[0], 0.027933995307468904, 1e-6);
    close(weighted[1], 0.7943227602007831, 1e-5);
    const gammaZero = tf.tidy(() => perExampleFocal(logits(), labels(), 0).arraySync());
    close(gammaZero[1], 3.241311296657157, 1e-6);
  });
  it('weighted mean divides by the batch size, not the weight sum', () => {
    const value = tf.tidy(() => weightedMean(tf.tensor1d([1, 2, 3, 4]), tf.tensor1d([1, 0.5, 0, 1]), 4).arraySync());
    close(value, (1 + 1 + 0 + 4) / 4);
  });
});

describe('random', () => {
  it('resumes from its state and shuffles to a permutation', () => {
    const first = seededRandom(123);
    first.next();
    const resumed = seededRandom(first.state);
    assert.equal(first.next(), resumed.next());
    const order = shuffledIndices(50, seededRandom(deriveSeed(7, 'data-order', 0)));
    assert.deepEqual(
      [...order].sort((a, b) => a - b),
      Array.from({ length: 50 }, (_, i) => i),
    );
    assert.deepEqual(order, shuffledIndices(50, seededRandom(deriveSeed(7, 'data-order', 0))));
    assert.notDeepEqual(order, shuffledIndices(50, seededRandom(deriveSeed(7, 'data-order', 1))));
    assert.notEqual(deriveSeed(7, 'dropout'), deriveSeed(7, 'init'));
  });
});

describe('optimizer', () => {
  const step = (kind: 'adamw' | 'adam' | 'sgd', gradients: number[], overrides = {}): number[] => {
    const parameter = tf.variable(tf.scalar(1));
    const optimizer = createOptimizer(optimizerSpec({ kind, weightDecay: 0.01, momentum: 0.9, ...overrides }), [parameter]);
    const trace = gradients.map((g) => {
      tf.tidy(() => {
        optimizer.applyGradients({ [parameter.name]: tf.scalar(g) }, 0.1);
      });
      return parameter.dataSync()[0];
    });
    optimizer.dispose();
    parameter.dispose();
    return trace;
  };
  it('adamw: moments with bias correction, decoupled decay (hand numbers)', () => {
    // step 1: m=0.05 v=0.00025 -> update 1; p = 1*(1 - 0.1*0.01) - 0.1 = 0.899
    // step 2: m=-0.005 v=0.00049975, mhat=-0.0263158 vhat=0.2500000 -> p = 0.899*0.999 + 0.1*0.0526316
    const [p1, p2] = step('adamw', [0.5, -0.5]);
    close(p1, 0.899, 1e-6);
    close(p2, 0.899 * 0.999 + (0.1 * (0.005 / 0.19)) / Math.sqrt(0.00049975 / (1 - 0.999 ** 2)), 1e-6);
  });
  it('adam adds L2 to the gradient; sgd uses a momentum buffer', () => {
    // adam step 1: g = 0.5 + 0.01*1; mhat/sqrt(vhat) = 1 -> 0.9
    close(step('adam', [0.5])[0], 0.9, 1e-6);
    // sgd, no decay: buf 0.5 -> p 0.95; buf 0.95 -> p 0.855
    const [p1, p2] = step('sgd', [0.5, 0.5], { weightDecay: 0 });
    close(p1, 0.95, 1e-6);
    close(p2, 0.855, 1e-6);
  });
  it('exports and re-imports its state', () => {
    const parameter = tf.variable(tf.tensor1d([1, 2]));
    const optimizer = createOptimizer(optimizerSpec(), [parameter]);
    tf.tidy(() => {
      optimizer.applyGradients({ [parameter.name]: tf.tensor1d([0.5, -1]) }, 0.1);
    });
    const state = optimizer.exportState();
    assert.equal(state.updates, 1);
    assert.equal(state.slots.length, 2);
    close(state.slots[0].values[1], -0.1, 1e-7); // first moment of -1
    const other = createOptimizer(optimizerSpec(), [parameter]);
    other.importState(state);
    assert.deepEqual(other.exportState(), state);
    tf.dispose([parameter]);
    optimizer.dispose();
    other.dispose();
  });
  it('warms up linearly, then decays linearly to 0', () => {
    const spec = optimizerSpec({ learningRate: 1, warmupFraction: 0.2, lrSchedule: 'linear' });
    const rates = Array.from({ length: 10 }, (_, t) => learningRateAt(spec, t, 10));
    [0.5, 1, 1, 7 / 8, 6 / 8, 5 / 8, 4 / 8, 3 / 8, 2 / 8, 1 / 8].forEach((rate, t) => close(rates[t], rate, 1e-12));
    close(learningRateAt({ ...spec, lrSchedule: 'constant' }, 9, 10), 1, 0);
  });
  it('clips by global norm', () => {
    const clipped = tf.tidy(() => {
      const grads = { a: tf.tensor1d([3]), b: tf.tensor1d([4]) };
      const total = globalNorm(grads);
      close(total.dataSync()[0], 5);
      const result = clipByGlobalNorm(grads, total, 1);
      return [result.a.dataSync()[0], result.b.dataSync()[0]];
    });
    close(clipped[0], 0.6);
    close(clipped[1], 0.8);
  });
  it('clips inside the optimizer to its clipNorm and reports the norm from before clipping', () => {
    const parameter = tf.variable(tf.tensor1d([0, 0]));
    const optimizer = createOptimizer(optimizerSpec({ kind: 'sgd', learningRate: 1, clipNorm: 1 }), [parameter]);
    // Gradient (3, 4), norm 5, clipped to norm 1: (0.6, 0.8); one SGD step at lr 1 from 0.
    const norm = tf.tidy(() => optimizer.applyGradientsReadingNorm({ [parameter.name]: tf.tensor1d([3, 4]) }, 1).dataSync()[0]);
    close(norm, 5);
    const [a, b] = parameter.dataSync();
    close(a, -0.6);
    close(b, -0.8);
    optimizer.dispose();
    parameter.dispose();
  });
});

describe('evaluation summary', () => {
  it('computes accuracy, balanced accuracy, macro-F1 and confusion by hand', () => {
    const evaluation = summarizeEvaluation(Int32Array.from([0, 0, 0, 1, 1, 2]), Int32Array.from([0, 0, 1, 1, 1, 1]), 3, 3, 0.2);
    assert.deepEqual(evaluation.confusion, [2, 1, 0, 0, 2, 0, 0, 1, 0]);
    assert.deepEqual(evaluation.predictionCounts, [2, 4, 0]);
    close(evaluation.accuracy, 4 / 6);
    close(evaluation.balancedAccuracy, (2 / 3 + 1 + 0) / 3);
    close(evaluation.macroF1, (0.8 + 2 / 3 + 0) / 3); // F1: class 0 = 0.8, class 1 = 2/3, class 2 = 0
    close(evaluation.loss, 0.5);
    assert.equal(evaluation.verdict, 'ok');
  });
  it('calls one class at >= 95% collapsed, chance-level variety degenerate', () => {
    const labels = Int32Array.from({ length: 20 }, (_, i) => i % 2);
    const oneClass = Int32Array.from({ length: 20 }, (_, i) => (i === 0 ? 0 : 1));
    assert.equal(summarizeEvaluation(labels, oneClass, 2, 0, 0).verdict, 'collapsed');
    const coinFlip = Int32Array.from({ length: 20 }, (_, i) => Math.floor(i / 2) % 2); // recall 0.5 each
    assert.equal(summarizeEvaluation(labels, coinFlip, 2, 0, 0).verdict, 'degenerate');
  });
  it('mean pairwise cosine of pooled features', () => {
    const value = tf.tidy(
      () =>
        meanPairwiseCosine(
          tf.tensor2d([
            [1, 0],
            [0, 1],
            [1, 1],
          ]),
        ).dataSync()[0],
    );
    close(value, Math.SQRT2 / 3, 1e-6); // pairs: 0, 1/sqrt2, 1/sqrt2
  });
});
