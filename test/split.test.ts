import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAIN_CATEGORIES } from '../src/data/listings';
import { assertSplitValid, makeSplit, SplittableListing, splitMembership, splitSummary, subsetForProfile } from '../src/data/split';
import { SPLIT_NAMES } from '../src/data/types';
import { Rng } from '../src/rng';

/**
 * A synthetic catalogue shaped like the real one: 13 categories of 200–435 products
 * (about half the real 7,156 products, to keep the test fast), mostly lone listings, some
 * cross-post families of 2–30 products, one family spanning two categories.
 */
function syntheticListings(seed: number): Array<SplittableListing & { imageIds: string[] }> {
  const rng = new Rng(seed);
  const listings: Array<SplittableListing & { imageIds: string[] }> = [];
  let next = 0;
  const add = (mainCategory: string, family: string | null) => {
    const id = `p${String(next++).padStart(5, '0')}`;
    listings.push({ id, mainCategory, family: family ?? id, imageIds: rng.next() < 0.985 ? [`i${id}`] : [] });
  };
  MAIN_CATEGORIES.forEach((category, c) => {
    const size = 200 + Math.round((c / 12) * 215) + rng.int(20);
    let made = 0;
    let familyNo = 0;
    while (made < size) {
      const roll = rng.next();
      const familySize = roll < 0.97 ? 1 : roll < 0.995 ? 2 + rng.int(4) : 10 + rng.int(21);
      const n = Math.min(familySize, size - made);
      const family = n > 1 ? `f-${c}-${familyNo++}` : null;
      const first = listings.length;
      for (let k = 0; k < n; k++) add(category, family);
      if (family) for (let k = first; k < listings.length; k++) listings[k].family = family;
      made += n;
    }
  });
  // A family whose products sit in two categories (a seller cross-listing an item).
  add(MAIN_CATEGORIES[0], 'f-mixed');
  add(MAIN_CATEGORIES[1], 'f-mixed');
  return listings;
}

const listings = syntheticListings(2024);

test('the synthetic set is realistic: thousands of products, 13 categories, big families', () => {
  assert.ok(listings.length > 3000, `${listings.length} products`);
  assert.equal(new Set(listings.map((l) => l.mainCategory)).size, 13);
  const sizes = new Map<string, number>();
  for (const l of listings) sizes.set(l.family, (sizes.get(l.family) ?? 0) + 1);
  assert.ok(Math.max(...sizes.values()) >= 10);
});

test('every product is in exactly one split; no product or family in two splits', () => {
  const split = makeSplit(listings, { seed: 42 });
  const membership = splitMembership(split); // throws on a product in two splits
  assert.equal(membership.size, listings.length);
  assert.equal(SPLIT_NAMES.reduce((n, s) => n + split.products[s].length, 0), listings.length);
  const familySplit = new Map<string, string>();
  for (const l of listings) {
    const s = membership.get(l.id) as string;
    const seen = familySplit.get(l.family);
    assert.ok(seen === undefined || seen === s, `family ${l.family} is in ${seen} and ${s}`);
    familySplit.set(l.family, s);
  }
  assertSplitValid(split, listings, { complete: true });
});

test('70/15/15 overall and class proportions within ±2 pp of the whole in every split', () => {
  const split = makeSplit(listings, { seed: 42 });
  const summary = splitSummary(split, listings);
  const n = listings.length;
  assert.ok(Math.abs(summary.totals.train / n - 0.7) < 0.01);
  assert.ok(Math.abs(summary.totals.val / n - 0.15) < 0.01);
  assert.ok(Math.abs(summary.totals.test / n - 0.15) < 0.01);
  for (const category of summary.categories) {
    for (const s of SPLIT_NAMES) {
      const deviationPp = Math.abs(category.shareOfSplit[s] - category.shareOfSplit.all) * 100;
      assert.ok(deviationPp <= 2, `${category.category} in ${s}: ${deviationPp.toFixed(2)} pp off`);
    }
  }
  assert.ok(summary.maxShareDeviationPp <= 2);
  assert.deepEqual(split.summary, summary, 'the saved summary is the computed one');
});

test('same seed → identical split, whatever the input order; another seed → another split', () => {
  const a = makeSplit(listings, { seed: 42 });
  const b = makeSplit(new Rng(5).shuffled(listings), { seed: 42 });
  assert.deepEqual(a, b);
  const c = makeSplit(listings, { seed: 43 });
  assert.notDeepEqual(a.products.test, c.products.test);
});

test('invalid input is refused with a clear message', () => {
  assert.throws(() => makeSplit([...listings, listings[0]], { seed: 1 }), /appears twice/);
  assert.throws(() => makeSplit(listings, { seed: 1, ratios: { train: 0.8, val: 0.15, test: 0.15 } }), /sum to 1/);
  const split = makeSplit(listings, { seed: 42 });
  const broken = { ...split, products: { ...split.products, val: [...split.products.val, split.products.train[0]] } };
  assert.throws(() => splitMembership(broken), /in both train and val/);
  // Moving one member of a family to another split breaks the family rule.
  const family = listings.find((l) => l.family !== l.id) as SplittableListing;
  const where = splitMembership(split).get(family.id) as 'train' | 'val' | 'test';
  const other = where === 'train' ? 'test' : 'train';
  const moved = {
    ...split,
    products: { ...split.products, [where]: split.products[where].filter((id) => id !== family.id), [other]: [...split.products[other], family.id] },
  };
  assert.throws(() => assertSplitValid(moved, listings), /cross-post family .* is in/);
});

test('subsetForProfile keeps membership, caps each category per split, prefers products with photos', () => {
  const split = makeSplit(listings, { seed: 42 });
  const subset = subsetForProfile(split, listings, 12, 42);
  const full = splitMembership(split);
  const small = splitMembership(subset);
  for (const [id, s] of small) assert.equal(full.get(id), s, `${id} changed split`);
  const summary = subset.summary!;
  for (const category of summary.categories) for (const s of SPLIT_NAMES) assert.equal(category.counts[s], 12);
  const byId = new Map(listings.map((l) => [l.id, l]));
  for (const id of small.keys()) assert.ok((byId.get(id)?.imageIds.length ?? 0) > 0);
  assert.deepEqual(subsetForProfile(split, listings, 12, 42), subset);
  assert.equal(subsetForProfile(split, listings, null, 42), split);
  assertSplitValid(subset, listings);
});
