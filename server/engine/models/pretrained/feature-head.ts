import * as tf from '@tensorflow/tfjs';
import { denseLayer } from '../../ops.js';
import { mixSeed } from '../../random.js';
import type { Batch, ClassifierModel, ForwardOptions } from '../classifier.js';
import { HEAD_BIAS_NAME, HEAD_KERNEL_NAME } from '../mlp.js';
import type { ParameterFactory } from '../parameters.js';
import type { FeatureHeadSpec, PretrainedFamily } from './specs.js';

/** Hidden ReLU layers and the class head on top of a backbone's pooled features. */
export interface DenseHead {
  readonly hidden: ReadonlyArray<{ readonly kernel: tf.Variable; readonly bias: tf.Variable }>;
  readonly headKernel: tf.Variable;
  readonly headBias: tf.Variable;
  readonly variables: readonly tf.Variable[];
  readonly featureDim: number;
}

export function checkHeadSpec(spec: FeatureHeadSpec): void {
  if (!(spec.dropout >= 0 && spec.dropout < 1)) throw new Error(`dropout ${spec.dropout} is outside [0, 1)`);
  if (!spec.hiddenUnits.every((units) => Number.isInteger(units) && units >= 1)) {
    throw new Error(`hiddenUnits must be positive integers, got [${spec.hiddenUnits}]`);
  }
}

/** Variables are created through `params`, so their init follows the run seed. */
export function createDenseHead(
  params: ParameterFactory,
  prefix: string,
  inputDim: number,
  spec: FeatureHeadSpec,
  numClasses: number,
): DenseHead {
  checkHeadSpec(spec);
  if (!(numClasses >= 2)) throw new Error(`numClasses ${numClasses} must be >= 2`);
  const hidden: Array<{ kernel: tf.Variable; bias: tf.Variable }> = [];
  let width = inputDim;
  spec.hiddenUnits.forEach((units, layer) => {
    // He-normal: these feed ReLUs.
    hidden.push({
      kernel: params.normal(`${prefix}/hidden${layer}/kernel`, [width, units], Math.sqrt(2 / width)),
      bias: params.zeros(`${prefix}/hidden${layer}/bias`, [units]),
    });
    width = units;
  });
  const headKernel = params.glorot(HEAD_KERNEL_NAME, [width, numClasses]);
  const headBias = params.zeros(HEAD_BIAS_NAME, [numClasses]);
  return {
    hidden,
    headKernel,
    headBias,
    featureDim: width,
    variables: [...hidden.flatMap(({ kernel, bias }) => [kernel, bias]), headKernel, headBias],
  };
}

/** Pooled backbone output -> the head's input: dropout, then each hidden ReLU layer and its dropout. */
export function applyHiddenLayers(head: DenseHead, pooled: tf.Tensor2D, dropout: number, options: ForwardOptions): tf.Tensor2D {
  return tf.tidy(() => {
    const drop = (x: tf.Tensor2D, site: number): tf.Tensor2D =>
      options.training && dropout > 0 ? (tf.dropout(x, dropout, undefined, mixSeed(options.dropoutSeed, site)) as tf.Tensor2D) : x;
    let activation = drop(pooled, 0);
    head.hidden.forEach(({ kernel, bias }, layer) => {
      activation = drop(tf.relu(denseLayer(activation, kernel as tf.Tensor2D, bias as tf.Tensor1D)), layer + 1);
    });
    return activation;
  });
}

export function applyClassHead(head: DenseHead, features: tf.Tensor2D): tf.Tensor2D {
  return denseLayer(features, head.headKernel as tf.Tensor2D, head.headBias as tf.Tensor1D);
}

/**
 * A classifier whose inputs are precomputed backbone features (frozen MobileNetV2, a frozen
 * bring-your-own LayersModel): the features go straight into the dense head.
 */
export function createFeatureHeadClassifier(
  family: PretrainedFamily,
  spec: FeatureHeadSpec,
  featureDim: number,
  numClasses: number,
  params: ParameterFactory,
): ClassifierModel {
  const head = createDenseHead(params, family, featureDim, spec, numClasses);
  return {
    family: family,
    numClasses,
    trainable: head.variables,
    headKernel: head.headKernel,
    headBias: head.headBias,
    features(batch: Batch, options: ForwardOptions): tf.Tensor2D {
      if (batch.inputs.dtype !== 'float32') throw new Error(`the ${family} head takes float32 backbone features, not token ids`);
      if (batch.inputs.shape[1] !== featureDim) {
        throw new Error(`the ${family} head expects ${featureDim} features per example, got ${batch.inputs.shape[1]}`);
      }
      return applyHiddenLayers(head, batch.inputs, spec.dropout, options);
    },
    head: (features) => applyClassHead(head, features),
    dispose: () => head.variables.forEach((variable) => variable.dispose()),
  };
}
