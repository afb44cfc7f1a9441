// The two benchmark models and their data, shared with bench/throughput/run.ts: MLP
// 784-400-200-10 and transformer d128 h4 L4 ff512 over 64 tokens, batch 32.
// The same specs are written for PyTorch in torch_peer.py.
import * as tf from '@tensorflow/tfjs';
import { disposeBatch, makeBatch } from '../../server/engine/batching.js';
import { createMethod } from '../../server/engine/methods/index.js';
import type { TrainingMethod } from '../../server/engine/methods/method.js';
import type { ClassifierModel } from '../../server/engine/models/classifier.js';
import { createMlp } from '../../server/engine/models/mlp.js';
import { createTransformerClassifier } from '../../server/engine/models/transformer.js';
import { createOptimizer, type ParameterOptimizer } from '../../server/engine/optimizer.js';
import { seededRandom } from '../../server/engine/random.js';
import type { ExampleSet, MethodSpec, OptimizerSpec } from '../../server/engine/types.js';

export const BATCH = 32;
export const MLP_DIMS = { input: 784, hidden: [400, 200], classes: 10, dropout: 0.1 } as const;
export const TRANSFORMER_DIMS = {
  dModel: 128,
  heads: 4,
  layers: 4,
  ffDim: 512,
  vocabSize: 5000,
  seqLen: 64,
  classes: 2,
  dropout: 0.1,
} as const;

export const OPTIMIZER: OptimizerSpec = {
  kind: 'adamw',
  learningRate: 1e-4,
  weightDecay: 0.01,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
  momentum: 0,
  warmupFraction: 0,
  lrSchedule: 'constant',
  clipNorm: 0,
};
export const DSGD: MethodSpec = { kind: 'dsgd', lambda: 1, schedule: 'linear' };
/** The DSGD progress denominator: alpha = step / TOTAL_STEPS (linear schedule, lambda 1). */
export const TOTAL_STEPS = 1000;

export type WorkloadName = 'mlp' | 'transformer';

export interface Workload {
  readonly name: WorkloadName;
  readonly label: string;
  readonly build: (seed: number) => ClassifierModel;
  readonly data: ExampleSet;
}

export function mlpWorkload(): Workload {
  const { input, hidden, classes, dropout } = MLP_DIMS;
  const count = BATCH * 8;
  const random = seededRandom(1);
  const values = Float32Array.from({ length: count * input }, () => random.next());
  const labels = Int32Array.from({ length: count }, () => Math.floor(random.next() * classes));
  return {
    name: 'mlp',
    label: `MLP ${input}-${hidden.join('-')}-${classes}`,
    build: (seed) => createMlp({ family: 'mlp', hiddenUnits: [...hidden], dropout }, input, classes, seed),
    data: { inputs: { kind: 'features', values, dim: input }, labels, numClasses: classes },
  };
}

export function transformerWorkload(): Workload {
  const { dModel, heads, layers, ffDim, vocabSize, seqLen, classes, dropout } = TRANSFORMER_DIMS;
  const count = BATCH * 4;
  const random = seededRandom(2);
  // Real lengths 16..64, [CLS]-like id 1 first, then padding: the mask does real work.
  const ids = new Int32Array(count * seqLen);
  for (let row = 0; row < count; row++) {
    const length = 16 + Math.floor(random.next() * (seqLen - 15));
    for (let position = 0; position < length; position++) {
      ids[row * seqLen + position] = position === 0 ? 1 : 2 + Math.floor(random.next() * (vocabSize - 2));
    }
  }
  const labels = Int32Array.from({ length: count }, () => Math.floor(random.next() * classes));
  return {
    name: 'transformer',
    label: `transformer d${dModel} h${heads} L${layers} ff${ffDim}, ${seqLen} tokens`,
    build: (seed) =>
      createTransformerClassifier(
        { family: 'transformer', dModel, heads, layers, ffDim, pooling: 'cls', dropout },
        { vocabSize, seqLen, hasSegments: false },
        classes,
        seed,
      ),
    data: { inputs: { kind: 'tokens', ids, seqLen, vocabSize }, labels, numClasses: classes },
  };
}

/** A model, its optimizer and DSGD, stepping through the workload's data batch by batch. */
export interface EngineRunner {
  readonly model: ClassifierModel;
  /** One DSGD step (forward, one backward, AdamW update), awaited to completion; returns ms. */
  step(): Promise<number>;
  dispose(): void;
}

export function engineRunner(workload: Workload, seed = 42): EngineRunner {
  const model = workload.build(seed);
  const method: TrainingMethod = createMethod(DSGD);
  const optimizer: ParameterOptimizer = createOptimizer(OPTIMIZER, model.trainable);
  const count = workload.data.labels.length;
  let stepIndex = 0;
  return {
    model,
    async step() {
      const first = (stepIndex * BATCH) % count;
      const indices = Int32Array.from({ length: BATCH }, (_, i) => (first + i) % count);
      const started = performance.now();
      const batch = makeBatch(workload.data.inputs, workload.data.labels, indices);
      const correct = tf.tidy(() => {
        const { grads, forward } = method.gradient({
          model,
          batch,
          step: stepIndex,
          totalSteps: TOTAL_STEPS,
          dropoutSeed: stepIndex,
          noiseSeed: stepIndex,
        });
        optimizer.applyGradients(grads, OPTIMIZER.learningRate);
        return tf.sum(forward.correct);
      });
      // One read per step, as the trainer does: it waits for every queued kernel.
      await correct.data();
      correct.dispose();
      disposeBatch(batch);
      stepIndex += 1;
      return performance.now() - started;
    },
    dispose() {
      optimizer.dispose();
      model.dispose();
    },
  };
}
