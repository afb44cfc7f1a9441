// Shared by the pretrained benchmarks: trains a pretrained family's classifier with the engine
// trainer (FFT, AdamW, linear decay) and returns its validation evaluation and timings.
import { train } from '../../server/engine/trainer.js';
import type { ModelBuilder } from '../../server/engine/models/index.js';
import type { Evaluation, ExampleSet, ModelSpec, RunSpec } from '../../server/engine/types.js';

export interface HeadRun {
  readonly evaluation: Evaluation;
  readonly meanStepMs: number;
  readonly seconds: number;
}

export async function trainHead(
  build: ModelBuilder,
  trainSet: ExampleSet,
  validation: ExampleSet,
  options: { epochs: number; learningRate: number; batchSize: number; seed: number; model?: ModelSpec },
): Promise<HeadRun> {
  const spec: RunSpec = {
    // `build` closes over the backbone's artifacts; the spec names the family for backend checks.
    model: options.model ?? { family: 'mlp', hiddenUnits: [], dropout: 0 },
    method: { kind: 'fft' },
    optimizer: {
      kind: 'adamw',
      learningRate: options.learningRate,
      weightDecay: 0.01,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
      momentum: 0,
      warmupFraction: 0.06,
      lrSchedule: 'linear',
      clipNorm: 1,
    },
    batchSize: options.batchSize,
    gradientAccumulation: 1,
    epochs: options.epochs,
    seed: options.seed,
    fullConflictEvery: 0,
  };
  const started = performance.now();
  const outcome = await train(
    { spec, train: trainSet, validation, buildModel: build },
    {
      onStep: () => undefined,
      onEpochEnd: () => undefined,
      now: () => performance.now(),
    },
  );
  if (outcome.validation === undefined) throw new Error('training stopped early');
  return { evaluation: outcome.validation, meanStepMs: outcome.meanStepSeconds * 1000, seconds: (performance.now() - started) / 1000 };
}

/** `count` indices drawn without replacement, in shuffled order, by a seeded shuffle (reproducible across runs). */
export function seededSubset(total: number, count: number, seed: number): Int32Array {
  let state = seed >>> 0;
  const next = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  const order = Int32Array.from({ length: total }, (_, i) => i);
  for (let i = total - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order.slice(0, count);
}

export const format = (evaluation: Evaluation): string =>
  `accuracy ${evaluation.accuracy.toFixed(3)}, balanced ${evaluation.balancedAccuracy.toFixed(3)}, macro-F1 ${evaluation.macroF1.toFixed(3)}, verdict ${evaluation.verdict}`;
