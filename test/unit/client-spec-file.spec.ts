// Spec files: a key the spec reader would not use, at any depth, is an error naming its path
// and, where one is close, the key likely meant.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../client/cli/args.js';
import { parseSpecText } from '../../client/cli/spec-flags.js';
import { closestKey, unreadKeys } from '../../client/cli/unread-keys.js';

const rejects = (text: string, message: RegExp): void => {
  assert.throws(
    () => parseSpecText(text, 'spec.yaml'),
    (error: unknown) => error instanceof UsageError && message.test(error.message),
  );
};

describe('spec file keys', () => {
  it('rejects unknown keys at any depth with their paths and the likely intended key', () => {
    const yaml = ['model:', '  gloveBag:', '    trainEmbeddings: true', 'optimizer:', '  learningRat: 0.01'].join('\n');
    rejects(
      yaml,
      /^spec\.yaml: unknown FineTuneSpec field\(s\): model\.gloveBag\.trainEmbeddings \(did you mean trainEmbedding\?\), optimizer\.learningRat \(did you mean learningRate\?\)$/,
    );
    rejects('{"batchsize": 8}', /unknown FineTuneSpec field\(s\): batchsize \(did you mean batchSize\?\)$/);
    rejects(
      'model:\n  glove_bag: { train_embedding: true, head: { hiden_units: [3] } }',
      /: model\.glove_bag\.head\.hiden_units \(did you mean hidden_units\?\)$/,
    );
    rejects('method:\n  dsgd: { lambda: 1, schedul: ALPHA_SCHEDULE_LINEAR }', /: method\.dsgd\.schedul \(did you mean schedule\?\)$/);
    // Nothing close: the path alone.
    rejects('method:\n  fft: { lr: 1 }\nfrobnicate: 2', /: unknown FineTuneSpec field\(s\): frobnicate, method\.fft\.lr$/);
  });

  it('reports only the unknown key, not the keys under it', () => {
    rejects('modle:\n  mlp: { hiddenUnits: [4] }', /: unknown FineTuneSpec field\(s\): modle \(did you mean model\?\)$/);
  });

  it('rejects a known key that another key overrides: two oneof cases, or both spellings of a field', () => {
    rejects(
      'train:\n  builtin: { name: BUILTIN_NAME_MNIST }\n  datasetId: abc',
      /^spec\.yaml: train\.datasetId is ignored beside train\.builtin: give one of them$/,
    );
    rejects('batchSize: 4\nbatch_size: 8', /: batch_size is ignored beside batchSize: give one of them$/);
  });

  it('accepts every known key, in either spelling', () => {
    const yaml = [
      'batch_size: 8',
      'gradientAccumulation: 2',
      'seeds: [42, 52]',
      'maxRuntime: { seconds: 60 }',
      'train:',
      '  builtin: { name: BUILTIN_NAME_MNIST, split: BUILTIN_SPLIT_TRAIN }',
      '  classes: [3, 8]',
      '  max_examples: 400',
      'imbalance: { kind: IMBALANCE_KIND_STEP, ratio: 10 }',
      'model:',
      '  glove_bag: { train_embedding: true, head: { hidden_units: [16], dropout: 0.1 } }',
      'method:',
      '  dsgd: { lambda: 1, schedule: ALPHA_SCHEDULE_COSINE }',
      'optimizer: { learningRate: 0.001 }',
      'autoRemedy: { policy: POLICY_RESTART_NEXT_SEED, window_steps: 4 }',
    ].join('\n');
    const spec = parseSpecText(yaml, 'spec.yaml');
    assert.equal(spec.batchSize, 8);
    assert.deepEqual(spec.model?.family, { $case: 'gloveBag', value: { trainEmbedding: true, head: { hiddenUnits: [16], dropout: 0.1 } } });
    assert.equal(spec.autoRemedy?.windowSteps, 4);
  });
});

describe('unreadKeys', () => {
  it('follows arrays of objects and names items by index', () => {
    const read = (document: unknown): void => {
      const { items } = document as { items: Array<{ name: unknown }> };
      items.map((item) => item.name);
    };
    const unread = unreadKeys({ items: [{ name: 'a' }, { name: 'b', nmae: 'c' }] }, read);
    assert.deepEqual(
      unread.map((key) => [key.path, closestKey(key.key, key.known)]),
      [['items[1].nmae', 'name']],
    );
  });

  it('suggests only close keys, preferring the spelling style used', () => {
    assert.equal(closestKey('learningRat', ['learningRate', 'learning_rate', 'weightDecay']), 'learningRate');
    assert.equal(closestKey('learning_rat', ['learningRate', 'learning_rate']), 'learning_rate');
    assert.equal(closestKey('lr', ['learningRate', 'epochs']), undefined);
  });
});
