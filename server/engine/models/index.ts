import type { ModelSpec } from '../types.js';
import type { ClassifierModel, InputMeta } from './classifier.js';
import { createMlp } from './mlp.js';
import { buildPretrainedModel, type BackboneArtifacts } from './pretrained/builder.js';
import { createTransformerClassifier } from './transformer.js';

export { describeInputs, type Batch, type ClassifierModel, type ForwardOptions, type InputMeta } from './classifier.js';
export { HEAD_BIAS_NAME, HEAD_KERNEL_NAME } from './mlp.js';
export type { BackboneArtifacts } from './pretrained/builder.js';

export type ModelBuilder = (spec: ModelSpec, inputs: InputMeta, numClasses: number, seed: number) => ClassifierModel;

function buildWith(
  spec: ModelSpec,
  inputs: InputMeta,
  numClasses: number,
  seed: number,
  artifacts: BackboneArtifacts | undefined,
): ClassifierModel {
  switch (spec.family) {
    case 'mlp':
      if (inputs.kind !== 'features') throw new Error('the mlp family needs feature inputs, got token ids');
      return createMlp(spec, inputs.dim, numClasses, seed);
    case 'transformer':
      if (inputs.kind !== 'tokens') throw new Error('the transformer family needs token inputs, got feature vectors');
      return createTransformerClassifier(spec, inputs, numClasses, seed);
    default:
      return buildPretrainedModel(spec, inputs, numClasses, seed, artifacts);
  }
}

/** A freshly initialised model of the spec's family (pretrained families that need artifacts: modelBuilderWith). */
export const buildModel: ModelBuilder = (spec, inputs, numClasses, seed) => buildWith(spec, inputs, numClasses, seed, undefined);

/** A builder for every family that hands a pretrained family the artifacts the host loaded for it. */
export function modelBuilderWith(artifacts: BackboneArtifacts | undefined): ModelBuilder {
  return (spec, inputs, numClasses, seed) => buildWith(spec, inputs, numClasses, seed, artifacts);
}
