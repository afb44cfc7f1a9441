import * as tf from '@tensorflow/tfjs';
import type { MlpModelSpec } from '../types.js';
import { denseLayer } from '../ops.js';
import { seededDropout } from '../kernels/index.js';
import { deriveSeed, mixSeed } from '../random.js';
import type { Batch, ClassifierModel, ForwardOptions } from './classifier.js';
import { registrableName } from './parameter-names.js';

/** Stable parameter names every family's head uses; predict() reads numClasses from HEAD_BIAS_NAME. */
export const HEAD_KERNEL_NAME = 'head/kernel';
export const HEAD_BIAS_NAME = 'head/bias';

function namedVariable(initial: tf.Tensor, stableName: string): tf.Variable {
  return tf.variable(initial, true, registrableName(stableName));
}

/** He-normal kernel (ReLU layers), zero bias. */
function heDense(inputDim: number, outputDim: number, seed: number, prefix: string): [tf.Variable, tf.Variable] {
  return tf.tidy(() => [
    namedVariable(tf.randomNormal([inputDim, outputDim], 0, Math.sqrt(2 / inputDim), 'float32', seed), `${prefix}/kernel`),
    namedVariable(tf.zeros([outputDim]), `${prefix}/bias`),
  ]);
}

/**
 * Multilayer perceptron: features = hidden Dense+ReLU(+dropout) stack, head = Dense to logits.
 * With no hidden layers the features are the inputs and the model is a linear softmax classifier.
 * Initialisation is drawn from `seed` only, so equal seeds give equal models.
 */
export function createMlp(spec: MlpModelSpec, inputDim: number, numClasses: number, seed: number): ClassifierModel {
  if (spec.dropout < 0 || spec.dropout >= 1) throw new Error(`mlp dropout must be in [0, 1), got ${spec.dropout}`);
  const hidden: Array<[tf.Variable, tf.Variable]> = [];
  let width = inputDim;
  spec.hiddenUnits.forEach((units, layer) => {
    hidden.push(heDense(width, units, deriveSeed(seed, 'init', layer), `mlp/dense${layer}`));
    width = units;
  });
  const featureDim = width;
  const glorotLimit = Math.sqrt(6 / (featureDim + numClasses));
  const headKernel = tf.tidy(() =>
    namedVariable(
      tf.randomUniform([featureDim, numClasses], -glorotLimit, glorotLimit, 'float32', deriveSeed(seed, 'init', hidden.length)),
      HEAD_KERNEL_NAME,
    ),
  );
  const headBias = tf.tidy(() => namedVariable(tf.zeros([numClasses]), HEAD_BIAS_NAME));

  return {
    family: 'mlp',
    numClasses,
    trainable: [...hidden.flat(), headKernel, headBias],
    headKernel,
    headBias,
    features(batch: Batch, options: ForwardOptions): tf.Tensor2D {
      if (batch.inputs.dtype !== 'float32') throw new Error('the mlp takes float32 feature inputs, not token ids');
      return tf.tidy(() => {
        let activation: tf.Tensor2D = batch.inputs;
        hidden.forEach(([kernel, bias], layer) => {
          // Layer 0 reads the data: its input gradient would be a full product nobody uses.
          activation = denseLayer(activation, kernel as tf.Tensor2D, bias as tf.Tensor1D, {
            activation: 'relu',
            inputGradient: layer > 0,
          });
          if (options.training && spec.dropout > 0) {
            activation = seededDropout(activation, spec.dropout, mixSeed(options.dropoutSeed, layer));
          }
        });
        return activation;
      });
    },
    head(pooled: tf.Tensor2D): tf.Tensor2D {
      return denseLayer(pooled, headKernel as tf.Tensor2D, headBias as tf.Tensor1D);
    },
    dispose(): void {
      for (const variable of [...hidden.flat(), headKernel, headBias]) variable.dispose();
    },
  };
}
