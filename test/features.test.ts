import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { CHAR_NGRAM_MARK, charNgrams, OTHER_CATEGORY, OneHotEncoder, Standardiser, TfidfVectoriser, hstack, tokenise } from '../src/models/features';

function close(actual: number, expected: number, tol = 1e-9): void {
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);
}

function closeRows(actual: number[][], expected: number[][], tol = 1e-9): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((row, i) => {
    assert.equal(row.length, expected[i].length);
    row.forEach((v, j) => close(v, expected[i][j], tol));
  });
}

test('Standardiser uses train mean and population std; constant columns map to 0', () => {
  const s = new Standardiser().fit([[1, 10], [3, 10], [5, 10]]);
  const sd = Math.sqrt(8 / 3);
  assert.deepEqual(s.mean, [3, 10]);
  closeRows([s.scale], [[sd, 1]]);
  closeRows(s.transform([[1, 10], [7, 12]]), [[-2 / sd, 0], [4 / sd, 2]]);
  closeRows(s.inverseTransform(s.transform([[2, 11]])), [[2, 11]]);
  const restored = Standardiser.fromJSON(JSON.parse(JSON.stringify(s.toJSON())));
  closeRows(restored.transform([[5, 10]]), s.transform([[5, 10]]));
});

test('Standardiser refuses to work unfitted, on ragged rows or on non-finite values', () => {
  assert.throws(() => new Standardiser().transform([[1]]), /not fitted: call fit\(trainRows\) first/);
  assert.throws(() => new Standardiser().fit([[1, 2], [3]]), /row 1 has 1 columns, row 0 has 2/);
  assert.throws(() => new Standardiser().fit([[1], [NaN]]), /X\[1\]\[0\] is not finite/);
  const s = new Standardiser().fit([[1, 2]]);
  assert.throws(() => s.transform([[1]]), /row 0 has 1 columns, fitted on 2/);
});

test('OneHotEncoder: sorted train categories; unknowns are all zeros by default', () => {
  const e = new OneHotEncoder().fit(['kent', 'essex', 'kent', 'fife']);
  assert.deepEqual(e.categories, ['essex', 'fife', 'kent']);
  assert.equal(e.width, 3);
  assert.deepEqual(e.transform(['kent', 'devon']), [[0, 0, 1], [0, 0, 0]]);
  assert.deepEqual(e.featureNames('county'), ['county=essex', 'county=fife', 'county=kent']);
});

test("OneHotEncoder: rare and unseen categories share an 'other' column", () => {
  const e = new OneHotEncoder({ handleUnknown: 'other', minFrequency: 2 }).fit(['a', 'b', 'a', 'c', 'b']);
  assert.deepEqual(e.categories, ['a', 'b']);
  assert.equal(e.width, 3);
  assert.deepEqual(e.transform(['a', 'c', 'zzz']), [[1, 0, 0], [0, 0, 1], [0, 0, 1]]);
  assert.deepEqual(e.featureNames('x'), ['x=a', 'x=b', `x=${OTHER_CATEGORY}`]);
  const restored = OneHotEncoder.fromJSON(JSON.parse(JSON.stringify(e.toJSON())));
  assert.deepEqual(restored.transform(['b', 'q']), e.transform(['b', 'q']));
});

test('OneHotEncoder: maxCategories keeps the most frequent; missing values are a category', () => {
  const e = new OneHotEncoder({ maxCategories: 2 }).fit(['x', 'y', 'y', 'z', 'z', 'z', null]);
  assert.deepEqual(e.categories, ['y', 'z']);
  const m = new OneHotEncoder().fit([null, 'a', undefined, '']);
  assert.deepEqual(m.categories, ['', 'a']);
  assert.deepEqual(m.transform([null]), [[1, 0]]);
  assert.throws(() => new OneHotEncoder({ minFrequency: 5 }).fit(['a']), /no category occurs at least minFrequency=5 times/);
  assert.throws(() => new OneHotEncoder().transform(['a']), /not fitted/);
});

test('tokenise keeps lower-cased runs of two or more letters or digits', () => {
  assert.deepEqual(tokenise('Hello, World! a 42 Café-bar x'), ['hello', 'world', '42', 'café', 'bar']);
  assert.deepEqual(tokenise(''), []);
});

const DOCS = ['the cat sat', 'the dog sat', 'the cat ran'];

test('TF-IDF matches sklearn defaults (smooth idf, l2 rows, alphabetical vocabulary)', () => {
  const v = new TfidfVectoriser().fit(DOCS);
  assert.deepEqual(v.vocabulary, ['cat', 'dog', 'ran', 'sat', 'the']);
  const idf2 = Math.log(4 / 3) + 1; // df = 2 of 3 documents
  const idf1 = Math.log(4 / 2) + 1; // df = 1
  closeRows([v.idf], [[idf2, idf1, idf1, idf2, 1]]);
  const norm = Math.sqrt(2 * idf2 * idf2 + 1);
  closeRows(v.transform(['the cat sat']), [[idf2 / norm, 0, 0, idf2 / norm, 1 / norm]]);
  // Unknown words are ignored; a document with none known is a zero row.
  closeRows(v.transform(['zebra', 'Cat!']), [[0, 0, 0, 0, 0], [1, 0, 0, 0, 0]]);
});

test('TF-IDF vocabulary limits: maxFeatures by document frequency, minDf, maxDf, stop words', () => {
  assert.deepEqual(new TfidfVectoriser({ maxFeatures: 2 }).fit(DOCS).vocabulary, ['cat', 'the']);
  assert.deepEqual(new TfidfVectoriser({ minDf: 2 }).fit(DOCS).vocabulary, ['cat', 'sat', 'the']);
  assert.deepEqual(new TfidfVectoriser({ minDf: 0.5 }).fit(DOCS).vocabulary, ['cat', 'sat', 'the']);
  assert.deepEqual(new TfidfVectoriser({ maxDf: 0.9 }).fit(DOCS).vocabulary, ['cat', 'dog', 'ran', 'sat']);
  assert.deepEqual(new TfidfVectoriser({ stopWords: ['The'] }).fit(DOCS).vocabulary, ['cat', 'dog', 'ran', 'sat']);
  assert.throws(() => new TfidfVectoriser({ minDf: 5 }).fit(DOCS), /no term left after minDf=5/);
});

test('TF-IDF sublinear tf, unnormalised rows, sparse output and JSON round trip', () => {
  const raw = new TfidfVectoriser({ sublinearTf: true, l2Normalise: false }).fit(['cat cat cat dog', 'dog']);
  const idfCat = Math.log(3 / 2) + 1;
  const idfDog = 1;
  closeRows(raw.transform(['cat cat cat dog']), [[(1 + Math.log(3)) * idfCat, idfDog]]);

  const v = new TfidfVectoriser().fit(DOCS);
  const sparse = v.transformSparse(['sat the dog dog']);
  assert.deepEqual(sparse[0].indices, [1, 3, 4]);
  const dense = v.transform(['sat the dog dog'])[0];
  sparse[0].indices.forEach((col, k) => close(sparse[0].values[k], dense[col]));
  close(Math.hypot(...dense), 1);

  const restored = TfidfVectoriser.fromJSON(JSON.parse(JSON.stringify(v.toJSON())));
  closeRows(restored.transform(DOCS), v.transform(DOCS));
  assert.throws(() => new TfidfVectoriser().transform(['x']), /not fitted: call fit\(trainDocs\) first/);
});

test('TF-IDF with character n-grams: marked terms from padded words, each block unit length, JSON round trip', () => {
  assert.deepEqual(charNgrams(['cat'], [2, 3]), ['# c', '#ca', '#at', '#t ', '# ca', '#cat', '#at ']);
  assert.throws(() => new TfidfVectoriser({ charNgrams: [3, 2] }), /1 ≤ min ≤ max/);
  const v = new TfidfVectoriser({ charNgrams: [3, 3] }).fit(DOCS);
  assert.ok(v.vocabulary.includes('cat') && v.vocabulary.includes('#cat') && v.vocabulary.includes('# ca'));
  const vocab = v.vocabulary;
  const [row] = v.transformSparse(['the cat sat']);
  const blockNorm = (char: boolean) => Math.hypot(...row.indices.map((col, k) => (vocab[col].startsWith(CHAR_NGRAM_MARK) === char ? row.values[k] : 0)));
  // Words and n-grams weigh the same, however many n-grams there are: each block has squared norm 1/2.
  close(blockNorm(false), Math.SQRT1_2);
  close(blockNorm(true), Math.SQRT1_2);
  // A glued word shares its parts' n-grams, and nothing else.
  const [glued] = v.transformSparse(['catsat']);
  assert.ok(glued.indices.every((col) => vocab[col].startsWith(CHAR_NGRAM_MARK)) && glued.indices.length > 0);
  const restored = TfidfVectoriser.fromJSON(JSON.parse(JSON.stringify(v.toJSON())));
  closeRows(restored.transform(DOCS), v.transform(DOCS));
});

test('hstack concatenates blocks row by row', () => {
  assert.deepEqual(hstack([[1], [2]], [[3, 4], [5, 6]]), [[1, 3, 4], [2, 5, 6]]);
  assert.throws(() => hstack([[1], [2]], [[3]]), /block 1 has 1 rows, block 0 has 2/);
});
