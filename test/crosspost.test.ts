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
