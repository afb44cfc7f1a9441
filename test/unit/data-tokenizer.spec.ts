import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { InMemoryDatasetRegistry } from '../../server/data/index.js';
import { buildVocabulary, encodeTexts, splitWords } from '../../server/data/tokenizer.js';
import { jsonl, makeTempRoot, type TempRoot } from '../fixtures/data-fixtures.js';

describe('tokenizer', () => {
  // Counts: the 2, cat 2, dog 1, sat 1 -> by count, then alphabetically: cat, the, dog, sat.
  const vocabulary = buildVocabulary(['the cat sat', 'the dog', 'cat']);

  it('builds a frequency-ordered vocabulary after the special tokens', () => {
    assert.deepEqual(vocabulary.tokens, ['[PAD]', '[CLS]', '[SEP]', '[UNK]', 'cat', 'the', 'dog', 'sat']);
    assert.deepEqual(splitWords('The cat sat!'), ['the', 'cat', 'sat', '!']);
  });

  it('encodes a sentence pair as [CLS] a [SEP] b [SEP] with segment ids', () => {
    const pair = [{ textA: 'The cat sat!', textB: 'A dog.' }];
    // a = the cat sat ! -> 5 4 7 [UNK]; b = a dog . -> [UNK] 6 [UNK]
    const exact = encodeTexts(pair, vocabulary, 10);
    assert.deepEqual(Array.from(exact.inputs.ids), [1, 5, 4, 7, 3, 2, 3, 6, 3, 2]);
    assert.deepEqual(Array.from(exact.inputs.segmentIds ?? []), [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]);
    assert.equal(exact.inputs.vocabSize, 8);
    assert.equal(exact.truncated, 0);

    const padded = encodeTexts(pair, vocabulary, 12);
    assert.deepEqual(Array.from(padded.inputs.ids), [1, 5, 4, 7, 3, 2, 3, 6, 3, 2, 0, 0]);
    assert.deepEqual(Array.from(padded.inputs.segmentIds ?? []), [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0]);

    // Budget 5 for 4 + 3 tokens: drop from the longer a (3 + 3), then on a tie from b (3 + 2).
    const truncated = encodeTexts(pair, vocabulary, 8);
    assert.deepEqual(Array.from(truncated.inputs.ids), [1, 5, 4, 7, 2, 3, 6, 2]);
    assert.deepEqual(Array.from(truncated.inputs.segmentIds ?? []), [0, 0, 0, 0, 0, 1, 1, 1]);
    assert.equal(truncated.truncated, 1);
  });

  it('encodes single texts without segment ids', () => {
    const single = encodeTexts([{ text: 'Cat, the DOG' }], vocabulary, 4);
    assert.deepEqual(Array.from(single.inputs.ids), [1, 4, 3, 2]);
    assert.equal(single.inputs.segmentIds, undefined);
    assert.equal(single.truncated, 1);
  });
});

describe('text datasets', () => {
  let root: TempRoot;
  before(async () => {
    root = await makeTempRoot();
  });
  after(async () => {
    await root.remove();
  });

  it('builds the vocabulary from the training split only', async () => {
    const train = await root.write(
      'train.jsonl',
      jsonl([
        { label: 'pos', text: 'good film' },
        { label: 'neg', text: 'bad film' },
      ]),
    );
    const validation = await root.write('validation.jsonl', jsonl([{ label: 'pos', text: 'great film' }]));
    const registry = new InMemoryDatasetRegistry({ dataRoot: root.dir });
    const { id, report } = await registry.register('default', {
      format: 'jsonl',
      train: { path: train },
      validation: { path: validation },
      text: { seqLen: 5 },
    });
    const dataset = await registry.get('default', id);
    assert.deepEqual(dataset.vocabulary?.tokens, ['[PAD]', '[CLS]', '[SEP]', '[UNK]', 'film', 'bad', 'good']);
    assert.equal(report.seqLen, 5);
    assert.equal(report.textPairs, false);
    // "great" is unseen in training: [UNK].
    const inputs = dataset.validation.inputs;
    assert.equal(inputs.kind, 'tokens');
    assert.deepEqual(Array.from(inputs.kind === 'tokens' ? inputs.ids : []), [1, 3, 4, 2, 0]);
  });
});
