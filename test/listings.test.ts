import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { cleanImagesFile, linkImagesToListings } from '../src/data/images_table';
import {
  buildCleaningReport,
  cleanProductsFile,
  hasUsablePrice,
  MAIN_CATEGORIES,
  normaliseInlineText,
  normaliseMultilineText,
  parseLocation,
  parsePrice,
  splitCategory,
  stripTitleSuffix,
} from '../src/data/listings';

const FIXTURES = path.join(__dirname, 'fixtures');
const uid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

test('parsePrice reads £ text with thousands separators and rejects other text', () => {
  assert.equal(parsePrice('£5.00'), 5);
  assert.equal(parsePrice('£1,250.00'), 1250);
  assert.equal(parsePrice('£10,000,000.00'), 10000000);
  assert.equal(parsePrice(' £ 40 '), 40);
  assert.equal(parsePrice('£0.00'), 0);
  assert.equal(parsePrice('-£5.00'), -5);
  assert.equal(parsePrice('£-5'), -5);
  assert.equal(parsePrice('1,25'), null);
  assert.equal(parsePrice(''), null);
  assert.equal(parsePrice('ask for price'), null);
});

test('stripTitleSuffix removes the last "| in Town, County | Gumtree"', () => {
  assert.deepEqual(stripTitleSuffix('Mirror wall art | in Wokingham, Berkshire | Gumtree'), {
    title: 'Mirror wall art',
    suffixLocation: 'Wokingham, Berkshire',
  });
  assert.equal(stripTitleSuffix('BED|BASE||SINGLE| | in Greenwich, London | Gumtree').title, 'BED|BASE||SINGLE|');
  assert.equal(stripTitleSuffix(' | in Leeds, West Yorkshire | Gumtree').title, '');
  assert.deepEqual(stripTitleSuffix('No suffix here'), { title: 'No suffix here', suffixLocation: null });
});

test('location, category and text normalisation', () => {
  assert.deepEqual(parseLocation('Wokingham, Berkshire'), { town: 'Wokingham', county: 'Berkshire' });
  assert.deepEqual(parseLocation('London'), { town: 'London', county: '' });
  assert.deepEqual(splitCategory('Home & Garden / Dining, Living Room Furniture /  Mirrors '), {
    category: 'Home & Garden / Dining, Living Room Furniture / Mirrors',
    mainCategory: 'Home & Garden',
    subCategory: 'Dining, Living Room Furniture / Mirrors',
  });
  assert.deepEqual(splitCategory('Appliances'), { category: 'Appliances', mainCategory: 'Appliances', subCategory: '' });
  assert.equal(normaliseInlineText(' a\r\n\tb\u00a0\u200bc  '), 'a b c');
  assert.equal(normaliseMultilineText('one  \r\r\r two\r\nthree\u0007x\r'), 'one\n\ntwo\nthree x');
  assert.equal(normaliseMultilineText('Richard’s “best” 👉'), 'Richard’s “best” 👉');
});

test('MAIN_CATEGORIES is the 13 classes in sorted order (stable class indices)', () => {
  assert.equal(MAIN_CATEGORIES.length, 13);
  assert.deepEqual([...MAIN_CATEGORIES], [...MAIN_CATEGORIES].sort());
});

test('cleaning the fixture: quarantine reasons, flags and a balanced report', () => {
  const products = cleanProductsFile(path.join(FIXTURES, 'products_sample.csv'));
  const { report } = products;
  assert.equal(report.rowsIn, 24);
  assert.equal(report.kept + report.quarantined, report.rowsIn);
  assert.deepEqual(report.quarantinedByReason, {
    missing_id: 1,
    missing_category: 1,
    duplicate_row: 1,
    text_non_alphabetic: 1,
    text_empty: 1,
    duplicate_id_conflict: 2,
  });
  assert.equal(report.kept, 17);
  const missingCategory = report.quarantinedRows.find((r) => r.reason === 'missing_category');
  assert.deepEqual(missingCategory && [missingCategory.line, missingCategory.id, missingCategory.field], [13, uid(12), 'category']);

  const byId = new Map(products.listings.map((l) => [l.id, l]));
  assert.equal(byId.size, products.listings.length, 'ids are unique after cleaning');
  assert.deepEqual(report.flags, { price_implausible: 2, title_empty: 1, title_non_alphabetic: 1, price_missing: 1 });
  assert.deepEqual(byId.get(uid(5))?.flags, ['price_implausible'], '£0 is flagged');
  assert.deepEqual(byId.get(uid(6))?.flags, ['price_implausible'], '£10,000,000 is flagged');
  assert.deepEqual(byId.get(uid(7))?.flags, [], '£10,000 is the upper bound, still plausible');
  assert.equal(byId.get(uid(6))?.price, 10000000);
  assert.equal(byId.get(uid(3))?.price, 1250);
  assert.equal(hasUsablePrice(byId.get(uid(5))!), false);
  assert.equal(hasUsablePrice(byId.get(uid(24))!), false);
  assert.equal(hasUsablePrice(byId.get(uid(3))!), true);
  assert.equal(products.prices.atOrBelowMin, 1);
  assert.equal(products.prices.aboveMax, 1);
  assert.equal(products.prices.unparseable, 1);

  const steamer = byId.get(uid(2))!;
  assert.equal(steamer.title, 'Stainless Steel Food Steamer');
  assert.equal(steamer.description, 'Morphy Richard’s steamer, 3 tier\nBrand new – never used 👉 “boxed”\n\ncollection only');
  assert.equal(steamer.mainCategory, 'Appliances');
  assert.deepEqual([steamer.town, steamer.county], ['Inverness', 'Highland']);
  assert.equal(byId.get(uid(4))?.title, '💥DIVAN BED💥HEADBOARD|BASE||SINGLE||DOUBLE|');
  assert.equal(byId.get(uid(20))?.title, 'The "Best" Chair, Ever');
  assert.deepEqual([byId.get(uid(16))?.town, byId.get(uid(16))?.county], ['Swansea', '']);
  assert.equal(report.notes.location_without_county, 1);

  // Cross-posts: same title + description up to case/punctuation, and a shared long description.
  assert.equal(byId.get(uid(14))?.family, byId.get(uid(15))?.family);
  assert.equal(byId.get(uid(18))?.family, byId.get(uid(19))?.family);
  assert.notEqual(byId.get(uid(1))?.family, byId.get(uid(14))?.family);
  assert.equal(byId.get(uid(1))?.family, uid(1), 'a lone listing is its own family');
});

test('image rows: every photo of a product is kept; bad rows get a named reason', () => {
  const products = cleanProductsFile(path.join(FIXTURES, 'products_sample.csv'));
  const images = cleanImagesFile(path.join(FIXTURES, 'images_sample.csv'), {
    kept: products.listings.map((l) => l.id),
    quarantined: products.report.quarantinedRows.map((r) => r.id),
  });
  assert.equal(images.report.rowsIn, 13);
  assert.equal(images.report.kept + images.report.quarantined, 13);
  assert.deepEqual(images.report.quarantinedByReason, {
    image_row_unknown_product: 1,
    image_row_quarantined_product: 1,
    image_row_duplicate: 1,
    image_id_conflict: 2,
  });
  const threePhotos = images.images.filter((image) => image.productId === uid(17)).map((image) => image.id);
  assert.deepEqual(threePhotos, ['a0000004', 'a0000005', 'a0000006']);

  const link = linkImagesToListings(products.listings, images.images);
  const switchListing = products.listings.find((l) => l.id === uid(17))!;
  assert.deepEqual(switchListing.imageIds, ['a0000004', 'a0000005', 'a0000006']);
  assert.equal(link.withImages, 5);
  assert.ok(products.listings.find((l) => l.id === uid(16))?.flags.includes('no_image_rows'));

  const report = buildCleaningReport(products, images.report);
  assert.equal(report.products.flags.no_image_rows, link.withoutImages, 'flags recounted after linking');
  assert.equal(report.products.rowsIn, report.products.kept + report.products.quarantined);
});

test('clean store: round trip through a folder, and a clear message when a file is missing', async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const store = await import('../src/data/clean_store');
  const { makeSplit } = await import('../src/data/split');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clean-store-'));
  try {
    assert.throws(() => store.readSplit(dir), /splits\.json missing: run notebook 00 \(npm run pipeline -- 00\)/);
    const products = cleanProductsFile(path.join(FIXTURES, 'products_sample.csv'));
    const images = cleanImagesFile(path.join(FIXTURES, 'images_sample.csv'), { kept: products.listings.map((l) => l.id) });
    linkImagesToListings(products.listings, images.images);
    const split = makeSplit(products.listings, { seed: 42 });
    store.writeListings(products.listings, dir);
    store.writeImageRows(images.images, dir);
    store.writeSplit(split, dir);
    store.writeCleaningReport(buildCleaningReport(products, images.report), dir);
    assert.ok(store.cleanDataExists(dir));
    assert.deepEqual(store.readListings(dir), products.listings);
    assert.deepEqual(store.readImageRows(dir), images.images);
    assert.deepEqual(store.readSplit(dir), split);
    assert.equal(store.readCleaningReport(dir).products.kept, products.listings.length);
    fs.writeFileSync(store.cleanFilePath('listings', dir), JSON.stringify([{ id: 'x' }]));
    assert.throws(() => store.readListings(dir), /listings\.json: listing 0 \(x\): field "title" is not a string/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('malformed records of both tables are quarantined with line and raw text, and the tables still balance', async () => {
  const { cleanProducts } = await import('../src/data/listings');
  const { cleanImageTable } = await import('../src/data/images_table');
  const { parseCsvInput } = await import('../src/data/csv');
  const header = ',id,product_name,category,product_description,price,location';
  const ok = (n: number) => `${n},${uid(n)},"Oak table | in Leeds, West Yorkshire | Gumtree",Home & Garden / Tables,"Solid oak",£40.00,"Leeds, West Yorkshire"`;
  const products = cleanProducts(parseCsvInput(Buffer.from([
    header, ok(1),
    `2,${uid(2)},"Chair | in York, North Yorkshire | Gumtree",Home & Garden,Sturdy, with arms,£5.00,"York, North Yorkshire"`, // 8 fields
    `3,${uid(3)},"Lamp`, // a quote never closed
    ok(4), '',
  ].join('\n')), 'Products.csv'));
  assert.deepEqual(products.listings.map((l) => l.id), [uid(1), uid(4)]);
  assert.equal(products.report.rowsIn, 4);
  assert.deepEqual(products.report.quarantinedByReason, { malformed_wrong_field_count: 1, malformed_text_after_closing_quote: 1 });
  assert.deepEqual(products.report.quarantinedRows.map((r) => r.line), [3, 4]);
  assert.match(String(products.report.quarantinedRows[0].raw), /^2,.*Sturdy, with arms/);
  assert.equal(products.report.quarantinedRows[0].id, uid(2), 'the id is still read from a malformed record');
  assert.equal(products.report.encoding?.encoding, 'utf-8');

  const images = cleanImageTable(parseCsvInput(`,id,product_id\n0,p1,${uid(1)}\n1,p2\n2,p3,${uid(4)}\n`, 'Images.csv'), { kept: [uid(1), uid(4)] });
  assert.deepEqual(images.images.map((i) => i.id), ['p1', 'p3']);
  assert.deepEqual(images.report.quarantinedByReason, { malformed_wrong_field_count: 1 });
  assert.equal(images.report.rowsIn, images.report.kept + images.report.quarantined);
});
