/**
 * The train/val/test split: made once (notebook 00), saved, read by every later notebook.
 *
 * - GROUPED: a cross-post family (one or more products: see crosspost.ts) goes to one split
 *   whole, so no product, photo or re-posted advert is in two splits.
 * - STRATIFIED by main category: each category is split 70/15/15 by product count, so every
 *   split has the class mix of the whole.
 * - SEEDED and independent of input order: the same listings and seed give the same split.
 *
 * How: families are shuffled with the seed, then ordered largest first (big families are the
 * hard ones to place; placing them while every split still has room keeps the error small).
 * Each family goes to the split where it least increases Pearson's chi-square between the
 * per-category counts and their targets (ratio × category size). For a one-category family
 * that is the split with the most room relative to its target; a family spanning categories
 * weighs each of them.
 */
import { deriveSeed, Rng } from '../rng';
import { Listing, SPLIT_NAMES, SplitCategorySummary, SplitFile, SplitName, SplitSummary } from './types';

export const DEFAULT_SPLIT_RATIOS: Record<SplitName, number> = { train: 0.7, val: 0.15, test: 0.15 };
export const SPLIT_GROUPING = 'product_id + cross-post family (same normalised title + description, or same long description)';

/** What the split needs from a listing. */
export type SplittableListing = Pick<Listing, 'id' | 'mainCategory' | 'family'>;

export interface SplitOptions {
  seed: number;
  ratios?: Record<SplitName, number>;
}

function checkRatios(ratios: Record<SplitName, number>): void {
  const sum = SPLIT_NAMES.reduce((s, name) => s + ratios[name], 0);
  if (SPLIT_NAMES.some((name) => !(ratios[name] > 0)) || Math.abs(sum - 1) > 1e-9) {
    throw new Error(`split ratios must be positive and sum to 1, got ${JSON.stringify(ratios)}`);
  }
}

function checkUniqueIds(listings: readonly SplittableListing[]): void {
  const seen = new Set<string>();
  for (const listing of listings) {
    if (seen.has(listing.id)) throw new Error(`split: product ${listing.id} appears twice in the listings; ids must be unique`);
    seen.add(listing.id);
  }
}

/** Families as lists of listings, keyed by family name. */
function familiesOf<T extends SplittableListing>(listings: readonly T[]): Map<string, T[]> {
  const families = new Map<string, T[]>();
  for (const listing of listings) {
    const key = listing.family || listing.id;
    const members = families.get(key);
    if (members) members.push(listing);
    else families.set(key, [listing]);
  }
  return families;
}

/** Split listings into train/val/test, grouped by family and stratified by main category. */
export function makeSplit(listings: readonly SplittableListing[], options: SplitOptions): SplitFile {
  const ratios = options.ratios ?? DEFAULT_SPLIT_RATIOS;
  checkRatios(ratios);
  checkUniqueIds(listings);

  const categoryTotals = new Map<string, number>();
  for (const l of listings) categoryTotals.set(l.mainCategory, (categoryTotals.get(l.mainCategory) ?? 0) + 1);
  const target = (category: string, split: SplitName) => ratios[split] * (categoryTotals.get(category) as number);
  const current = new Map<string, Record<SplitName, number>>();
  for (const category of categoryTotals.keys()) current.set(category, { train: 0, val: 0, test: 0 });

  // Shuffle from a sorted start so the input order does not matter, then largest first
  // (Array.prototype.sort is stable, so equal sizes keep their shuffled order).
  const families = familiesOf(listings);
  const rng = new Rng(deriveSeed(options.seed, 'split'));
  const order = rng.shuffleInPlace([...families.keys()].sort());
  order.sort((a, b) => (families.get(b) as SplittableListing[]).length - (families.get(a) as SplittableListing[]).length);

  const products: Record<SplitName, string[]> = { train: [], val: [], test: [] };
  for (const key of order) {
    const members = families.get(key) as SplittableListing[];
    const perCategory = new Map<string, number>();
    for (const m of members) perCategory.set(m.mainCategory, (perCategory.get(m.mainCategory) ?? 0) + 1);

    let best: SplitName = SPLIT_NAMES[0];
    let bestIncrease = Infinity;
    for (const split of SPLIT_NAMES) {
      // Increase of Σ (count − target)² / target when this family's products are added.
      let increase = 0;
      for (const [category, added] of perCategory) {
        const t = target(category, split);
        const before = (current.get(category) as Record<SplitName, number>)[split] - t;
        increase += ((before + added) ** 2 - before ** 2) / t;
      }
      if (increase < bestIncrease - 1e-12) {
        bestIncrease = increase;
        best = split;
      }
    }
    for (const [category, added] of perCategory) (current.get(category) as Record<SplitName, number>)[best] += added;
    for (const m of members) products[best].push(m.id);
  }

  for (const split of SPLIT_NAMES) products[split].sort();
  const file: SplitFile = { seed: options.seed, ratios: { ...ratios }, products, grouping: SPLIT_GROUPING };
  file.summary = splitSummary(file, listings);
  return file;
}

/** product id → split. Throws if a product is in two splits. */
export function splitMembership(split: SplitFile): Map<string, SplitName> {
  const membership = new Map<string, SplitName>();
  for (const name of SPLIT_NAMES) {
    for (const id of split.products[name]) {
      const other = membership.get(id);
      if (other !== undefined) throw new Error(`splits.json: product ${id} is in both ${other} and ${name}`);
      membership.set(id, name);
    }
  }
  return membership;
}

/**
 * Check a split against the listings: no product in two splits, every split product is a
 * listing, no family in two splits, and (when `complete`) every listing is in a split.
 */
export function assertSplitValid(
  split: SplitFile,
  listings: readonly SplittableListing[],
  options: { complete?: boolean } = {},
): void {
  const membership = splitMembership(split);
  const byId = new Map(listings.map((l) => [l.id, l]));
  for (const id of membership.keys()) {
    if (!byId.has(id)) throw new Error(`splits.json: product ${id} is not among the cleaned listings (stale split? re-run notebook 00)`);
  }
  const splitOfFamily = new Map<string, { split: SplitName; id: string }>();
  for (const [id, name] of membership) {
    const family = (byId.get(id) as SplittableListing).family || id;
    const seen = splitOfFamily.get(family);
    if (seen && seen.split !== name) {
      throw new Error(`splits.json: cross-post family ${family} is in ${seen.split} (product ${seen.id}) and ${name} (product ${id})`);
    }
    splitOfFamily.set(family, { split: name, id });
  }
  if (options.complete) {
    const missing = listings.filter((l) => !membership.has(l.id));
    if (missing.length > 0) {
      throw new Error(`splits.json: ${missing.length} cleaned listings are in no split (first: ${missing[0].id}); re-run notebook 00`);
    }
  }
}

/** Per-category counts and proportions of the products in `split`. */
export function splitSummary(split: SplitFile, listings: readonly SplittableListing[]): SplitSummary {
  const membership = splitMembership(split);
  const byId = new Map(listings.map((l) => [l.id, l]));
  const totals: Record<SplitName | 'all', number> = { train: 0, val: 0, test: 0, all: 0 };
  const counts = new Map<string, Record<SplitName, number>>();
  const familySizes = new Map<string, number>();
  for (const [id, name] of membership) {
    const listing = byId.get(id);
    if (!listing) throw new Error(`splits.json: product ${id} is not among the cleaned listings (stale split? re-run notebook 00)`);
    const c = counts.get(listing.mainCategory) ?? { train: 0, val: 0, test: 0 };
    c[name]++;
    counts.set(listing.mainCategory, c);
    totals[name]++;
    totals.all++;
    const family = listing.family || id;
    familySizes.set(family, (familySizes.get(family) ?? 0) + 1);
  }
  const share = (n: number, of: number) => (of > 0 ? n / of : 0);
  let maxDeviation = 0;
  const categories: SplitCategorySummary[] = [...counts.keys()].sort().map((category) => {
    const c = counts.get(category) as Record<SplitName, number>;
    const total = c.train + c.val + c.test;
    const shareOfSplit = {
      train: share(c.train, totals.train),
      val: share(c.val, totals.val),
      test: share(c.test, totals.test),
      all: share(total, totals.all),
    };
    for (const name of SPLIT_NAMES) {
      if (totals[name] > 0) maxDeviation = Math.max(maxDeviation, Math.abs(shareOfSplit[name] - shareOfSplit.all) * 100);
    }
    return {
      category,
      total,
      counts: { ...c },
      fractionOfCategory: { train: share(c.train, total), val: share(c.val, total), test: share(c.test, total) },
      shareOfSplit,
    };
  });
  const shared = [...familySizes.values()].filter((n) => n > 1);
  return {
    totals,
    families: { total: familySizes.size, withSeveralProducts: shared.length, productsInThem: shared.reduce((a, b) => a + b, 0) },
    categories,
    maxShareDeviationPp: maxDeviation,
  };
}

/**
 * The smoke profile's subset: the same split membership, at most `maxPerCategoryPerSplit`
 * products per main category in each split, drawn with the seed. Products with photos come
 * first (when imageIds are known) so image stages have something to load. A null cap returns
 * the split unchanged.
 */
export function subsetForProfile(
  split: SplitFile,
  listings: readonly (SplittableListing & { imageIds?: string[] })[],
  maxPerCategoryPerSplit: number | null,
  seed: number,
): SplitFile {
  if (maxPerCategoryPerSplit === null) return split;
  if (!Number.isInteger(maxPerCategoryPerSplit) || maxPerCategoryPerSplit < 1) {
    throw new Error(`subsetForProfile: maxPerCategoryPerSplit must be a positive integer or null, got ${maxPerCategoryPerSplit}`);
  }
  const byId = new Map(listings.map((l) => [l.id, l]));
  const products: Record<SplitName, string[]> = { train: [], val: [], test: [] };
  for (const name of SPLIT_NAMES) {
    const byCategory = new Map<string, string[]>();
    for (const id of split.products[name]) {
      const listing = byId.get(id);
      if (!listing) throw new Error(`splits.json: product ${id} is not among the cleaned listings (stale split? re-run notebook 00)`);
      const ids = byCategory.get(listing.mainCategory) ?? [];
      ids.push(id);
      byCategory.set(listing.mainCategory, ids);
    }
    for (const category of [...byCategory.keys()].sort()) {
      const rng = new Rng(deriveSeed(seed, 'subset', name, category));
      const hasPhotos = (id: string) => ((byId.get(id) as { imageIds?: string[] }).imageIds?.length ?? 0) > 0;
      const candidates = rng.shuffleInPlace((byCategory.get(category) as string[]).slice().sort());
      candidates.sort((a, b) => Number(hasPhotos(b)) - Number(hasPhotos(a)));
      products[name].push(...candidates.slice(0, maxPerCategoryPerSplit));
    }
    products[name].sort();
  }
  const subset: SplitFile = {
    seed: split.seed,
    ratios: { ...split.ratios },
    products,
    grouping: split.grouping,
    subset: { maxPerCategoryPerSplit, seed },
  };
  subset.summary = splitSummary(subset, listings);
  return subset;
}
