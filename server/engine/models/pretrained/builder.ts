import type { PretrainedModelSpec, Weights } from '../../types.js';
import type { ClassifierModel } from '../classifier.js';
import type { InputMeta } from '../classifier.js';
import { createGloveBagClassifier, type EmbeddingTable } from './glove.js';
import { createHfEncoderClassifier, type MappedCheckpoint } from './hf-encoder.js';
import { createLayersModelClassifier } from './layers-model.js';
import { createMobileNetClassifier } from './mobilenet.js';

// The pretrained families as ModelBuilder cases. What a family needs besides its spec (tail
// weights, an embedding table, a mapped checkpoint) is loaded once by the host and closed over
// (models/index.ts: modelBuilderWith), so the trainer and inference build them like any family.
// Frozen backbones (MobileNetV2's prefix, a LayersModel body) are not here: the host runs them
// once per dataset and the model trains on their features.

/** Per-family artifacts, as plain data. */
export type BackboneArtifacts =
  | { readonly family: 'mobilenet_v2'; readonly tail: Weights }
  | { readonly family: 'glove_bag'; readonly table: EmbeddingTable }
  | { readonly family: 'layers_model' }
  | { readonly family: 'hf_encoder'; readonly checkpoint: MappedCheckpoint; readonly onNotice?: (message: string) => void };

function artifactsFor<F extends BackboneArtifacts['family']>(
  family: F,
  artifacts: BackboneArtifacts | undefined,
): Extract<BackboneArtifacts, { family: F }> | undefined {
  if (artifacts === undefined) return undefined;
  if (artifacts.family !== family) throw new Error(`a ${family} model was given ${artifacts.family} artifacts`);
  return artifacts as Extract<BackboneArtifacts, { family: F }>;
}

function missing(family: string, what: string): Error {
  return new Error(`a ${family} model needs ${what}: build it through modelBuilderWith(artifacts)`);
}

export function buildPretrainedModel(
  spec: PretrainedModelSpec,
  inputs: InputMeta,
  numClasses: number,
  seed: number,
  artifacts?: BackboneArtifacts,
): ClassifierModel {
  switch (spec.family) {
    case 'mobilenet_v2': {
      // A frozen backbone has no tail: its classifier is the head on cached features.
      const tail = artifactsFor('mobilenet_v2', artifacts)?.tail ?? [];
      if (spec.trainableBlocks > 0 && tail.length === 0) throw missing('mobilenet_v2', 'the pretrained tail weights');
      return createMobileNetClassifier(spec, tail, inputs, numClasses, seed);
    }
    case 'layers_model':
      artifactsFor('layers_model', artifacts);
      return createLayersModelClassifier(spec, inputs, numClasses, seed);
    case 'glove_bag': {
      const given = artifactsFor('glove_bag', artifacts);
      if (given === undefined) throw missing('glove_bag', 'its embedding table');
      return createGloveBagClassifier(spec, given.table, inputs, numClasses, seed);
    }
    case 'hf_encoder': {
      const given = artifactsFor('hf_encoder', artifacts);
      if (given === undefined) throw missing('hf_encoder', 'its mapped checkpoint');
      return createHfEncoderClassifier(spec, given.checkpoint, inputs, numClasses, seed, given.onNotice);
    }
  }
}
