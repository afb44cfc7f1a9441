// Streams a wink-embeddings JSON file ({"dimensions": 100, "words": [...], "vectors":
// {"word": [v1..v100, l2norm, index], ...}, "unkVector": [...]}) and keeps only the vectors of
// the given words. The GloVe file is 300 MB: parsing it whole costs seconds and over a GB of
// heap, so it is scanned chunk by chunk and only wanted vectors are parsed. Pure: the caller
// supplies the chunks (a file stream, or a string in tests) and caches the result.

/** Word vectors as plain data: row i of `values` (length dim) belongs to words[i]. */
export interface WordVectors {
  readonly dim: number;
  readonly words: readonly string[];
  readonly values: Float32Array;
}

const VECTORS_MARKER = '"vectors":{';
// The terminator after the digits: a number cut by a chunk boundary must not match early.
const DIMENSIONS = /"dimensions"\s*:\s*(\d+)\s*[,}]/;

/** Index just past the closing quote of the JSON string opening at `start`, or -1 if not in `text` yet. */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (char === 0x5c)
      i += 1; // backslash: skip the escaped character
    else if (char === 0x22) return i + 1;
  }
  return -1;
}

class VectorScanner {
  private buffer = '';
  private inVectors = false;
  private finished = false;
  private dim: number | undefined;
  private readonly found = new Map<string, Float32Array>();

  constructor(private readonly wanted: ReadonlySet<string>) {}

  push(text: string): void {
    if (this.finished) return;
    this.buffer += text;
    if (!this.inVectors) this.scanHeader();
    if (this.inVectors) this.scanEntries();
  }

  result(): WordVectors {
    if (!this.finished) throw new Error('embedding file ended before its "vectors" object closed');
    const dim = this.dim as number;
    const words = [...this.found.keys()];
    const values = new Float32Array(words.length * dim);
    words.forEach((word, row) => values.set(this.found.get(word) as Float32Array, row * dim));
    return { dim, words, values };
  }

  private scanHeader(): void {
    this.dim ??= Number(DIMENSIONS.exec(this.buffer)?.[1] ?? Number.NaN) || undefined;
    const marker = this.buffer.indexOf(VECTORS_MARKER);
    if (marker < 0) {
      // Keep enough to match a marker or a dimensions field split across chunks.
      this.buffer = this.buffer.slice(-64);
      return;
    }
    if (this.dim === undefined) throw new Error('embedding file has no "dimensions" before "vectors"');
    this.buffer = this.buffer.slice(marker + VECTORS_MARKER.length);
    this.inVectors = true;
  }

  private scanEntries(): void {
    const text = this.buffer;
    let at = 0;
    for (;;) {
      while (at < text.length && (text[at] === ',' || text[at] <= ' ')) at += 1;
      if (at >= text.length) break;
      if (text[at] === '}') {
        this.finished = true;
        break;
      }
      if (text[at] !== '"') throw new Error(`unexpected ${JSON.stringify(text[at])} in the "vectors" object`);
      const keyEnd = stringEnd(text, at);
      const open = keyEnd < 0 ? -1 : text.indexOf('[', keyEnd);
      const close = open < 0 ? -1 : text.indexOf(']', open);
      if (close < 0) break; // the entry continues in the next chunk
      const raw = text.slice(at + 1, keyEnd - 1);
      const word = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
      if (this.wanted.has(word) && !this.found.has(word)) this.found.set(word, this.parseVector(word, text.slice(open + 1, close)));
      at = close + 1;
    }
    this.buffer = text.slice(at);
  }

  private parseVector(word: string, list: string): Float32Array {
    const dim = this.dim as number;
    const numbers = list.split(',', dim).map(Number);
    if (numbers.length < dim || !numbers.every(Number.isFinite)) throw new Error(`vector of ${JSON.stringify(word)} is malformed`);
    return Float32Array.from(numbers);
  }
}

/** The vectors of `vocabulary`'s words that the file has (words it lacks are simply absent). */
export async function filterWinkEmbeddings(
  chunks: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
  vocabulary: Iterable<string>,
): Promise<WordVectors> {
  const scanner = new VectorScanner(new Set(vocabulary));
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for await (const chunk of chunks) {
    scanner.push(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
  }
  scanner.push(decoder.decode());
  return scanner.result();
}

/** Where filtered vectors are kept between jobs: a Map, or server/data's FileVectorCache. */
export interface VectorStore {
  get(key: string): WordVectors | undefined | Promise<WordVectors | undefined>;
  set(key: string, vectors: WordVectors): unknown;
}

/**
 * The vocabulary's vectors from the store, or filtered from `openSource()` once and stored.
 * `key` must identify the source file and the vocabulary (server/data: vocabularyKey).
 */
export async function cachedWordVectors(
  store: VectorStore,
  key: string,
  vocabulary: readonly string[],
  openSource: () => AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
): Promise<{ vectors: WordVectors; hit: boolean }> {
  const stored = await store.get(key);
  if (stored !== undefined) return { vectors: stored, hit: true };
  const vectors = await filterWinkEmbeddings(openSource(), vocabulary);
  await store.set(key, vectors);
  return { vectors, hit: false };
}
