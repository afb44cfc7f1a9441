// `start --model NAME` and the model size flags: each model built from flags alone, the spec
// file's sizes kept when --model names its model, and clear usage errors for flags that do not fit.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Pooling } from '../../client/index.js';
import { parseCommandLine, UsageError } from '../../client/cli/args.js';
import { parseSpecText, specFromFlags } from '../../client/cli/spec-flags.js';

const modelOf = (...argv: string[]) => specFromFlags(parseCommandLine(['start', ...argv]).flags).model?.family;
const rejects = (pattern: RegExp, ...argv: string[]) =>
  assert.throws(
    () => modelOf(...argv),
    (error: unknown) => error instanceof UsageError && pattern.test(error.message),
  );

describe('start --model', () => {
  test('builds each model from flags alone', () => {
    assert.deepEqual(modelOf('--model', 'mlp', '--hidden', '128,64'), { $case: 'mlp', value: { hiddenUnits: [128, 64], dropout: 0 } });
    assert.deepEqual(
      modelOf('--model', 'transformer', '--d-model', '64', '--heads', '4', '--layers', '2', '--ff-dim', '128', '--pooling', 'mean'),
      {
        $case: 'transformer',
        value: { dModel: 64, heads: 4, layers: 2, ffDim: 128, pooling: Pooling.POOLING_MEAN, dropout: 0 },
      },
    );
    assert.deepEqual(modelOf('--model', 'glove_bag', '--train-embedding', '--hidden', '32'), {
      $case: 'gloveBag',
      value: { trainEmbedding: true, head: { hiddenUnits: [32], dropout: 0 } },
    });
    assert.deepEqual(modelOf('--model', 'mobilenet_v2', '--input-size', '96', '--trainable-blocks', '2'), {
      $case: 'mobilenetV2',
      value: { inputSize: 96, trainableBlocks: 2 },
    });
    assert.deepEqual(modelOf('--model', 'layers_model', '--model-path', 'models/cnn/model.json', '--feature-layer', 'flatten'), {
      $case: 'layersModel',
      value: { path: 'models/cnn/model.json', featureLayer: 'flatten' },
    });
    assert.deepEqual(modelOf('--model', 'hf_encoder', '--model-path', 'hf/bert-tiny', '--trainable-layers', '1', '--train-embedding'), {
      $case: 'hfEncoder',
      value: { path: 'hf/bert-tiny', pooling: Pooling.POOLING_UNSPECIFIED, dropout: 0, trainableLayers: 1, trainEmbeddings: true },
    });
  });

  test('--hidden alone still means an mlp', () => {
    assert.deepEqual(modelOf('--hidden', '16'), { $case: 'mlp', value: { hiddenUnits: [16], dropout: 0 } });
  });

  test("keeps the spec file's sizes when --model names its model, and its head for --hidden", () => {
    const fromFile = parseSpecText('model: {transformer: {d_model: 32, heads: 2, dropout: 0.1}}', 'spec.yaml');
    const merged = specFromFlags(parseCommandLine(['start', '--model', 'transformer', '--layers', '3']).flags, fromFile);
    assert.deepEqual(merged.model?.family, {
      $case: 'transformer',
      value: { dModel: 32, heads: 2, layers: 3, ffDim: 0, pooling: Pooling.POOLING_UNSPECIFIED, dropout: 0.1 },
    });
    const glove = parseSpecText('model: {glove_bag: {head: {hidden_units: [8], dropout: 0.2}}}', 'spec.yaml');
    assert.deepEqual(specFromFlags(parseCommandLine(['start', '--hidden', '4,4']).flags, glove).model?.family, {
      $case: 'gloveBag',
      value: { trainEmbedding: false, head: { hiddenUnits: [4, 4], dropout: 0.2 } },
    });
  });

  test('rejects what does not fit, naming the flag', () => {
    rejects(/--model: 'resnet' is not one of mlp, transformer, glove_bag/, '--model', 'resnet');
    rejects(/--layers applies to transformer only, not mlp/, '--layers', '2');
    rejects(/--input-size applies to mobilenet_v2 only, not transformer/, '--model', 'transformer', '--input-size', '64');
    rejects(/--hidden applies to .* only, not hf_encoder/, '--model', 'hf_encoder', '--model-path', 'x', '--hidden', '8');
    rejects(/--input-size: '100' must be a multiple of 32 from 32 to 224/, '--model', 'mobilenet_v2', '--input-size', '100');
    rejects(/--trainable-blocks: '5' must be 0/, '--model', 'mobilenet_v2', '--trainable-blocks', '5');
    rejects(/--heads: '0' must be at least 1/, '--model', 'transformer', '--heads', '0');
    rejects(/--d-model 30 must be a multiple of --heads 4/, '--model', 'transformer', '--d-model', '30', '--heads', '4');
    rejects(/--pooling: 'max' is not one of cls, mean/, '--model', 'transformer', '--pooling', 'max');
    rejects(/--model hf_encoder needs --model-path/, '--model', 'hf_encoder');
    rejects(/--model-path: give a path/, '--model', 'layers_model', '--model-path', ' ');
    rejects(/--model layers_model needs --model-path/, '--model', 'layers_model');
    rejects(/--hidden: 'a' is not a number/, '--model', 'mlp', '--hidden', '64,a');
  });
});
