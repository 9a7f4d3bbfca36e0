/**
 * The records that flow between notebooks. Notebook 00 writes them under data/clean;
 * every later notebook reads them through src/data (never by re-parsing the raw CSVs).
 */

/** The 13 main categories, as spelled in Products.csv (first part of the category path). */
export type MainCategory = string;

/** A cleaned listing (one row of Products.csv that survived quarantine). */
export interface Listing {
  /** Product uuid (Products.csv `id`). */
  id: string;
  /** product_name without the "| in Town, County | Gumtree" suffix, whitespace-normalised. */
  title: string;
  description: string;
  /** Full category path as published, e.g. "Home & Garden / Garden & Patio / Outdoor Settings & Furniture". */
  category: string;
  mainCategory: MainCategory;
  /** Path below the main category ("" when there is none). */
  subCategory: string;
  /** Price in GBP; null when the text could not be parsed. */
  price: number | null;
  town: string;
  county: string;
  /** Stage-specific flags: the listing stays, but a stage may skip it (e.g. 'price_implausible'). */
  flags: string[];
  /** Cross-post family key: listings with the same normalised title + description share it. */
  family: string;
  /** Image ids of this product that have a usable file (filled by image cleaning). */
  imageIds: string[];
}

/** One row of Images.csv. */
export interface ImageRow {
  id: string;
  productId: string;
}

export type SplitName = 'train' | 'val' | 'test';
export const SPLIT_NAMES: SplitName[] = ['train', 'val', 'test'];

/** data/clean/splits.json: product ids per split, grouped by product and cross-post family. */
export interface SplitFile {
  seed: number;
  ratios: Record<SplitName, number>;
  /** Product ids per split (every kept listing is in exactly one). */
  products: Record<SplitName, string[]>;
  /** What was kept together, in words (e.g. "product_id + cross-post family"). */
  grouping?: string;
  /** Set on a smoke-profile subset: the full split's membership, at most this many products per category and split. */
  subset?: { maxPerCategoryPerSplit: number; seed: number };
  summary?: SplitSummary;
}

/** One main category across the splits. */
export interface SplitCategorySummary {
  category: MainCategory;
  total: number;
  counts: Record<SplitName, number>;
  /** Fraction of this category's products that went to each split (target: the ratios). */
  fractionOfCategory: Record<SplitName, number>;
  /** This category's share of each split's products, and of all products: stratified means they agree. */
  shareOfSplit: Record<SplitName | 'all', number>;
}

export interface SplitSummary {
  totals: Record<SplitName | 'all', number>;
  /** Groups kept whole (cross-post families; a lone product is its own family). */
  families: { total: number; withSeveralProducts: number; productsInThem: number };
  categories: SplitCategorySummary[];
  /** Largest |share of a category in a split − its share overall|, in percentage points. */
  maxShareDeviationPp: number;
}
