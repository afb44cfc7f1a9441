// A small word-level tokenizer for training text classifiers from scratch: lowercase words
// and single punctuation marks, a vocabulary built from the training split only (so the
// validation split cannot leak into it), and BERT-style [CLS] a [SEP] b [SEP] framing.

import type { TokenInputs } from '../engine/tf-free.js';

export const PAD_ID = 0;
export const CLS_ID = 1;
export const SEP_ID = 2;
export const UNK_ID = 3;
export const SPECIAL_TOKENS: readonly string[] = ['[PAD]', '[CLS]', '[SEP]', '[UNK]'];

export type TextExample = { readonly text: string } | { readonly textA: string; readonly textB: string };

/** Runs of letters/digits, or any single other non-space character. */
const WORD = /[\p{L}\p{M}\p{N}]+|[^\s\p{L}\p{M}\p{N}]/gu;

export function splitWords(text: string): string[] {
  return text.normalize('NFC').toLowerCase().match(WORD) ?? [];
}

/** Token strings by id; ids 0-3 are SPECIAL_TOKENS. Plain data, so it can be persisted. */
export class Vocabulary {
  private readonly idsByToken: ReadonlyMap<string, number>;

  constructor(readonly tokens: readonly string[]) {
    this.idsByToken = new Map(tokens.map((token, id) => [token, id]));
  }

  get size(): number {
    return this.tokens.length;
  }

  idOf(word: string): number {
    return this.idsByToken.get(word) ?? UNK_ID;
  }
}

export interface VocabularyOptions {
  /** Including the 4 special tokens. */
  readonly maxSize?: number;
  /** Words seen fewer times become [UNK]. */
  readonly minCount?: number;
}

/** Words ordered by frequency (descending), ties by code-unit order, for a stable id map. */
export function buildVocabulary(texts: Iterable<string>, options: VocabularyOptions = {}): Vocabulary {
  const { maxSize = 30_000, minCount = 1 } = options;
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const word of splitWords(text)) counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  const words = [...counts]
    .filter(([word, count]) => count >= minCount && !SPECIAL_TOKENS.includes(word))
    .sort(([wordA, countA], [wordB, countB]) => countB - countA || (wordA < wordB ? -1 : wordA > wordB ? 1 : 0))
    .slice(0, Math.max(0, maxSize - SPECIAL_TOKENS.length))
    .map(([word]) => word);
  return new Vocabulary([...SPECIAL_TOKENS, ...words]);
}

export interface EncodedTexts {
  readonly inputs: TokenInputs;
  /** Examples that lost tokens to truncation. */
  readonly truncated: number;
}

/** Shortens the longer of the two segments one token at a time, as BERT does. */
function truncatePair(first: number[], second: number[], budget: number): void {
  while (first.length + second.length > budget) {
    if (first.length > second.length) first.pop();
    else second.pop();
  }
}

/**
 * Encodes texts as [CLS] a [SEP] (single) or [CLS] a [SEP] b [SEP] (pairs), truncated and
 * padded with [PAD] to seqLen. Segment ids (0 for [CLS], a and its [SEP]; 1 for b and its
 * [SEP]; 0 for padding) are present only when the examples are pairs. All examples must be
 * of one kind; seqLen must be at least 3.
 */
export function encodeTexts(
  examples: readonly TextExample[],
  vocabulary: Vocabulary,
  seqLen: number,
  /** Explicit for empty lists, so an empty split still matches its paired sibling. */
  pairs = examples[0] !== undefined && 'textA' in examples[0],
): EncodedTexts {
  if (!Number.isInteger(seqLen) || seqLen < 3) throw new RangeError(`seqLen must be an integer >= 3, got ${seqLen}`);
  const ids = new Int32Array(examples.length * seqLen);
  const segmentIds = pairs ? new Int32Array(examples.length * seqLen) : undefined;
  let truncated = 0;
  examples.forEach((example, row) => {
    const offset = row * seqLen;
    const encode = (text: string): number[] => splitWords(text).map((word) => vocabulary.idOf(word));
    let tokens: number[];
    if ('textA' in example) {
      if (!pairs) throw new TypeError('examples mix single texts and pairs');
      const first = encode(example.textA);
      const second = encode(example.textB);
      const before = first.length + second.length;
      truncatePair(first, second, seqLen - 3);
      if (first.length + second.length < before) truncated += 1;
      tokens = [CLS_ID, ...first, SEP_ID, ...second, SEP_ID];
      segmentIds?.fill(1, offset + first.length + 2, offset + tokens.length);
    } else {
      if (pairs) throw new TypeError('examples mix single texts and pairs');
      const words = encode(example.text);
      if (words.length > seqLen - 2) truncated += 1;
      tokens = [CLS_ID, ...words.slice(0, seqLen - 2), SEP_ID];
    }
    ids.set(tokens, offset);
  });
  const inputs: TokenInputs =
    segmentIds === undefined
      ? { kind: 'tokens', ids, seqLen, vocabSize: vocabulary.size }
      : { kind: 'tokens', ids, segmentIds, seqLen, vocabSize: vocabulary.size };
  return { inputs, truncated };
}
