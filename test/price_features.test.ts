import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  PriceFeaturiser,
  pricedRows,
  smearingFactor,
  subCategoryKey,
  wordCount,
  type PriceFeatureInput,
} from '../src/models/price_features';

type Row = PriceFeatureInput & { price: number | null; ok: boolean };

const TRAIN: Row[] = [
  { title: 'Oak dining table', description: 'Solid oak table, seats six', mainCategory: 'Home & Garden', subCategory: 'Dining / Tables', county: 'Kent', price: 120, ok: true },
  { title: 'Pine table', description: 'Small pine table', mainCategory: 'Home & Garden', subCategory: 'Dining / Tables', county: 'Kent', price: 40, ok: true },
  { title: 'Garden bench', description: 'Wooden bench for the garden', mainCategory: 'Home & Garden', subCategory: 'Garden & Patio', county: 'Essex', price: 60, ok: true },
  { title: 'iPhone 12', description: 'Unlocked phone, boxed', mainCategory: 'Phones', subCategory: 'Mobile Phones / Apple', county: 'Kent', price: 300, ok: true },
  { title: 'iPhone 8 phone', description: 'Cracked screen phone', mainCategory: 'Phones', subCategory: 'Mobile Phones / Apple', county: '', price: 0.01, ok: false },
];

const OPTIONS = { subCategoryMinFrequency: 2, countyMinFrequency: 2, titleTfidf: 3, descriptionTfidf: 2, tfidfMinDf: 2 };

test('helpers: word counts and sub-category keys', () => {
  assert.equal(wordCount('  a  b\nc '), 3);
  assert.equal(wordCount('   '), 0);
  assert.equal(subCategoryKey('Home & Garden', 'Dining / Tables / Oak', 1), 'Home & Garden / Dining');
  assert.equal(subCategoryKey('Home & Garden', 'Dining / Tables / Oak', 2), 'Home & Garden / Dining / Tables');
  assert.equal(subCategoryKey('Phones', '', 1), 'Phones');
});

test('blocks are fitted on training rows only, with the documented columns', () => {
  const f = new PriceFeaturiser(OPTIONS).fit(TRAIN);
  assert.deepEqual(
    f.blocks().map((b) => [b.name, b.width]),
    [['main_category', 2], ['sub_category', 2], ['county', 1], ['text_length', 2], ['title_tfidf', 2], ['description_tfidf', 2]],
  );
  const names = f.featureNames();
  assert.equal(names.length, f.width);
  assert.deepEqual(names.slice(0, 5), [
    'main_category=Home & Garden',
    'main_category=Phones',
    'sub_category=Home & Garden / Dining',
    'sub_category=Phones / Mobile Phones',
    'county=Kent',
  ]);
  // Title terms in >= 2 titles: "iphone" and "table"; description terms (stop words gone): "phone", "table".
  assert.deepEqual(names.slice(7), ['title:iphone', 'title:table', 'description:phone', 'description:table']);
});

test('transform: one-hots, standardised lengths, unit-norm TF-IDF; unseen categories are zeros', () => {
  const f = new PriceFeaturiser(OPTIONS).fit(TRAIN);
  const X = f.transform(TRAIN);
  assert.equal(X.length, TRAIN.length);
  assert.deepEqual(Array.from(X[0].slice(0, 5)), [1, 0, 1, 0, 1]);
  assert.deepEqual(Array.from(X[2].slice(0, 5)), [1, 0, 0, 0, 0]); // Garden & Patio and Essex are too rare
  // Length columns have mean 0 and population std 1 on the training rows.
  for (const col of [5, 6]) {
    const v = X.map((r) => r[col]);
    const mean = v.reduce((s, x) => s + x, 0) / v.length;
    const sd = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length);
    assert.ok(Math.abs(mean) < 1e-12 && Math.abs(sd - 1) < 1e-12);
  }
  assert.deepEqual(Array.from(X[0].slice(7, 9)), [0, 1]); // title "Oak dining table": only "table" is a term
  const unseen = f.transform([{ title: 'Sofa', description: '', mainCategory: 'Toys', subCategory: 'Lego', county: 'Devon' }])[0];
  assert.deepEqual(Array.from(unseen.slice(0, 5)), [0, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(unseen.slice(7)), [0, 0, 0, 0]);
});

test('options switch blocks off; state round-trips through JSON', () => {
  const bare = new PriceFeaturiser({ subCategoryDepth: 0, county: false, lengths: false, titleTfidf: 0, descriptionTfidf: 0 }).fit(TRAIN);
  assert.deepEqual(bare.blocks().map((b) => b.name), ['main_category']);
  const f = new PriceFeaturiser(OPTIONS).fit(TRAIN);
  const g = PriceFeaturiser.fromJSON(JSON.parse(JSON.stringify(f.toJSON())));
  assert.deepEqual(g.transform(TRAIN).map((r) => Array.from(r)), f.transform(TRAIN).map((r) => Array.from(r)));
  assert.throws(() => new PriceFeaturiser().transform(TRAIN), /not fitted/);
  assert.throws(() => new PriceFeaturiser({ titleTfidf: -1 }), /titleTfidf must be an integer >= 0/);
});

test('pricedRows keeps usable prices only and returns ln(price); smearing factor', () => {
  const t = pricedRows(TRAIN, (r) => r.ok);
  assert.equal(t.rows.length, 4);
  assert.deepEqual(t.price, [120, 40, 60, 300]);
  assert.ok(Math.abs(t.logPrice[0] - Math.log(120)) < 1e-15);
  assert.throws(() => pricedRows([{ price: null }], () => true), /needs a positive finite price/);
  // Residuals ±ln 2: mean(exp) = (2 + 0.5) / 2.
  assert.ok(Math.abs(smearingFactor([Math.log(2), -Math.log(2)], [0, 0]) - 1.25) < 1e-12);
});
