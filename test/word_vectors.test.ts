import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Vocabulary } from '../src/text/tokenizer';
import { buildMatrix, loadWordVectors, nearestRows, streamWinkVectors, vocabularyCoverage } from '../src/text/word_vectors';

/** A tiny file in the wink layout: header keys, a words list (which contains the word "vectors"), vectors, unkVector. */
function fakeWinkJson(dims: number, entries: Record<string, number[]>): string {
  const words = Object.keys(entries);
  const vectors: Record<string, number[]> = {};
  words.forEach((w, i) => {
    const v = entries[w];
    const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
    vectors[w] = [...v, norm, i];
  });
  return JSON.stringify({ precision: 8, l2NormIndex: dims, wordIndex: dims + 1, size: words.length, dimensions: dims, words: ['vectors', ...words], vectors, unkVector: [...new Array(dims).fill(0), -1] });
}

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'wv-test-'));
}

const ENTRIES: Record<string, number[]> = {
  sofa: [1, 0, 0],
  couch: [0.9, 0.1, 0],
  phone: [0, 0, 1],
  'quo"te': [0.5, 0.5, 0.5],
  café: [0, 1, 0],
  vectors: [0.1, 0.2, 0.3],
};

test('streamWinkVectors parses only the wanted entries, across chunk boundaries, with escaped and UTF-8 keys', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'fake.json');
  fs.writeFileSync(file, fakeWinkJson(3, ENTRIES));
  for (const chunkBytes of [7, 64, 1 << 20]) {
    const calls: number[] = [];
    const r = streamWinkVectors(file, new Set(['sofa', 'phone', 'quo"te', 'café', 'vectors', 'missing']), {
      chunkBytes, onProgress: (read) => calls.push(read),
    });
    assert.equal(r.dims, 3);
    assert.equal(r.totalWords, 6, `chunk ${chunkBytes}`);
    assert.deepEqual([...r.vectors.keys()].sort(), ['café', 'phone', 'quo"te', 'sofa', 'vectors']);
    assert.deepEqual(Array.from(r.vectors.get('sofa')!), [1, 0, 0]);
    assert.ok(Math.abs(r.vectors.get('vectors')![2] - 0.3) < 1e-7);
    assert.equal(r.vectors.get('couch'), undefined);
    assert.equal(calls[calls.length - 1], fs.statSync(file).size);
  }
});

test('streamWinkVectors rejects a file without a vectors object', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'bad.json');
  fs.writeFileSync(file, JSON.stringify({ dimensions: 3, words: [] }));
  assert.throws(() => streamWinkVectors(file, new Set(['a'])), /no "vectors" object/);
});

test('loadWordVectors trims to the vocabulary, reports coverage and caches the matrix', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'fake.json');
  fs.writeFileSync(file, fakeWinkJson(3, ENTRIES));
  // counts: sofa 3, phone 2, zzz 2 (no vector), 4 2 (a number)
  const vocab = Vocabulary.fit([['sofa', 'sofa', 'sofa', 'phone', 'phone', 'zzz', 'zzz', '4', '4']], { minCount: 2 });
  assert.deepEqual(vocab.tokens.slice(4), ['sofa', '4', 'phone', 'zzz']);
  const cacheDir = path.join(dir, 'cache');
  const first = loadWordVectors(vocab, { cacheDir, sourceFile: file, seed: 7 });
  assert.equal(first.fromCache, false);
  assert.equal(first.dims, 3);
  assert.equal(first.matrix.length, vocab.size * 3);
  assert.deepEqual(Array.from(first.matrix.subarray(0, 3)), [0, 0, 0], 'PAD row is zero');
  assert.deepEqual(Array.from(first.matrix.subarray(4 * 3, 5 * 3)), [1, 0, 0], 'sofa row');
  assert.deepEqual(Array.from(first.pretrained), [0, 0, 0, 0, 1, 0, 1, 0]);
  assert.ok(first.matrix.subarray(7 * 3, 8 * 3).some((x) => x !== 0), 'a token without a vector gets a random row');
  assert.equal(first.coverage.types, 4);
  assert.equal(first.coverage.typesCovered, 2);
  assert.equal(first.coverage.tokens, 9);
  assert.equal(first.coverage.tokensCovered, 5);
  assert.deepEqual(first.coverage.topMissing.map((m) => m.token).sort(), ['4', 'zzz']);

  const second = loadWordVectors(vocab, { cacheDir, sourceFile: file, seed: 7 });
  assert.equal(second.fromCache, true);
  assert.deepEqual(Array.from(second.matrix), Array.from(first.matrix));
  assert.deepEqual(Array.from(second.pretrained), Array.from(first.pretrained));
  assert.deepEqual(second.coverage, first.coverage);

  // another vocabulary → another cache entry, not the old matrix
  const other = Vocabulary.fit([['couch', 'couch']], { minCount: 1 });
  const third = loadWordVectors(other, { cacheDir, sourceFile: file, seed: 7 });
  assert.equal(third.fromCache, false);
  assert.deepEqual(Array.from(third.matrix.subarray(4 * 3, 5 * 3)).map((x) => Math.round(x * 10) / 10), [0.9, 0.1, 0]);
});

test('vocabularyCoverage can be restricted to some tokens', () => {
  const vocab = Vocabulary.fit([['sofa', 'sofa', '4', '4', '4']], { minCount: 1 });
  const words = vocabularyCoverage(vocab, (t) => t === 'sofa', 4, { include: (t) => !/^\d+$/.test(t) });
  assert.equal(words.types, 1);
  assert.equal(words.typeFraction, 1);
  assert.equal(words.tokenFraction, 1);
  const all = vocabularyCoverage(vocab, (t) => t === 'sofa', 4);
  assert.equal(all.tokenFraction, 0.4);
});

test('buildMatrix draws missing rows at the pretrained scale, reproducibly; nearestRows ranks by cosine', () => {
  const vocab = { tokens: ['<pad>', 'a', 'b', 'c'], counts: [0, 1, 1, 1], hash: () => 'x' };
  const vectors = new Map([['a', new Float32Array([1, 0])], ['b', new Float32Array([0.8, 0.2])]]);
  const m1 = buildMatrix(vocab, vectors, 2, 1, 3);
  const m2 = buildMatrix(vocab, vectors, 2, 1, 3);
  assert.deepEqual(Array.from(m1.matrix), Array.from(m2.matrix));
  assert.deepEqual(Array.from(m1.pretrained), [0, 1, 1, 0]);
  const near = nearestRows(m1.matrix, 2, 1, 1, (i) => i === 0);
  assert.equal(near[0].index, 2);
});
