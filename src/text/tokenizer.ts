/**
 * Word tokens, a vocabulary fitted on the TRAIN split only, and fixed-length id sequences
 * for the text CNN.
 *
 * Tokenising (`tokenizeText`):
 * - words glued by the listing export are split first: a lower→upper case change
 *   ("bossGood condition" → "boss Good condition") and a letter↔digit change ("26inch" → "26 inch",
 *   "ps4" → "ps 4": a convolution window sees the pair again, and both halves are in GloVe);
 * - lower-casing; possessive "'s" dropped, other apostrophes removed ("don't" → "dont");
 * - every other non-letter, non-digit character (punctuation, £, emoji) separates tokens;
 * - numbers stay tokens ("2", "360", "2.5" → "2", "5"); the vocabulary keeps frequent ones and
 *   maps the rest to NUM_TOKEN rather than UNK_TOKEN.
 *
 * Title and description: one sequence, `title <sep> description`, truncated at the end and padded
 * with PAD_TOKEN (id 0). The title comes first so truncation never cuts it; the separator lets
 * a convolution tell the (short, dense) title from the description.
 */

export const PAD_TOKEN = '<pad>';
export const UNK_TOKEN = '<unk>';
export const NUM_TOKEN = '<num>';
export const SEP_TOKEN = '<sep>';
/** Reserved ids: PAD = 0 (masked/zero vector), UNK = 1, NUM = 2, SEP = 3. */
export const SPECIAL_TOKENS = [PAD_TOKEN, UNK_TOKEN, NUM_TOKEN, SEP_TOKEN] as const;
export const PAD_ID = 0;
export const UNK_ID = 1;
export const NUM_ID = 2;
export const SEP_ID = 3;

const IS_NUMBER = /^\p{N}+$/u;

/** Lower-cased word and number tokens of a text (see the module comment for the rules). */
export function tokenizeText(text: string): string[] {
  if (typeof text !== 'string') throw new Error(`tokenizeText: expected a string, got ${typeof text}`);
  const spaced = text
    // camelCase glue from lost line breaks: "bossGood" → "boss Good" (not "iPhone": one lower letter then upper is kept)
    .replace(/(\p{Ll}{2,})(\p{Lu})/gu, '$1 $2')
    // letters and digits apart: "26inch" → "26 inch", "ps4" → "ps 4"
    .replace(/(\p{L})(\p{N})/gu, '$1 $2')
    .replace(/(\p{N})(\p{L})/gu, '$1 $2')
    .toLowerCase()
    // possessive 's and apostrophes inside words
    .replace(/(\p{L})['’]s\b/gu, '$1')
    .replace(/(\p{L})['’](\p{L})/gu, '$1$2');
  return spaced.match(/[\p{L}\p{N}]+/gu) ?? [];
}

export function isNumberToken(token: string): boolean {
  return IS_NUMBER.test(token);
}

/** A product's text as the two fields the models use. */
export interface TextFields {
  title: string;
  description: string;
}

/** Tokens of title and description, kept apart (encode joins them with SEP_TOKEN). */
export interface TokenisedText {
  title: string[];
  description: string[];
}

export function tokenizeFields(fields: TextFields): TokenisedText {
  return { title: tokenizeText(fields.title ?? ''), description: tokenizeText(fields.description ?? '') };
}

/** Length of the joined sequence `title <sep> description` (before truncation). */
export function joinedLength(t: TokenisedText): number {
  return t.title.length + 1 + t.description.length;
}

export interface VocabularyOptions {
  /** Keep a token only if it occurs at least this often in the training documents (default 2). */
  minCount?: number;
  /** Keep at most this many tokens besides the special ones, the most frequent first. */
  maxSize?: number;
}

export interface VocabularyState {
  /** Tokens in id order, starting with SPECIAL_TOKENS. */
  tokens: string[];
  /** Training-corpus count of each token (0 for the special tokens). */
  counts: number[];
  minCount: number;
}

/**
 * Token ↔ id, fitted on training documents only. Ids: the special tokens first, then tokens by
 * descending training count (ties in code-point order), so the same corpus always gives the
 * same ids — and the same `hash()`, which keys the trimmed word-vector cache.
 */
export class Vocabulary {
  readonly tokens: string[];
  readonly counts: number[];
  readonly minCount: number;
  private readonly index: Map<string, number>;

  private constructor(state: VocabularyState) {
    SPECIAL_TOKENS.forEach((t, i) => {
      if (state.tokens[i] !== t) throw new Error(`Vocabulary: token ${i} must be ${t}, got ${state.tokens[i]}`);
    });
    if (state.counts.length !== state.tokens.length) throw new Error('Vocabulary: tokens and counts differ in length');
    this.tokens = state.tokens.slice();
    this.counts = state.counts.slice();
    this.minCount = state.minCount;
    this.index = new Map(this.tokens.map((t, i) => [t, i]));
    if (this.index.size !== this.tokens.length) throw new Error('Vocabulary: duplicate tokens');
  }

  /** Fit on tokenised training documents (each document: a list of tokens). */
  static fit(documents: Iterable<readonly string[]>, options: VocabularyOptions = {}): Vocabulary {
    const minCount = options.minCount ?? 2;
    if (!(Number.isInteger(minCount) && minCount >= 1)) throw new Error(`minCount must be an integer >= 1, got ${minCount}`);
    const counts = new Map<string, number>();
    for (const doc of documents) for (const t of doc) counts.set(t, (counts.get(t) ?? 0) + 1);
    const special = new Set<string>(SPECIAL_TOKENS);
    let kept = [...counts.entries()].filter(([t, c]) => c >= minCount && !special.has(t));
    kept.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    if (options.maxSize !== undefined) kept = kept.slice(0, options.maxSize);
    return new Vocabulary({
      tokens: [...SPECIAL_TOKENS, ...kept.map(([t]) => t)],
      counts: [...SPECIAL_TOKENS.map(() => 0), ...kept.map(([, c]) => c)],
      minCount,
    });
  }

  static fromJSON(state: VocabularyState): Vocabulary {
    return new Vocabulary(state);
  }

  toJSON(): VocabularyState {
    return { tokens: this.tokens.slice(), counts: this.counts.slice(), minCount: this.minCount };
  }

  get size(): number {
    return this.tokens.length;
  }

  has(token: string): boolean {
    return this.index.has(token);
  }

  /** The id of a token: its own, else NUM_ID for a number, else UNK_ID. */
  id(token: string): number {
    const id = this.index.get(token);
    if (id !== undefined) return id;
    return isNumberToken(token) ? NUM_ID : UNK_ID;
  }

  token(id: number): string {
    const t = this.tokens[id];
    if (t === undefined) throw new Error(`Vocabulary: no token with id ${id} (size ${this.size})`);
    return t;
  }

  ids(tokens: readonly string[]): number[] {
    return tokens.map((t) => this.id(t));
  }

  /** FNV-1a over the tokens in id order, as 8 hex digits: names caches built from this vocabulary. */
  hash(): string {
    let h = 0x811c9dc5;
    const text = this.tokens.join('\n');
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    return (h >>> 0).toString(16).padStart(8, '0');
  }

  /** Share of the tokens of `documents` that get their own id (not UNK or NUM). */
  tokenCoverage(documents: Iterable<readonly string[]>): { tokens: number; known: number; unknown: number; numbers: number; fraction: number } {
    let tokens = 0;
    let known = 0;
    let numbers = 0;
    for (const doc of documents) {
      for (const t of doc) {
        tokens++;
        const id = this.id(t);
        if (id === NUM_ID) numbers++;
        else if (id !== UNK_ID) known++;
      }
    }
    return { tokens, known, numbers, unknown: tokens - known - numbers, fraction: tokens ? known / tokens : 0 };
  }
}

/**
 * Ids of `title <sep> description`, cut or padded (with PAD_ID at the end) to `maxLength`.
 * `titleRepeats` > 1 writes the title that many times (each followed by <sep>) to weigh it more.
 */
export function encodeFields(vocab: Vocabulary, text: TokenisedText, maxLength: number, titleRepeats = 1): Int32Array {
  if (!(Number.isInteger(maxLength) && maxLength > 0)) throw new Error(`maxLength must be a positive integer, got ${maxLength}`);
  const out = new Int32Array(maxLength); // zeros = PAD_ID
  let k = 0;
  const push = (id: number) => {
    if (k < maxLength) out[k++] = id;
  };
  for (let r = 0; r < titleRepeats; r++) {
    for (const t of text.title) push(vocab.id(t));
    push(SEP_ID);
  }
  for (const t of text.description) push(vocab.id(t));
  return out;
}

/** Many documents as one row-major [n, maxLength] Int32Array (ready for tf.tensor2d). */
export function encodeBatch(vocab: Vocabulary, texts: readonly TokenisedText[], maxLength: number, titleRepeats = 1): Int32Array {
  const out = new Int32Array(texts.length * maxLength);
  texts.forEach((t, i) => out.set(encodeFields(vocab, t, maxLength, titleRepeats), i * maxLength));
  return out;
}

/**
 * A sequence length from the training length distribution: the `quantile` of the lengths,
 * rounded up to a multiple of `multiple`, clamped to [minLength, maxLength].
 */
export function chooseMaxLength(
  lengths: readonly number[],
  options: { quantile?: number; multiple?: number; minLength?: number; maxLength?: number } = {},
): number {
  if (lengths.length === 0) throw new Error('chooseMaxLength: no lengths');
  const q = options.quantile ?? 0.95;
  const multiple = options.multiple ?? 16;
  const sorted = lengths.slice().sort((a, b) => a - b);
  const at = sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? sorted[0];
  const rounded = Math.ceil(Math.max(1, at) / multiple) * multiple;
  return Math.min(options.maxLength ?? Infinity, Math.max(options.minLength ?? multiple, rounded));
}

/** Share of documents whose joined sequence fits in `maxLength` without truncation. */
export function fractionUntruncated(lengths: readonly number[], maxLength: number): number {
  return lengths.length ? lengths.filter((l) => l <= maxLength).length / lengths.length : 0;
}
