// Filters the 300 MB wink GloVe file to one vocabulary, once, into the vector cache the server
// reads (so no job ever parses the whole file). The vocabulary is a text file with one token
// per line in id order (server/data's Vocabulary.tokens).
//
//   node --import tsx scripts/filter-glove.ts --vocabulary vocab.txt --cache /var/lib/steadytune/vectors [--source glove.json]

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

import { FileVectorCache, vocabularyKey } from '../server/data/features-cache.js';
import { gloveFileChunks, WINK_GLOVE_SOURCE, winkGlovePath } from '../server/data/pretrained-files.js';
import { cachedWordVectors } from '../server/engine/models/pretrained/glove-filter.js';

const { values } = parseArgs({
  options: { vocabulary: { type: 'string' }, cache: { type: 'string' }, source: { type: 'string' } },
});
if (values.vocabulary === undefined || values.cache === undefined) {
  console.error('usage: filter-glove.ts --vocabulary <tokens.txt> --cache <directory> [--source <wink-embeddings json>]');
  process.exit(2);
}
const tokens = (await readFile(values.vocabulary, 'utf8'))
  .split('\n')
  .filter((token, index, all) => token !== '' || index < all.length - 1);
const source = values.source ?? winkGlovePath();
const started = performance.now();
const key = vocabularyKey(WINK_GLOVE_SOURCE, tokens);
const { vectors, hit } = await cachedWordVectors(new FileVectorCache(values.cache), key, tokens, () => gloveFileChunks(source));
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(
  `${hit ? 'already cached' : `filtered ${source}`} in ${seconds} s: ${vectors.words.length} of ${tokens.length} tokens have ` +
    `${vectors.dim}-d vectors; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB; key ${key}`,
);
