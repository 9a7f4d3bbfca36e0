/**
 * src/search: embedding-set helpers, the exact brute-force index, the usearch ANN index (recall
 * against exact search, save/load), and retrieval metrics on hand-computed examples.
 */
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { concatSets, concatVectors, embeddingSet, meanByGroup, normalized, selectRows } from '../src/search/embedding_set';
import { BruteForceIndex } from '../src/search/vector_index';
import { UsearchIndex } from '../src/search/usearch_index';
import {
  categoryRetrieval, chancePrecision, dedupeByGroup, labelLists, latencySummary, overlapAtK, percentile, rankQueries, sameItemRetrieval,
} from '../src/search/retrieval';
import { Rng } from '../src/rng';

function gaussian(rng: Rng): number {
  const u = Math.max(1e-12, rng.next());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

/** n vectors around `clusters` random centres (a gallery with structure, like real embeddings). */
function clustered(n: number, dim: number, clusters: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const centres = Array.from({ length: clusters }, () => Array.from({ length: dim }, () => gaussian(rng)));
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = centres[Math.floor(rng.next() * clusters)];
    for (let j = 0; j < dim; j++) out[i * dim + j] = c[j] + 0.6 * gaussian(rng);
  }
  return out;
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
  return ab / Math.sqrt(aa * bb);
}

describe('embedding sets', () => {
  test('meanByGroup averages rows per group in first-appearance order', () => {
    const set = embeddingSet(['p1a', 'p2a', 'p1b'], 2, new Float32Array([1, 0, 0, 4, 3, 2]));
    const g = meanByGroup(set, ['p1', 'p2', 'p1']);
    assert.deepEqual(g.ids, ['p1', 'p2']);
    assert.deepEqual(Array.from(g.vectors), [2, 1, 0, 4]);
    assert.deepEqual(g.counts, [2, 1]);
    const n = meanByGroup(set, ['p1', 'p2', 'p1'], { normalizeFirst: true });
    const e = normalized([3, 2]);
    assert.ok(Math.abs(n.vectors[0] - (1 + e[0]) / 2) < 1e-6 && Math.abs(n.vectors[1] - e[1] / 2) < 1e-6);
  });

  test('selectRows picks by id and rejects unknown ids; duplicate ids are refused', () => {
    const set = embeddingSet(['a', 'b', 'c'], 1, new Float32Array([1, 2, 3]));
    assert.deepEqual(Array.from(selectRows(set, ['c', 'a']).vectors), [3, 1]);
    assert.throws(() => selectRows(set, ['z']), /no row with id z/);
    assert.throws(() => embeddingSet(['a', 'a'], 1, new Float32Array([1, 2])), /not unique/);
    assert.throws(() => embeddingSet(['a'], 2, new Float32Array([1, 2, 3])), /3 values for 1 ids × 2/);
  });

  test('the cosine of two concatenations is the weighted mean of the parts\' cosines', () => {
    const rng = new Rng(3);
    const v = () => Array.from({ length: 5 }, () => gaussian(rng));
    const [a1, a2, b1, b2] = [v(), v(), v(), v()];
    const x = concatVectors([{ vector: a1, weight: 3 }, { vector: b1, weight: 1 }]);
    const y = concatVectors([{ vector: a2, weight: 3 }, { vector: b2, weight: 1 }]);
    assert.ok(Math.abs(cosine(x, y) - (0.75 * cosine(a1, a2) + 0.25 * cosine(b1, b2))) < 1e-5);
    const img = embeddingSet(['p', 'q'], 5, Float32Array.from([...a1, ...a2]));
    const txt = embeddingSet(['q', 'p'], 5, Float32Array.from([...b2, ...b1]));
    const fused = concatSets([{ set: img, weight: 3 }, { set: txt, weight: 1 }], ['p', 'q']);
    assert.equal(fused.dim, 10);
    assert.ok(Array.from(fused.vectors.subarray(0, 10)).every((val, i) => Math.abs(val - x[i]) < 1e-6));
  });
});

describe('BruteForceIndex', () => {
  test('ranks by cosine similarity on a hand-computed example', () => {
    const index = new BruteForceIndex(new Float32Array([1, 0, 0, 1, 1, 1, -1, 0]), 2);
    const r = index.search([1, 0.2], 4);
    assert.deepEqual(r.rows, [0, 2, 1, 3]);
    const qn = Math.hypot(1, 0.2);
    const expected = [1 / qn, 1.2 / (Math.SQRT2 * qn), 0.2 / qn, -1 / qn];
    r.scores.forEach((s, i) => assert.ok(Math.abs(s - expected[i]) < 1e-6, `score ${i}: ${s} vs ${expected[i]}`));
    assert.deepEqual(index.search([1, 0.2], 2).rows, [0, 2]);
    assert.equal(index.search([1, 0.2], 10).rows.length, 4, 'k larger than the gallery returns the whole gallery');
  });

  test('ties go to the lower row; scale does not matter (cosine)', () => {
    const index = new BruteForceIndex(new Float32Array([0, 1, 2, 0, 5, 0, 1, 0]), 2);
    assert.deepEqual(index.search([3, 0], 4).rows, [1, 2, 3, 0]);
  });

  test('matches a full sort on random data', () => {
    const dim = 16;
    const data = clustered(300, dim, 6, 1);
    const index = new BruteForceIndex(data, dim);
    const q = clustered(1, dim, 6, 2);
    const all = Array.from({ length: 300 }, (_, r) => ({ r, s: cosine(q, data.subarray(r * dim, (r + 1) * dim)) }))
      .sort((a, b) => b.s - a.s || a.r - b.r);
    assert.deepEqual(index.search(q, 10).rows, all.slice(0, 10).map((x) => x.r));
  });

  test('rejects bad k and a query of the wrong width', () => {
    const index = new BruteForceIndex(new Float32Array([1, 0]), 2);
    assert.throws(() => index.search([1, 0], 0), /k must be a positive integer/);
    assert.throws(() => index.search([1, 0, 0], 1), /query has 3 values/);
  });
});

describe('UsearchIndex', () => {
  const dim = 32;
  const n = 3000;
  const gallery = clustered(n, dim, 20, 11);
  const queries = embeddingSet(Array.from({ length: 100 }, (_, i) => `q${i}`), dim, clustered(100, dim, 20, 12));

  test('recall@10 against exact search is ≥ 0.95', () => {
    const ann = UsearchIndex.build(gallery, dim);
    const exact = new BruteForceIndex(gallery, dim);
    assert.equal(ann.size, n);
    const a = rankQueries(ann, queries, 10);
    const e = rankQueries(exact, queries, 10);
    const recall = overlapAtK(a.rows, e.rows, 10);
    assert.ok(recall >= 0.95, `recall@10 ${recall}`);
    // Scores are cosine similarities, like the exact index's.
    assert.ok(Math.abs(a.scores[0][0] - e.scores[0][0]) < 1e-4 || a.rows[0][0] !== e.rows[0][0]);
  });

  test('save + load gives the same answers', () => {
    const ann = UsearchIndex.build(gallery, dim);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'usearch-'));
    try {
      const file = path.join(dir, 'x.usearch');
      ann.save(file);
      const back = UsearchIndex.load(file, dim);
      assert.equal(back.size, n);
      for (let q = 0; q < 5; q++) {
        const v = queries.vectors.subarray(q * dim, (q + 1) * dim);
        assert.deepEqual(back.search(v, 10).rows, ann.search(v, 10).rows);
      }
      assert.throws(() => UsearchIndex.load(path.join(dir, 'missing.usearch'), dim), /no usearch index/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('retrieval evaluation', () => {
  test('rankQueries leaves out excluded rows and still fills the depth', () => {
    const index = new BruteForceIndex(new Float32Array([1, 0, 0.9, 0.1, 0, 1]), 2);
    const queries = embeddingSet(['g0'], 2, new Float32Array([1, 0]));
    const r = rankQueries(index, queries, 2, { exclude: (_q, row) => row === 0 });
    assert.deepEqual(r.rows, [[1, 2]]);
    assert.equal(r.latencyMs.length, 1);
  });

  test('category precision@k and MRR on a hand-computed example', () => {
    const queryLabels = ['a', 'b'];
    const lists = [
      ['a', 'b', 'a', 'a', 'c', 'a', 'a', 'a', 'a', 'a'], // P@1 1, P@5 3/5, P@10 8/10, RR 1
      ['a', 'c', 'b', 'b', 'a', 'a', 'a', 'a', 'a', 'a'], // P@1 0, P@5 2/5, P@10 2/10, RR 1/3
    ];
    const r = categoryRetrieval(queryLabels, lists);
    assert.equal(r.precision_at_1, 0.5);
    assert.ok(Math.abs(r.precision_at_5 - 0.5) < 1e-12);
    assert.ok(Math.abs(r.precision_at_10 - 0.5) < 1e-12);
    assert.ok(Math.abs(r.mrr - (1 + 1 / 3) / 2) < 1e-12);
    assert.equal(r.hit_rate_at_5, 1);
  });

  test('same-product recall and hit rate skip queries without another photo', () => {
    // q0 (product A, 2 other photos): hits at ranks 2 and 7; q1 (B, 1 other): rank 1; q2 (C, none): skipped.
    const lists = [
      ['X', 'A', 'Y', 'Y', 'Y', 'Y', 'A', 'Y', 'Y', 'Y'],
      ['B', 'X', 'X', 'X', 'X', 'X', 'X', 'X', 'X', 'X'],
      ['X', 'X', 'X', 'X', 'X', 'X', 'X', 'X', 'X', 'X'],
    ];
    const r = sameItemRetrieval(['A', 'B', 'C'], lists, [2, 1, 0]);
    assert.equal(r.queries, 2);
    assert.equal(r.recall_at_1, (0 + 1) / 2);
    assert.equal(r.recall_at_5, (0.5 + 1) / 2);
    assert.equal(r.recall_at_10, (1 + 1) / 2);
    assert.equal(r.hit_rate_at_1, 0.5);
    assert.equal(r.hit_rate_at_5, 1);
    assert.equal(r.mrr, (0.5 + 1) / 2);
    assert.throws(() => sameItemRetrieval(['C'], [lists[2]], [0]), /no query has another photo/);
  });

  test('overlapAtK, dedupeByGroup, labelLists, chancePrecision, percentile', () => {
    assert.equal(overlapAtK([[1, 2, 3], [4, 5, 6]], [[3, 2, 9], [7, 8, 9]], 3), (2 / 3 + 0) / 2);
    const d = dedupeByGroup([0, 1, 2, 3, 4], [0.9, 0.8, 0.7, 0.6, 0.5], (r) => ['p', 'p', 'q', 'p', 'r'][r], 2);
    assert.deepEqual(d, { rows: [0, 2], scores: [0.9, 0.7], groups: ['p', 'q'] });
    assert.deepEqual(labelLists([[1, 0]], (r) => ['x', 'y'][r]), [['y', 'x']]);
    assert.equal(chancePrecision(['a', 'b'], ['a', 'a', 'b', 'c']), 0.375);
    assert.equal(percentile([1, 2, 3, 4, 5], 50), 3);
    assert.ok(Math.abs(percentile([1, 2, 3, 4], 95) - 3.85) < 1e-12);
    const l = latencySummary([2, 4]);
    assert.equal(l.mean_ms, 3);
    assert.equal(l.p50_ms, 3);
    assert.ok(Math.abs(l.p95_ms - 3.9) < 1e-12);
  });
});
