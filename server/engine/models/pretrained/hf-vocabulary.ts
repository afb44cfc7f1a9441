// Moves a Hugging Face checkpoint's token embeddings onto steadytune's own vocabulary, so a
// dataset encoded by server/data's word tokenizer (ids 0-3 = [PAD] [CLS] [SEP] [UNK], then
// words) feeds the pretrained encoder unchanged, and padding stays id 0 (RoBERTa pads with 1).
// Each word takes the checkpoint row of the same token; a word the checkpoint splits into
// sub-word pieces takes the mean of the pieces' rows (an approximation: the encoder saw the
// pieces as a sequence); a word with no pieces takes the unknown-token row.

export type SubwordScheme = 'wordpiece' | 'bpe';

export interface HfVocabulary {
  /** Token strings by checkpoint id. */
  readonly tokens: readonly string[];
  /** wordpiece (BERT: '##' marks continuations) or bpe (RoBERTa: 'Ġ' marks a leading space). */
  readonly scheme: SubwordScheme;
}

/** vocab.txt: one token per line, the line number is the id. */
export function parseVocabTxt(text: string): HfVocabulary {
  const tokens = text.split(/\r?\n/);
  if (tokens.at(-1) === '') tokens.pop();
  return { tokens, scheme: 'wordpiece' };
}

/** tokenizer.json: model.vocab maps token -> id; model.type says WordPiece or BPE. */
export function parseTokenizerJson(json: unknown): HfVocabulary {
  const model = typeof json === 'object' && json !== null ? (json as Record<string, unknown>).model : undefined;
  const vocab = typeof model === 'object' && model !== null ? (model as Record<string, unknown>).vocab : undefined;
  if (typeof vocab !== 'object' || vocab === null || Array.isArray(vocab)) throw new Error('tokenizer.json has no model.vocab object');
  const tokens: string[] = [];
  for (const [token, id] of Object.entries(vocab)) {
    if (!Number.isInteger(id) || (id as number) < 0)
      throw new Error(`tokenizer.json gives token ${JSON.stringify(token)} the id ${String(id)}`);
    tokens[id as number] = token;
  }
  const type = (model as Record<string, unknown>).type;
  return { tokens: Array.from(tokens, (token) => token ?? ''), scheme: type === 'BPE' ? 'bpe' : 'wordpiece' };
}

/** steadytune's special tokens and their spellings in BERT- and RoBERTa-style vocabularies. */
const SPECIAL_SPELLINGS: Readonly<Record<string, readonly string[]>> = {
  '[PAD]': ['[PAD]', '<pad>'],
  '[CLS]': ['[CLS]', '<s>'],
  '[SEP]': ['[SEP]', '</s>'],
  '[UNK]': ['[UNK]', '<unk>'],
};

/** Greedy longest-match-first split into checkpoint tokens, as BERT's WordPiece does; undefined if impossible. */
function splitIntoPieces(word: string, idOf: ReadonlyMap<string, number>, scheme: SubwordScheme): number[] | undefined {
  const pieces: number[] = [];
  const characters = [...(scheme === 'bpe' ? `Ġ${word}` : word)];
  let start = 0;
  while (start < characters.length) {
    let found: number | undefined;
    for (let end = characters.length; end > start && found === undefined; end--) {
      const piece = characters.slice(start, end).join('');
      found = idOf.get(scheme === 'wordpiece' && start > 0 ? `##${piece}` : piece);
      if (found !== undefined) start = end;
    }
    if (found === undefined) return undefined;
    pieces.push(found);
  }
  return pieces;
}

export interface RemappedEmbeddings {
  /** Row-major [ourTokens.length, dim]. */
  readonly values: Float32Array;
  readonly exact: number;
  readonly pieced: number;
  readonly unknown: number;
}

/** The checkpoint's word embedding table [vocab.tokens.length, dim] re-indexed by `ourTokens`. */
export function remapTokenEmbeddings(
  vocabulary: HfVocabulary,
  table: Float32Array,
  dim: number,
  ourTokens: readonly string[],
): RemappedEmbeddings {
  const idOf = new Map<string, number>();
  vocabulary.tokens.forEach((token, id) => {
    if (!idOf.has(token)) idOf.set(token, id);
  });
  const unknownId = ['[UNK]', '<unk>'].map((token) => idOf.get(token)).find((id) => id !== undefined) ?? 0;
  const values = new Float32Array(ourTokens.length * dim);
  let exact = 0;
  let pieced = 0;
  let unknown = 0;
  ourTokens.forEach((token, row) => {
    const special = SPECIAL_SPELLINGS[token]?.map((spelling) => idOf.get(spelling)).find((id) => id !== undefined);
    const whole = special ?? idOf.get(token) ?? (vocabulary.scheme === 'bpe' ? idOf.get(`Ġ${token}`) : undefined);
    let ids: readonly number[];
    if (whole !== undefined) {
      ids = [whole];
      exact += 1;
    } else {
      const pieces = splitIntoPieces(token, idOf, vocabulary.scheme);
      ids = pieces ?? [unknownId];
      if (pieces) pieced += 1;
      else unknown += 1;
    }
    const target = values.subarray(row * dim, (row + 1) * dim);
    for (const id of ids) {
      for (let k = 0; k < dim; k++) target[k] += table[id * dim + k] / ids.length;
    }
  });
  return { values, exact, pieced, unknown };
}
