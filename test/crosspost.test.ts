import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  crossPostFamilies,
  LONG_DESCRIPTION_MIN_CHARS,
  longDescriptionKey,
  normaliseForMatching,
  titleDescriptionKey,
} from '../src/data/crosspost';

const boilerplate =
  'Specialists in graded & reuse appliances. All of our appliances come with a 12 month warranty.';

test('normalisation ignores case, punctuation, emoji and whitespace but not words or numbers', () => {
  assert.equal(normaliseForMatching('  Sofa!!  NEW 💥\r\nL-shaped '), 'sofa new l shaped');
  assert.equal(normaliseForMatching('ＦＵＬＬ width'), 'full width');
  assert.equal(titleDescriptionKey('Oak Table!!', 'Seats six.'), titleDescriptionKey('oak table', 'seats  six'));
  assert.notEqual(titleDescriptionKey('Oak table', 'seats six'), titleDescriptionKey('Oak table', 'seats eight'));
  assert.notEqual(titleDescriptionKey('Table 120cm', 'x'), titleDescriptionKey('Table 140cm', 'x'));
});

test('only long descriptions identify a seller on their own', () => {
  assert.equal(longDescriptionKey('Good condition'), null);
  assert.ok(normaliseForMatching(boilerplate).length >= LONG_DESCRIPTION_MIN_CHARS);
  assert.equal(longDescriptionKey(boilerplate), normaliseForMatching(boilerplate));
});

test('families join re-posts and shared long descriptions, transitively, and are order-independent', () => {
  const listings = [
    { id: 'p5', title: 'Oak table', description: 'Seats six', mainCategory: 'Home & Garden' },
    { id: 'p2', title: 'OAK TABLE!', description: 'seats six.', mainCategory: 'Home & Garden' },
    { id: 'p3', title: 'Fridge', description: boilerplate, mainCategory: 'Appliances' },
    { id: 'p4', title: 'Washer', description: boilerplate + ' ', mainCategory: 'Appliances' },
    { id: 'p1', title: 'Washer', description: boilerplate, mainCategory: 'Appliances' },
    { id: 'p6', title: 'Lamp', description: 'Good condition', mainCategory: 'Home & Garden' },
    { id: 'p7', title: 'Chair', description: 'Good condition', mainCategory: 'Home & Garden' },
  ];
  const { familyOf, report } = crossPostFamilies(listings);
  assert.equal(familyOf.get('p5'), 'p2');
  assert.equal(familyOf.get('p2'), 'p2');
  assert.equal(familyOf.get('p3'), 'p1');
  assert.equal(familyOf.get('p4'), 'p1');
  assert.equal(familyOf.get('p6'), 'p6', 'a short shared description does not join families');
  assert.equal(familyOf.get('p7'), 'p7');
  assert.equal(report.titleDescriptionRepeats, 2);
  assert.equal(report.longDescriptionRepeats, 2);
  assert.equal(report.families, 4);
  assert.equal(report.familiesWithSeveralProducts, 2);
  assert.equal(report.productsInSharedFamilies, 5);
  assert.equal(report.largestFamily, 3);
  assert.equal(report.familiesSpanningCategories, 0);

  const reversed = crossPostFamilies([...listings].reverse());
  assert.deepEqual([...reversed.familyOf.entries()].sort(), [...familyOf.entries()].sort());
});

test('products sharing a photo file or a near-identical photo join one family; the split keeps them together', async () => {
  const { assignFamilies } = await import('../src/data/crosspost');
  const { measurePhotoLinks, hammingDistance, chooseDHashThreshold } = await import('../src/data/photo_hash');
  const { makeSplit, assertSplitValid, splitMembership } = await import('../src/data/split');
  const category = ['Appliances', 'Home & Garden', 'Baby & Kids Stuff'];
  // 60 products with unrelated text; photo hashes drawn at random (unrelated photos differ in ~32 bits).
  let state = 7;
  const rand32 = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0));
  const hex = () => rand32().toString(16).padStart(8, '0') + rand32().toString(16).padStart(8, '0');
  const listings = Array.from({ length: 60 }, (_, i) => ({
    id: `p${String(i).padStart(2, '0')}`, title: `item ${i}`, description: `words ${i}`, mainCategory: category[i % 3], family: '',
  }));
  const photos = listings.map((l, i) => ({ id: `img${i}`, productId: l.id, md5: `md5-${i}`, dHash: hex() }));
  photos.push({ id: 'copy-of-img0', productId: 'p03', md5: 'md5-0', dHash: photos[0].dHash }); // same file under another product
  const flipBits = (h: string, bits: number) => {
    const v = BigInt('0x' + h) ^ ((1n << BigInt(bits)) - 1n);
    return v.toString(16).padStart(16, '0');
  };
  photos.push({ id: 'reencoded-img1', productId: 'p04', md5: 'md5-x', dHash: flipBits(photos[1].dHash, 2) }); // re-encoded: 2 bits off
  assert.equal(hammingDistance(photos[1].dHash, photos[photos.length - 1].dHash), 2);

  const m = measurePhotoLinks(photos, (id) => listings.find((l) => l.id === id)!.mainCategory);
  assert.equal(m.distances.sameFilePairs, 1);
  assert.equal(m.distances.histogram.reduce((a, b) => a + b, 0), m.distances.pairs);
  assert.ok(m.choice.threshold >= 2 && m.choice.threshold <= 10, `threshold ${m.choice.threshold}`);
  const report = assignFamilies(listings, m.links);
  assert.equal(report.sameFileGroups, 1);
  assert.equal(report.sameFileProducts, 2);
  assert.equal(report.dHashThreshold, m.choice.threshold);
  const familyOf = new Map(listings.map((l) => [l.id, l.family]));
  assert.equal(familyOf.get('p03'), 'p00', 'same file');
  assert.equal(familyOf.get('p04'), 'p01', 'near-identical photo');
  assert.equal(familyOf.get('p02'), 'p02');
  const split = makeSplit(listings, { seed: 3 });
  assertSplitValid(split, listings, { complete: true });
  const of = splitMembership(split);
  assert.equal(of.get('p03'), of.get('p00'));
  assert.equal(of.get('p04'), of.get('p01'));

  // The threshold follows the evidence: when close pairs are as often across categories as random pairs, none is taken.
  const noisy = { ...m.distances, histogram: m.distances.histogram.slice(), otherGroupHistogram: m.distances.otherGroupHistogram.slice(), sameFilePairs: 0, sameFilePairsAcrossGroups: 0 };
  noisy.histogram[0] = 10;
  noisy.otherGroupHistogram[0] = 9;
  assert.equal(chooseDHashThreshold(noisy, 0.2).threshold, -1);
});
