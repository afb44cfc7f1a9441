import type { ExampleInputs, ModelSpec } from '../types.js';
import type { ClassifierModel } from './classifier.js';
import { createMlp } from './mlp.js';
import { createTransformerClassifier } from './transformer.js';

export type { Batch, ClassifierModel, ForwardOptions } from './classifier.js';
export { HEAD_BIAS_NAME, HEAD_KERNEL_NAME } from './mlp.js';

/** What a model needs to know about its inputs (the examples themselves are not needed). */
export type InputMeta =
  | { readonly kind: 'features'; readonly dim: number }
  | { readonly kind: 'tokens'; readonly seqLen: number; readonly vocabSize: number; readonly hasSegments: boolean };

export function describeInputs(inputs: ExampleInputs): InputMeta {
  return inputs.kind === 'features'
    ? { kind: 'features', dim: inputs.dim }
    : { kind: 'tokens', seqLen: inputs.seqLen, vocabSize: inputs.vocabSize, hasSegments: inputs.segmentIds !== undefined };
}

export type ModelBuilder = (spec: ModelSpec, inputs: InputMeta, numClasses: number, seed: number) => ClassifierModel;

/** A freshly initialised model of the spec's family. */
export const buildModel: ModelBuilder = (spec, inputs, numClasses, seed) => {
  switch (spec.family) {
    case 'mlp':
      if (inputs.kind !== 'features') throw new Error('the mlp family needs feature inputs, got token ids');
      return createMlp(spec, inputs.dim, numClasses, seed);
    case 'transformer':
      if (inputs.kind !== 'tokens') throw new Error('the transformer family needs token inputs, got feature vectors');
      return createTransformerClassifier(spec, inputs, numClasses, seed);
  }
};
