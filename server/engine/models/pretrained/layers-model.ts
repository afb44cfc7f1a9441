import * as tf from '@tensorflow/tfjs';
import type { FeatureInputs } from '../../types.js';
import type { ClassifierModel } from '../classifier.js';
import type { InputMeta } from '../classifier.js';
import { ParameterFactory } from '../parameters.js';
import type { FeatureExtractor } from './feature-cache.js';
import { createFeatureHeadClassifier } from './feature-head.js';
import type { LayersModelModelSpec } from './specs.js';

// Bring-your-own TF.js LayersModel: its old head is cut off and the output of the layer before
// it becomes the feature vector a new dense head trains on. The body stays frozen: TF.js names
// a LayersModel's variables with per-process counters (kernel_1, kernel_2, ...), which cannot
// key checkpoints, and its convolution gradients would need kernels wasm lacks. Artifacts
// arrive through an IOHandler (server/data/pretrained-files.ts reads them from the data root).

export interface LayersBackbone {
  /** Part of feature cache keys: the caller's fingerprint of the weights plus the feature layer. */
  readonly id: string;
  /** The original model's inputs to the feature layer's output. */
  readonly body: tf.LayersModel;
  /** Input shape without the batch axis. */
  readonly inputShape: readonly number[];
  /** Features per example (the feature layer's output, flattened). */
  readonly featureDim: number;
  dispose(): void;
}

const product = (shape: readonly number[]): number => shape.reduce((total, size) => total * size, 1);

export interface LayersBackboneOptions {
  /** Identifies the weights (e.g. the sha256 of model.json and shards). */
  readonly fingerprint: string;
  /** Default: the input of the model's last layer (the layer before the old head). */
  readonly featureLayer?: string;
}

export async function loadLayersBackbone(handler: tf.io.IOHandler, options: LayersBackboneOptions): Promise<LayersBackbone> {
  const full = await tf.loadLayersModel(handler, { strict: true });
  try {
    if (full.inputs.length !== 1) throw new Error(`layers_model needs a single-input model, this one has ${full.inputs.length}`);
    const source =
      options.featureLayer === undefined ? full.layers[full.layers.length - 1].input : full.getLayer(options.featureLayer).output;
    if (Array.isArray(source)) throw new Error('the feature layer has several tensors: name a single-output layer in featureLayer');
    const inputShape = full.inputs[0].shape.slice(1);
    const featureShape = source.shape.slice(1);
    if (![...inputShape, ...featureShape].every((size) => typeof size === 'number' && size > 0)) {
      throw new Error(`layers_model needs fixed input and feature shapes, got [${inputShape}] -> [${featureShape}]`);
    }
    // A functional view over the same layer objects: the pretrained weights are shared, not copied.
    const body = tf.model({ inputs: full.inputs, outputs: source });
    const featureLayerName = options.featureLayer ?? `${full.layers[full.layers.length - 1].name}.input`;
    return {
      id: `layers_model:${options.fingerprint}@${featureLayerName}`,
      body,
      inputShape: inputShape as number[],
      featureDim: product(featureShape as number[]),
      dispose: () => full.dispose(),
    };
  } catch (error) {
    full.dispose();
    throw error;
  }
}

/** Runs example rows (each the model's input, flattened) through the body; flattens the features. */
export function layersModelFeatureExtractor(backbone: LayersBackbone, batchSize = 64): FeatureExtractor {
  const inputDim = product(backbone.inputShape);
  return {
    id: backbone.id,
    featureDim: backbone.featureDim,
    async extract(inputs: FeatureInputs): Promise<FeatureInputs> {
      if (inputs.dim !== inputDim)
        throw new Error(`the model takes ${inputDim} values per example ([${backbone.inputShape}]), got ${inputs.dim}`);
      const count = inputs.values.length / inputDim;
      const values = new Float32Array(count * backbone.featureDim);
      for (let start = 0; start < count; start += batchSize) {
        const size = Math.min(batchSize, count - start);
        const features = tf.tidy(() => {
          const rows = tf.tensor(inputs.values.subarray(start * inputDim, (start + size) * inputDim), [size, ...backbone.inputShape]);
          return tf.reshape(backbone.body.predict(rows) as tf.Tensor, [size, backbone.featureDim]);
        });
        values.set((await features.data()) as Float32Array, start * backbone.featureDim);
        features.dispose();
      }
      return { kind: 'features', values, dim: backbone.featureDim };
    },
  };
}

/** The new head over the extracted features: hidden layers (optional) and a head of numClasses outputs. */
export function createLayersModelClassifier(
  spec: LayersModelModelSpec,
  inputs: InputMeta,
  numClasses: number,
  seed: number,
): ClassifierModel {
  if (inputs.kind !== 'features') throw new Error('layers_model classifies extracted features, got token ids');
  return createFeatureHeadClassifier('layers_model', spec, inputs.dim, numClasses, new ParameterFactory(seed));
}
