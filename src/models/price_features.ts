/**
 * The design matrix for price regression, fitted on the training split only.
 *
 * Blocks, in column order:
 *  - main category one-hot (13 columns);
 *  - sub-category one-hot: the first `subCategoryDepth` levels below the main category, keyed
 *    with the main category ("Home & Garden / Garden & Patio"), kept if seen at least
 *    `subCategoryMinFrequency` times in training; rarer or unseen ones are all zeros;
 *  - county one-hot, same rule with `countyMinFrequency` (a listing without county is '');
 *  - text lengths: ln(1 + words) of title and of description, standardised with train statistics;
 *  - TF-IDF of the title (`titleTfidf` terms, 0 = none) and of the description
 *    (`descriptionTfidf` terms, sublinear tf, English stop words removed), each l2-normalised.
 *
 * One-hot and TF-IDF columns are left unscaled (0/1 and unit-norm rows), as usual with
 * sklearn's Ridge/Lasso on such features; only the two length columns are standardised.
 * Targets: price in £ and ln(price); rows without a usable price (hasUsablePrice) are
 * excluded by `pricedRows`, never imputed.
 */
import { OneHotEncoder, Standardiser, TfidfVectoriser, type OneHotState, type StandardiserState, type TfidfState } from './features';

/** The listing fields the features read (a Listing or ProductRow has them all). */
export interface PriceFeatureInput {
  title: string;
  description: string;
  mainCategory: string;
  subCategory: string;
  county: string;
}

export interface PriceFeatureOptions {
  /** Levels of the sub-category path kept below the main category (default 1; 0 = no sub-category block). */
  subCategoryDepth?: number;
  /** Training listings a sub-category needs to get a column (default 5). */
  subCategoryMinFrequency?: number;
  /** Include the county block (default true). */
  county?: boolean;
  /** Training listings a county needs to get a column (default 10). */
  countyMinFrequency?: number;
  /** Include the two text-length columns (default true). */
  lengths?: boolean;
  /** Title TF-IDF terms, most frequent first (default 300; 0 = no block). */
  titleTfidf?: number;
  /** Description TF-IDF terms (default 300; 0 = no block). */
  descriptionTfidf?: number;
  /** Minimum document frequency of a TF-IDF term, in training listings (default 3). */
  tfidfMinDf?: number;
}

/** A contiguous run of columns with one meaning. */
export interface FeatureBlock {
  name: string;
  start: number;
  width: number;
}

/** Common English words with no price information, removed from descriptions. */
export const ENGLISH_STOP_WORDS: readonly string[] = (
  'a about above after again all am an and any are as at be because been before being below between both but by can ' +
  'could did do does doing down during each few for from further had has have having he her here hers him his how ' +
  'if in into is it its itself just me more most my no nor not now of off on once only or other our out over own ' +
  'same she should so some such than that the their them then there these they this those through to too under ' +
  'until up very was we were what when where which while who whom why will with would you your yours'
).split(' ');

/** Words in a text (whitespace-separated runs). */
export function wordCount(text: string): number {
  const t = text.trim();
  return t === '' ? 0 : t.split(/\s+/).length;
}

/** The sub-category key: the main category plus the first `depth` levels below it. */
export function subCategoryKey(mainCategory: string, subCategory: string, depth: number): string {
  const parts = subCategory
    .split('/')
    .map((p) => p.trim())
    .filter(Boolean)
    .slice(0, depth);
  return [mainCategory, ...parts].join(' / ');
}

export interface PriceFeaturiserState {
  options: Required<PriceFeatureOptions>;
  main: OneHotState;
  sub: OneHotState | null;
  county: OneHotState | null;
  lengths: StandardiserState | null;
  title: TfidfState | null;
  description: TfidfState | null;
}

const DEFAULTS: Required<PriceFeatureOptions> = {
  subCategoryDepth: 1,
  subCategoryMinFrequency: 5,
  county: true,
  countyMinFrequency: 10,
  lengths: true,
  titleTfidf: 300,
  descriptionTfidf: 300,
  tfidfMinDf: 3,
};

/** Fit on training listings, then transform any split with the same columns. */
export class PriceFeaturiser {
  readonly options: Required<PriceFeatureOptions>;
  private main: OneHotEncoder | null = null;
  private sub: OneHotEncoder | null = null;
  private county: OneHotEncoder | null = null;
  private lengthScaler: Standardiser | null = null;
  private title: TfidfVectoriser | null = null;
  private description: TfidfVectoriser | null = null;
  private fittedFlag = false;

  constructor(options: PriceFeatureOptions = {}) {
    this.options = { ...DEFAULTS, ...options };
    const o = this.options;
    for (const key of ['subCategoryDepth', 'titleTfidf', 'descriptionTfidf'] as const) {
      if (!Number.isInteger(o[key]) || o[key] < 0) throw new Error(`PriceFeaturiser: ${key} must be an integer >= 0, got ${o[key]}`);
    }
  }

  fit(rows: readonly PriceFeatureInput[]): this {
    if (rows.length === 0) throw new Error('PriceFeaturiser.fit: no rows');
    const o = this.options;
    this.main = new OneHotEncoder().fit(rows.map((r) => r.mainCategory));
    this.sub =
      o.subCategoryDepth > 0
        ? new OneHotEncoder({ minFrequency: o.subCategoryMinFrequency }).fit(rows.map((r) => this.subKey(r)))
        : null;
    this.county = o.county ? new OneHotEncoder({ minFrequency: o.countyMinFrequency }).fit(rows.map((r) => r.county)) : null;
    this.lengthScaler = o.lengths ? new Standardiser().fit(rows.map(lengthRow)) : null;
    this.title = o.titleTfidf > 0 ? new TfidfVectoriser({ maxFeatures: o.titleTfidf, minDf: o.tfidfMinDf }).fit(rows.map((r) => r.title)) : null;
    this.description =
      o.descriptionTfidf > 0
        ? new TfidfVectoriser({ maxFeatures: o.descriptionTfidf, minDf: o.tfidfMinDf, sublinearTf: true, stopWords: ENGLISH_STOP_WORDS }).fit(
            rows.map((r) => r.description),
          )
        : null;
    this.fittedFlag = true;
    return this;
  }

  /** One dense row per listing (Float64Array: the linear solvers read typed rows directly). */
  transform(rows: readonly PriceFeatureInput[]): Float64Array[] {
    this.checkFitted();
    const blocks = this.blocks();
    const width = blocks.reduce((s, b) => s + b.width, 0);
    const out = rows.map(() => new Float64Array(width));
    const put = (block: string, values: ArrayLike<ArrayLike<number>>) => {
      const b = blocks.find((x) => x.name === block)!;
      for (let i = 0; i < rows.length; i++) out[i].set(values[i], b.start);
    };
    put('main_category', this.main!.transform(rows.map((r) => r.mainCategory)));
    if (this.sub) put('sub_category', this.sub.transform(rows.map((r) => this.subKey(r))));
    if (this.county) put('county', this.county.transform(rows.map((r) => r.county)));
    if (this.lengthScaler) put('text_length', this.lengthScaler.transform(rows.map(lengthRow)));
    const sparsePut = (block: string, v: TfidfVectoriser, docs: string[]) => {
      const b = blocks.find((x) => x.name === block)!;
      v.transformSparse(docs).forEach((row, i) => {
        for (let k = 0; k < row.indices.length; k++) out[i][b.start + row.indices[k]] = row.values[k];
      });
    };
    if (this.title) sparsePut('title_tfidf', this.title, rows.map((r) => r.title));
    if (this.description) sparsePut('description_tfidf', this.description, rows.map((r) => r.description));
    return out;
  }

  fitTransform(rows: readonly PriceFeatureInput[]): Float64Array[] {
    return this.fit(rows).transform(rows);
  }

  /** The column blocks in order, with their widths. */
  blocks(): FeatureBlock[] {
    this.checkFitted();
    const widths: Array<[string, number]> = [['main_category', this.main!.width]];
    if (this.sub) widths.push(['sub_category', this.sub.width]);
    if (this.county) widths.push(['county', this.county.width]);
    if (this.lengthScaler) widths.push(['text_length', 2]);
    if (this.title) widths.push(['title_tfidf', this.title.vocabulary.length]);
    if (this.description) widths.push(['description_tfidf', this.description.vocabulary.length]);
    let start = 0;
    return widths.map(([name, width]) => {
      const b = { name, start, width };
      start += width;
      return b;
    });
  }

  get width(): number {
    return this.blocks().reduce((s, b) => s + b.width, 0);
  }

  /** A name per column: "main_category=Appliances", "title_words_log1p", "title:sofa", … */
  featureNames(): string[] {
    this.checkFitted();
    const names = [...this.main!.featureNames('main_category')];
    if (this.sub) names.push(...this.sub.featureNames('sub_category'));
    if (this.county) names.push(...this.county.featureNames('county'));
    if (this.lengthScaler) names.push('title_words_log1p', 'description_words_log1p');
    if (this.title) names.push(...this.title.vocabulary.map((t) => `title:${t}`));
    if (this.description) names.push(...this.description.vocabulary.map((t) => `description:${t}`));
    return names;
  }

  toJSON(): PriceFeaturiserState {
    this.checkFitted();
    return {
      options: { ...this.options },
      main: this.main!.toJSON(),
      sub: this.sub?.toJSON() ?? null,
      county: this.county?.toJSON() ?? null,
      lengths: this.lengthScaler?.toJSON() ?? null,
      title: this.title?.toJSON() ?? null,
      description: this.description?.toJSON() ?? null,
    };
  }

  static fromJSON(state: PriceFeaturiserState): PriceFeaturiser {
    const f = new PriceFeaturiser(state.options);
    f.main = OneHotEncoder.fromJSON(state.main);
    f.sub = state.sub ? OneHotEncoder.fromJSON(state.sub) : null;
    f.county = state.county ? OneHotEncoder.fromJSON(state.county) : null;
    f.lengthScaler = state.lengths ? Standardiser.fromJSON(state.lengths) : null;
    f.title = state.title ? TfidfVectoriser.fromJSON(state.title) : null;
    f.description = state.description ? TfidfVectoriser.fromJSON(state.description) : null;
    f.fittedFlag = true;
    return f;
  }

  private subKey(r: PriceFeatureInput): string {
    return subCategoryKey(r.mainCategory, r.subCategory, this.options.subCategoryDepth);
  }

  private checkFitted(): void {
    if (!this.fittedFlag) throw new Error('PriceFeaturiser is not fitted: call fit(trainRows) first');
  }
}

function lengthRow(r: PriceFeatureInput): number[] {
  return [Math.log1p(wordCount(r.title)), Math.log1p(wordCount(r.description))];
}

/** Listings with a usable price and their targets: price in £ and ln(price). */
export interface PriceTargets<T> {
  rows: T[];
  price: number[];
  logPrice: number[];
}

/**
 * Keeps the rows `usable` accepts (pass hasUsablePrice: prices flagged implausible or missing
 * are dropped, not imputed) and returns both targets. ln needs price > 0, which the flag ensures.
 */
export function pricedRows<T extends { price: number | null }>(rows: readonly T[], usable: (row: T) => boolean): PriceTargets<T> {
  const kept = rows.filter(usable);
  const price = kept.map((r) => {
    if (r.price === null || !(r.price > 0) || !Number.isFinite(r.price)) {
      throw new Error(`pricedRows: a row accepted as usable has price ${r.price}; ln(price) needs a positive finite price`);
    }
    return r.price;
  });
  return { rows: kept, price, logPrice: price.map(Math.log) };
}

/**
 * Duan's smearing factor: mean(exp(residual)) of a log-scale model on its training data.
 * exp(predicted ln price) estimates the median price; multiplying by this estimates the mean.
 */
export function smearingFactor(logTrue: ArrayLike<number>, logPred: ArrayLike<number>): number {
  if (logTrue.length !== logPred.length || logTrue.length === 0) throw new Error('smearingFactor: need equal, non-empty arrays');
  let s = 0;
  for (let i = 0; i < logTrue.length; i++) s += Math.exp(logTrue[i] - logPred[i]);
  return s / logTrue.length;
}
