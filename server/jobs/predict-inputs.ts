// Predict's examples → the engine's ExampleInputs for the model they are meant for, checking
// every example against what the model was trained on. Plain arrays: runs on the main thread.
import type { ExampleInputs } from '../engine/tf-free.js';
import type { ModelInputs } from './worker/protocol.js';
import { ServiceError, type FieldViolation } from '../common/errors.js';
import type { PredictInput } from './types.js';

export function toExampleInputs(model: ModelInputs, examples: readonly PredictInput[]): ExampleInputs {
  const violations: FieldViolation[] = [];
  const bad = (field: string, description: string): void => {
    violations.push({ field, description });
  };
  let inputs: ExampleInputs;
  if (model.kind === 'features') {
    const values = new Float32Array(examples.length * model.dim);
    examples.forEach((example, i) => {
      if (example.features.length !== model.dim) {
        bad(`examples[${i}].features`, `must have ${model.dim} values (the model's input size), got ${example.features.length}`);
      } else if (!example.features.every(Number.isFinite)) {
        bad(`examples[${i}].features`, 'must be finite numbers');
      } else {
        values.set(example.features, i * model.dim);
      }
      if (example.tokenIds.length > 0) bad(`examples[${i}].token_ids`, 'must be empty: this model takes features');
    });
    inputs = { kind: 'features', values, dim: model.dim };
  } else {
    const { seqLen, vocabSize } = model;
    // Shorter sequences are padded with id 0, as the data layer pads training examples.
    const ids = new Int32Array(examples.length * seqLen);
    const segmentIds = new Int32Array(examples.length * seqLen);
    examples.forEach((example, i) => {
      if (example.tokenIds.length === 0 || example.tokenIds.length > seqLen) {
        bad(`examples[${i}].token_ids`, `must hold 1..${seqLen} token ids, got ${example.tokenIds.length}`);
      } else if (!example.tokenIds.every((id) => Number.isInteger(id) && id >= 0 && id < vocabSize)) {
        bad(`examples[${i}].token_ids`, `must be ids below the vocabulary size ${vocabSize}`);
      } else {
        ids.set(example.tokenIds, i * seqLen);
      }
      if (!model.hasSegments && example.segmentIds.length > 0) {
        bad(`examples[${i}].segment_ids`, 'must be empty: this model takes single texts');
      } else if (model.hasSegments && example.segmentIds.length > 0) {
        if (example.segmentIds.length !== example.tokenIds.length || !example.segmentIds.every((s) => s === 0 || s === 1)) {
          bad(`examples[${i}].segment_ids`, 'must be 0 or 1, one per token id');
        } else {
          segmentIds.set(example.segmentIds, i * seqLen);
        }
      }
      if (example.features.length > 0) bad(`examples[${i}].features`, 'must be empty: this model takes token ids');
    });
    inputs = model.hasSegments ? { kind: 'tokens', ids, segmentIds, seqLen, vocabSize } : { kind: 'tokens', ids, seqLen, vocabSize };
  }
  if (violations.length > 0) {
    throw ServiceError.invalidArgument(`${violations.length} example(s) do not fit the model`, violations.slice(0, 50));
  }
  return inputs;
}
