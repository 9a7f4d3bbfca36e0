/**
 * Feature transformers for the shallow models: every one is fitted on the training split
 * only and then applied unchanged to validation and test, so nothing leaks from held-out data.
 * Each has toJSON()/fromJSON() so a fitted transformer can be cached beside its model.
 */

export type Rows = ArrayLike<ArrayLike<number>>;

// ---------------------------------------------------------------------------
// Standardiser
// ---------------------------------------------------------------------------

export interface StandardiserState {
  mean: number[];
  /** Population standard deviation (ddof 0, as sklearn); 1 for a constant column. */
  scale: number[];
}

/** Per-column (x - mean) / std. A constant column maps to 0 instead of dividing by zero. */
export class Standardiser {
  private state: StandardiserState | null = null;

  fit(X: Rows): this {
    if (X.length === 0) throw new Error('Standardiser.fit: no rows');
    const p = X[0].length;
    const mean = new Array<number>(p).fill(0);
    for (let i = 0; i < X.length; i++) {
      const row = X[i];
      if (row.length !== p) throw new Error(`Standardiser.fit: row ${i} has ${row.length} columns, row 0 has ${p}`);
      for (let j = 0; j < p; j++) {
        if (!Number.isFinite(row[j])) throw new Error(`Standardiser.fit: X[${i}][${j}] is not finite: ${row[j]}`);
        mean[j] += row[j];
      }
    }
    for (let j = 0; j < p; j++) mean[j] /= X.length;
    // Two passes (mean, then squared deviations) avoid the cancellation of E[x²] - E[x]².
    const variance = new Array<number>(p).fill(0);
    for (let i = 0; i < X.length; i++) {
      const row = X[i];
      for (let j = 0; j < p; j++) variance[j] += (row[j] - mean[j]) ** 2;
    }
    const scale = variance.map((v, j) => {
      const sd = Math.sqrt(v / X.length);
      // Relative threshold: rounding leaves a tiny non-zero spread on constant columns.
      return sd <= 1e-12 * Math.max(1, Math.abs(mean[j])) ? 1 : sd;
    });
    this.state = { mean, scale };
    return this;
  }

  transform(X: Rows): number[][] {
    const { mean, scale } = this.fitted();
    const out: number[][] = [];
    for (let i = 0; i < X.length; i++) {
      const row = X[i];
      if (row.length !== mean.length) {
        throw new Error(`Standardiser.transform: row ${i} has ${row.length} columns, fitted on ${mean.length}`);
      }
      const z = new Array<number>(mean.length);
      for (let j = 0; j < mean.length; j++) z[j] = (row[j] - mean[j]) / scale[j];
      out.push(z);
    }
    return out;
  }

  fitTransform(X: Rows): number[][] {
    return this.fit(X).transform(X);
  }

  inverseTransform(Z: Rows): number[][] {
    const { mean, scale } = this.fitted();
    const out: number[][] = [];
    for (let i = 0; i < Z.length; i++) {
      const x = new Array<number>(mean.length);
      for (let j = 0; j < mean.length; j++) x[j] = Z[i][j] * scale[j] + mean[j];
      out.push(x);
    }
    return out;
  }

  get mean(): number[] {
    return this.fitted().mean.slice();
  }

  get scale(): number[] {
    return this.fitted().scale.slice();
  }

  toJSON(): StandardiserState {
    const s = this.fitted();
    return { mean: s.mean.slice(), scale: s.scale.slice() };
  }

  static fromJSON(state: StandardiserState): Standardiser {
    if (state.mean.length !== state.scale.length) throw new Error('Standardiser.fromJSON: mean and scale differ in length');
    const s = new Standardiser();
    s.state = { mean: state.mean.slice(), scale: state.scale.slice() };
    return s;
  }

  private fitted(): StandardiserState {
    if (!this.state) throw new Error('Standardiser is not fitted: call fit(trainRows) first');
    return this.state;
  }
}

// ---------------------------------------------------------------------------
// One-hot encoder
// ---------------------------------------------------------------------------

export interface OneHotOptions {
  /**
   * What a category never seen in training (or too rare to keep) becomes:
   * 'ignore' (default) → all zeros; 'other' → a dedicated last column named OTHER_CATEGORY.
   */
  handleUnknown?: 'ignore' | 'other';
  /** Keep a category only if it occurs at least this many times in training (default 1). */
  minFrequency?: number;
  /** Keep at most this many categories, the most frequent first (ties by name). */
  maxCategories?: number;
}

export interface OneHotState {
  categories: string[];
  handleUnknown: 'ignore' | 'other';
}

export const OTHER_CATEGORY = '__other__';

/** Missing values (null, undefined, '') are a category of their own, spelled ''. */
function categoryKey(value: string | number | null | undefined): string {
  return value === null || value === undefined ? '' : String(value);
}

/** One column per training category (sorted by name, as sklearn), fitted on one categorical variable. */
export class OneHotEncoder {
  private state: OneHotState | null = null;
  private index = new Map<string, number>();

  constructor(private readonly options: OneHotOptions = {}) {}

  fit(values: ArrayLike<string | number | null | undefined>): this {
    if (values.length === 0) throw new Error('OneHotEncoder.fit: no values');
    const minFrequency = this.options.minFrequency ?? 1;
    const counts = new Map<string, number>();
    for (let i = 0; i < values.length; i++) {
      const key = categoryKey(values[i]);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    let kept = [...counts.entries()].filter(([, c]) => c >= minFrequency);
    const maxCategories = this.options.maxCategories;
    if (maxCategories !== undefined && kept.length > maxCategories) {
      kept = kept.sort((a, b) => b[1] - a[1] || compareStrings(a[0], b[0])).slice(0, maxCategories);
    }
    const categories = kept.map(([k]) => k).sort(compareStrings);
    if (categories.length === 0) {
      throw new Error(`OneHotEncoder.fit: no category occurs at least minFrequency=${minFrequency} times`);
    }
    this.setState({ categories, handleUnknown: this.options.handleUnknown ?? 'ignore' });
    return this;
  }

  transform(values: ArrayLike<string | number | null | undefined>): number[][] {
    const { categories, handleUnknown } = this.fitted();
    const width = this.width;
    const out: number[][] = [];
    for (let i = 0; i < values.length; i++) {
      const row = new Array<number>(width).fill(0);
      const col = this.index.get(categoryKey(values[i]));
      if (col !== undefined) row[col] = 1;
      else if (handleUnknown === 'other') row[categories.length] = 1;
      out.push(row);
    }
    return out;
  }

  fitTransform(values: ArrayLike<string | number | null | undefined>): number[][] {
    return this.fit(values).transform(values);
  }

  /** Column count: the kept categories, plus one for OTHER_CATEGORY when handleUnknown is 'other'. */
  get width(): number {
    const s = this.fitted();
    return s.categories.length + (s.handleUnknown === 'other' ? 1 : 0);
  }

  get categories(): string[] {
    return this.fitted().categories.slice();
  }

  /** Column names such as "county=Kent" (and "county=__other__"). */
  featureNames(prefix: string): string[] {
    const s = this.fitted();
    const names = s.categories.map((c) => `${prefix}=${c}`);
    if (s.handleUnknown === 'other') names.push(`${prefix}=${OTHER_CATEGORY}`);
    return names;
  }

  toJSON(): OneHotState {
    const s = this.fitted();
    return { categories: s.categories.slice(), handleUnknown: s.handleUnknown };
  }

  static fromJSON(state: OneHotState): OneHotEncoder {
    const e = new OneHotEncoder({ handleUnknown: state.handleUnknown });
    e.setState({ categories: state.categories.slice(), handleUnknown: state.handleUnknown });
    return e;
  }

  private setState(state: OneHotState): void {
    this.state = state;
    this.index = new Map(state.categories.map((c, i) => [c, i]));
  }

  private fitted(): OneHotState {
    if (!this.state) throw new Error('OneHotEncoder is not fitted: call fit(trainValues) first');
    return this.state;
  }
}

/** Code-point order, independent of the machine's locale. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---------------------------------------------------------------------------
// TF-IDF
// ---------------------------------------------------------------------------

/** Lower-cased runs of two or more letters or digits (sklearn's default token pattern, Unicode-aware). */
export function tokenise(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]{2,}/gu) ?? [];
}

/** The character n-grams (lengths min..max) of each word padded as ` word `, each marked with CHAR_NGRAM_MARK. */
export function charNgrams(words: readonly string[], [min, max]: [number, number]): string[] {
  if (!(Number.isInteger(min) && Number.isInteger(max) && min >= 1 && max >= min)) throw new Error(`character n-gram lengths must be integers 1 ≤ min ≤ max, got [${min}, ${max}]`);
  const out: string[] = [];
  for (const w of words) {
    const padded = ` ${w} `;
    for (let n = min; n <= max; n++) for (let i = 0; i + n <= padded.length; i++) out.push(CHAR_NGRAM_MARK + padded.slice(i, i + n));
  }
  return out;
}

export interface TfidfOptions {
  /** Keep the terms with the highest document frequency (ties by term), at most this many. */
  maxFeatures?: number;
  /** Drop terms in fewer documents than this: a count (>= 1) or a fraction of documents (< 1). Default 1. */
  minDf?: number;
  /** Drop terms in more documents than this fraction (default 1: keep all). */
  maxDf?: number;
  /** Use 1 + ln(tf) instead of raw counts (default false). */
  sublinearTf?: boolean;
  /** Words never used as terms (compared after lower-casing). */
  stopWords?: Iterable<string>;
  /** Divide each row by its Euclidean norm (default true). */
  l2Normalise?: boolean;
  /**
   * Also the character n-grams of each word, lengths [min, max], the word padded with a space on
   * each side (sklearn's char_wb): they match word parts, misspellings and glued words
   * (`"bossgood"` shares `"boss"`'s n-grams). They form a second block of terms, l2-normalised
   * apart from the words' block (then the row again), so a word's many n-grams weigh as much
   * together as the words do, not ten times more.
   */
  charNgrams?: [number, number];
}

export interface SparseRow {
  /** Column indices, ascending. */
  indices: number[];
  values: number[];
}

export interface TfidfState {
  /** Terms in column order (alphabetical, as sklearn). */
  vocabulary: string[];
  idf: number[];
  sublinearTf: boolean;
  l2Normalise: boolean;
  stopWords: string[];
  /** Character n-gram lengths [min, max] (absent: words only). */
  charNgrams?: [number, number];
}

/** Marks a character n-gram term (never part of a word token) so it cannot collide with a word. */
export const CHAR_NGRAM_MARK = '#';

/**
 * TF-IDF with sklearn's defaults: smooth idf = ln((1 + nDocs) / (1 + df)) + 1, raw term
 * counts (or 1 + ln(tf)), rows l2-normalised. A document with no known term is a zero row.
 */
export class TfidfVectoriser {
  private state: TfidfState | null = null;
  private index = new Map<string, number>();
  /** 1 where the vocabulary's term is a character n-gram. */
  private isCharTerm = new Uint8Array(0);
  private stop = new Set<string>();

  constructor(private readonly options: TfidfOptions = {}) {
    for (const w of options.stopWords ?? []) this.stop.add(w.toLowerCase());
    if (options.charNgrams) charNgrams([], options.charNgrams); // checks the lengths now, not at fit
  }

  fit(docs: ArrayLike<string>): this {
    const nDocs = docs.length;
    if (nDocs === 0) throw new Error('TfidfVectoriser.fit: no documents');
    const minDf = this.options.minDf ?? 1;
    const maxDf = this.options.maxDf ?? 1;
    if (!(minDf > 0)) throw new Error(`minDf must be > 0 (a count >= 1 or a fraction < 1), got ${minDf}`);
    if (!(maxDf > 0 && maxDf <= 1)) throw new Error(`maxDf must be a fraction in (0, 1], got ${maxDf}`);
    const minCount = minDf >= 1 ? minDf : Math.ceil(minDf * nDocs);
    const maxCount = Math.floor(maxDf * nDocs);

    const df = new Map<string, number>();
    for (let d = 0; d < nDocs; d++) {
      for (const term of new Set(this.terms(docs[d]))) df.set(term, (df.get(term) ?? 0) + 1);
    }
    let kept = [...df.entries()].filter(([, c]) => c >= minCount && c <= maxCount);
    const maxFeatures = this.options.maxFeatures;
    if (maxFeatures !== undefined && kept.length > maxFeatures) {
      kept = kept.sort((a, b) => b[1] - a[1] || compareStrings(a[0], b[0])).slice(0, maxFeatures);
    }
    if (kept.length === 0) {
      throw new Error(`TfidfVectoriser.fit: no term left after minDf=${minDf} / maxDf=${maxDf} (${df.size} distinct terms)`);
    }
    kept.sort((a, b) => compareStrings(a[0], b[0]));
    this.setState({
      vocabulary: kept.map(([t]) => t),
      idf: kept.map(([, c]) => Math.log((1 + nDocs) / (1 + c)) + 1),
      sublinearTf: this.options.sublinearTf ?? false,
      l2Normalise: this.options.l2Normalise ?? true,
      stopWords: [...this.stop].sort(compareStrings),
      ...(this.options.charNgrams ? { charNgrams: this.options.charNgrams } : {}),
    });
    return this;
  }

  /** One sparse row per document. */
  transformSparse(docs: ArrayLike<string>): SparseRow[] {
    const s = this.fitted();
    const rows: SparseRow[] = [];
    for (let d = 0; d < docs.length; d++) {
      const counts = new Map<number, number>();
      for (const term of this.terms(docs[d])) {
        const col = this.index.get(term);
        if (col !== undefined) counts.set(col, (counts.get(col) ?? 0) + 1);
      }
      const indices = [...counts.keys()].sort((a, b) => a - b);
      const values = indices.map((col) => {
        const tf = counts.get(col)!;
        return (s.sublinearTf ? 1 + Math.log(tf) : tf) * s.idf[col];
      });
      if (s.l2Normalise) {
        if (s.charNgrams) {
          // Each block (words, character n-grams) to unit length first.
          const norms = [0, 0];
          indices.forEach((col, k) => { norms[this.isCharTerm[col]] += values[k] * values[k]; });
          indices.forEach((col, k) => { const n = norms[this.isCharTerm[col]]; if (n > 0) values[k] /= Math.sqrt(n); });
        }
        const norm = Math.sqrt(values.reduce((acc, v) => acc + v * v, 0));
        if (norm > 0) for (let k = 0; k < values.length; k++) values[k] /= norm;
      }
      rows.push({ indices, values });
    }
    return rows;
  }

  /** Dense rows (documents × vocabulary size). */
  transform(docs: ArrayLike<string>): number[][] {
    const width = this.fitted().vocabulary.length;
    return this.transformSparse(docs).map((row) => {
      const dense = new Array<number>(width).fill(0);
      for (let k = 0; k < row.indices.length; k++) dense[row.indices[k]] = row.values[k];
      return dense;
    });
  }

  fitTransform(docs: ArrayLike<string>): number[][] {
    return this.fit(docs).transform(docs);
  }

  get vocabulary(): string[] {
    return this.fitted().vocabulary.slice();
  }

  get idf(): number[] {
    return this.fitted().idf.slice();
  }

  toJSON(): TfidfState {
    const s = this.fitted();
    return { ...s, vocabulary: s.vocabulary.slice(), idf: s.idf.slice(), stopWords: s.stopWords.slice() };
  }

  static fromJSON(state: TfidfState): TfidfVectoriser {
    if (state.vocabulary.length !== state.idf.length) throw new Error('TfidfVectoriser.fromJSON: vocabulary and idf differ in length');
    const v = new TfidfVectoriser({ stopWords: state.stopWords });
    v.setState({ ...state, vocabulary: state.vocabulary.slice(), idf: state.idf.slice(), stopWords: state.stopWords.slice() });
    return v;
  }

  private terms(doc: string): string[] {
    if (typeof doc !== 'string') throw new Error(`TfidfVectoriser: a document is ${typeof doc}, not a string`);
    const tokens = tokenise(doc);
    const words = this.stop.size === 0 ? tokens : tokens.filter((t) => !this.stop.has(t));
    const range = this.state?.charNgrams ?? this.options.charNgrams;
    return range ? [...words, ...charNgrams(words, range)] : words;
  }

  private setState(state: TfidfState): void {
    this.state = state;
    this.index = new Map(state.vocabulary.map((t, i) => [t, i]));
    this.isCharTerm = Uint8Array.from(state.vocabulary, (t) => (t.startsWith(CHAR_NGRAM_MARK) ? 1 : 0));
  }

  private fitted(): TfidfState {
    if (!this.state) throw new Error('TfidfVectoriser is not fitted: call fit(trainDocs) first');
    return this.state;
  }
}

/** Side-by-side concatenation of feature blocks with the same number of rows. */
export function hstack(...blocks: Rows[]): number[][] {
  if (blocks.length === 0) throw new Error('hstack needs at least one block');
  const n = blocks[0].length;
  blocks.forEach((b, k) => {
    if (b.length !== n) throw new Error(`hstack: block ${k} has ${b.length} rows, block 0 has ${n}`);
  });
  const out: number[][] = [];
  for (let i = 0; i < n; i++) {
    const row: number[] = [];
    for (const b of blocks) for (let j = 0; j < b[i].length; j++) row.push(b[i][j]);
    out.push(row);
  }
  return out;
}
