import * as tf from '@tensorflow/tfjs';
import type { Evaluation, ExampleInputs, ExampleSet, ModelSpec, Predictions, Weights } from './types.js';
import { chunks, exampleCount, makeBatch } from './batching.js';
import { evaluateModel } from './evaluation.js';
import { buildModel, describeInputs, HEAD_BIAS_NAME, type ClassifierModel, type ModelBuilder } from './models/index.js';
import { loadWeights } from './models/weight-transfer.js';

const PREDICTION_BATCH = 256;

/** Builds a model of the spec, fills it with exactly these weights, runs `use`, frees the model. */
async function withModel<T>(
  modelSpec: ModelSpec,
  weights: Weights,
  inputs: ExampleInputs,
  numClasses: number,
  builder: ModelBuilder,
  use: (model: ClassifierModel) => Promise<T>,
): Promise<T> {
  // Seed 0: every variable is overwritten by `weights` ('exact' mode checks that).
  const model = builder(modelSpec, describeInputs(inputs), numClasses, 0);
  try {
    loadWeights(model, weights, 'exact');
    return await use(model);
  } finally {
    model.dispose();
  }
}

/** Evaluation (accuracy, per-class metrics, verdict) of trained weights on a labelled set. */
export async function evaluateWeights(
  modelSpec: ModelSpec,
  weights: Weights,
  data: ExampleSet,
  builder: ModelBuilder = buildModel,
): Promise<Evaluation> {
  return withModel(modelSpec, weights, data.inputs, data.numClasses, builder, (model) => evaluateModel(model, data));
}

/** Class probabilities of trained weights on unlabelled inputs; the class count comes from the head bias. */
export async function predict(
  modelSpec: ModelSpec,
  weights: Weights,
  inputs: ExampleInputs,
  builder: ModelBuilder = buildModel,
): Promise<Predictions> {
  const headBias = weights.find((weight) => weight.name === HEAD_BIAS_NAME);
  if (headBias === undefined || headBias.shape.length !== 1) throw new Error(`weights lack a '${HEAD_BIAS_NAME}' vector`);
  const numClasses = headBias.shape[0];
  const count = exampleCount(inputs);
  return withModel(modelSpec, weights, inputs, numClasses, builder, async (model) => {
    const probabilities = new Float32Array(count * numClasses);
    const predictions = new Int32Array(count);
    const inference = { training: false, dropoutSeed: 0 };
    for (const [start, end] of chunks(count, PREDICTION_BATCH)) {
      const indices = Int32Array.from({ length: end - start }, (_, i) => start + i);
      const batchProbabilities = tf.tidy(() => tf.softmax(model.head(model.features(makeBatch(inputs, undefined, indices), inference))));
      probabilities.set(await batchProbabilities.data(), start * numClasses);
      batchProbabilities.dispose();
    }
    for (let i = 0; i < count; i++) {
      let best = 0;
      for (let k = 1; k < numClasses; k++) if (probabilities[i * numClasses + k] > probabilities[i * numClasses + best]) best = k;
      predictions[i] = best;
    }
    return { numClasses, probabilities, predictions };
  });
}
