// ModelSpec validation of the pretrained families: documented defaults, bounds reported by
// proto path, and families that need token inputs refused on the (pixel) built-ins.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BuiltinName, BuiltinSplit, FineTuneSpec, Pooling, type DatasetRef, type ModelSpec } from '../../client/gen/steadytune/v1/spec.js';
import { hasCode } from '../../server/common/errors.js';
import { toJobSpec } from '../../server/rpc/validation.js';

const fashionTrain: DatasetRef = {
  source: { $case: 'builtin', value: { name: BuiltinName.BUILTIN_NAME_FASHION_MNIST, split: BuiltinSplit.BUILTIN_SPLIT_TRAIN } },
  classes: [],
  maxExamples: 0,
};
const registered: DatasetRef = {
  source: { $case: 'datasetId', value: 'ds_0123456789abcdef0123456789abcdef' },
  classes: [],
  maxExamples: 0,
};

const modelOf = (model: ModelSpec, train: DatasetRef = fashionTrain) =>
  toJobSpec(FineTuneSpec.fromPartial({ train, validation: train, model })).run.model;

function violationsOf(model: ModelSpec, train: DatasetRef = fashionTrain): Map<string, string> {
  try {
    toJobSpec(FineTuneSpec.fromPartial({ train, validation: train, model }));
  } catch (error) {
    assert.ok(hasCode(error, 'INVALID_ARGUMENT'), String(error));
    return new Map(error.violations.map((v) => [v.field, v.description]));
  }
  assert.fail('expected the model to be rejected');
}

describe('pretrained ModelSpec validation', () => {
  it('defaults mobilenet_v2 to 64 px, a frozen backbone and a linear head', () => {
    assert.deepEqual(modelOf({ family: { $case: 'mobilenetV2', value: { inputSize: 0, trainableBlocks: 0 } } }), {
      family: 'mobilenet_v2',
      inputSize: 64,
      trainableBlocks: 0,
      hiddenUnits: [],
      dropout: 0,
    });
  });

  it('reports mobilenet_v2 sizes and blocks out of range, and head problems, by proto path', () => {
    const violations = violationsOf({
      family: {
        $case: 'mobilenetV2',
        value: {
          inputSize: 48,
          trainableBlocks: 5,
          head: { hiddenUnits: [0], dropout: 1 },
        },
      },
    });
    assert.match(violations.get('spec.model.mobilenet_v2.input_size') ?? '', /multiple of 32/);
    assert.match(violations.get('spec.model.mobilenet_v2.trainable_blocks') ?? '', /0\.\.4/);
    assert.ok(violations.has('spec.model.mobilenet_v2.head.hidden_units[0]'));
    assert.ok(violations.has('spec.model.mobilenet_v2.head.dropout'));
  });

  it('refuses token families on the pixel built-ins and takes them on registered datasets', () => {
    assert.match(
      violationsOf({ family: { $case: 'gloveBag', value: { trainEmbedding: true } } }).get('spec.model.glove_bag') ?? '',
      /tokenized text dataset/,
    );
    assert.deepEqual(
      modelOf({ family: { $case: 'gloveBag', value: { trainEmbedding: true, head: { hiddenUnits: [64], dropout: 0.1 } } } }, registered),
      { family: 'glove_bag', trainEmbedding: true, hiddenUnits: [64], dropout: 0.1 },
    );
  });

  it('keeps hf_encoder options that are unset unset, and checks paths stay under the data root', () => {
    assert.deepEqual(
      modelOf({ family: { $case: 'hfEncoder', value: { path: 'bert/tiny', pooling: Pooling.POOLING_MEAN, dropout: 0.1 } } }, registered),
      { family: 'hf_encoder', path: 'bert/tiny', pooling: 'mean', dropout: 0.1 },
    );
    assert.deepEqual(
      modelOf(
        { family: { $case: 'hfEncoder', value: { path: 'b', pooling: 0, dropout: 0, trainableLayers: 0, trainEmbeddings: false } } },
        registered,
      ),
      { family: 'hf_encoder', path: 'b', pooling: 'cls', dropout: 0, trainableLayers: 0, trainEmbeddings: false },
    );
    assert.match(
      violationsOf({ family: { $case: 'hfEncoder', value: { path: '../models', pooling: 0, dropout: 0 } } }, registered).get(
        'spec.model.hf_encoder.path',
      ) ?? '',
      /inside the data root/,
    );
    assert.match(
      violationsOf({ family: { $case: 'layersModel', value: { path: '', featureLayer: '' } } }).get('spec.model.layers_model.path') ?? '',
      /required/,
    );
    assert.deepEqual(modelOf({ family: { $case: 'layersModel', value: { path: 'm/model.json', featureLayer: 'dense_1' } } }), {
      family: 'layers_model',
      path: 'm/model.json',
      featureLayer: 'dense_1',
      hiddenUnits: [],
      dropout: 0,
    });
  });
});
