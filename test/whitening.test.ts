/**
 * PCA whitening for photo search: on training data the whitened vectors (before the final
 * normalisation) have identity covariance, the projection finds the known principal directions,
 * whitening separates instances that a dominant shared direction hides, the batched and the
 * one-vector paths agree, and a saved whitening reloads exactly. The batched exact search used to
 * evaluate wide photo vectors ranks like the brute-force index.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { initTf } from '../src/tf/runtime';
import { fitWhitening, fitWhiteningCached, readWhitening, whitenSet, whitenVector, writeWhitening } from '../src/search/whitening';
import { embeddingSet, normalized } from '../src/search/embedding_set';
import { photoSearchRanking, photoSearchScores, rankQueries, rankQueriesExact, scorePhotoSearch } from '../src/search/retrieval';
import { BruteForceIndex } from '../src/search/vector_index';
import { Rng } from '../src/rng';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'whitening-test-'));
before(async () => {
  await initTf();
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** n rows of dim: an offset (so rows are far from the origin) plus independent axes of known spread. */
function anisotropic(n: number, scales: number[], seed: number): Float32Array {
  const rng = new Rng(seed);
  const dim = scales.length;
  const x = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) x[i * dim + j] = 10 + scales[j] * rng.normal();
  return x;
}

describe('fitWhitening', () => {
  test('training vectors come out with identity covariance (before the final normalisation)', () => {
    const dim = 12;
    const scales = [5, 3, 2, 1.5, 1, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1];
    const n = 3000;
    const x = anisotropic(n, scales, 1);
    const w = fitWhitening(x, dim, { components: 6, seed: 2 });
    assert.equal(w.outputDim, 6);
    // Eigenvalues largest first.
    for (let k = 1; k < 6; k++) assert.ok(w.eigenvalues[k] <= w.eigenvalues[k - 1]);
    // Project the (normalised, centred) training rows without the final normalisation: covariance ≈ I.
    const z = new Float64Array(n * 6);
    for (let i = 0; i < n; i++) {
      const u = normalized(x.subarray(i * dim, (i + 1) * dim));
      for (let j = 0; j < dim; j++) for (let k = 0; k < 6; k++) z[i * 6 + k] += (u[j] - w.mean[j]) * w.projection[j * 6 + k];
    }
    for (let a = 0; a < 6; a++) for (let b = 0; b < 6; b++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += z[i * 6 + a] * z[i * 6 + b];
      const cov = s / n;
      assert.ok(Math.abs(cov - (a === b ? 1 : 0)) < 0.02, `cov[${a}][${b}] = ${cov.toFixed(4)}`);
    }
  });

  test('fewer training rows than the search subspace: the rank-deficient basis still gives the top directions', () => {
    // 8 rows in 20-d: the covariance has rank ≤ 7 while the subspace iteration keeps 13 columns, so its
    // Gram matrix is singular and the Cholesky QR gives way to Householder QR.
    const scales = [6, 3, 1.5, ...new Array(17).fill(0.2)];
    const x = anisotropic(8, scales, 4);
    const w = fitWhitening(x, 20, { components: 3, seed: 5 });
    assert.ok(w.projection.every(Number.isFinite));
    // The exact top eigenvalues of the covariance of the normalised, centred rows.
    const rows = Array.from({ length: 8 }, (_, i) => Array.from(normalized(x.subarray(i * 20, (i + 1) * 20)), (v, j) => v - w.mean[j]));
    const cov = new Matrix(rows).transpose().mmul(new Matrix(rows)).div(8);
    const exact = new EigenvalueDecomposition(cov, { assumeSymmetric: true }).realEigenvalues.sort((a, b) => b - a).slice(0, 3);
    w.eigenvalues.forEach((e, k) => assert.ok(Math.abs(e - exact[k]) < 1e-4 * exact[0], `eigenvalue ${k}: ${e} vs ${exact[k]}`));
    const v = whitenVector(w, x.subarray(0, 20));
    assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-5);
  });

  test('power 0 keeps the variances (PCA only); clear errors on bad sizes', () => {
    const x = anisotropic(500, [4, 1, 0.5], 3);
    const w = fitWhitening(x, 3, { components: 2, power: 0 });
    // Unscaled directions: each projection column has unit length.
    for (let k = 0; k < 2; k++) {
      const len = Math.hypot(...[0, 1, 2].map((j) => w.projection[j * 2 + k]));
      assert.ok(Math.abs(len - 1) < 1e-4, `column ${k} length ${len}`);
    }
    assert.throws(() => fitWhitening(x, 3, { components: 4 }), /components must be in 1\.\.3/);
    assert.throws(() => fitWhitening(new Float32Array(3), 3, { components: 1 }), /not ≥ 2 rows/);
  });

  test('whitening separates two instances that a dominant shared direction hides', () => {
    // Gallery: many photos varying strongly along axis 0 (lighting) and weakly along axes 1–7 (identity).
    const rng = new Rng(5);
    const dim = 8;
    const identity = (id: number) => Array.from({ length: dim }, (_, j) => (j === 0 ? 0 : 0.3 * Math.sin(id * 7.1 + j * 1.3)));
    const photo = (id: number) => identity(id).map((v, j) => 5 + v + (j === 0 ? 3 * rng.normal() : 0.02 * rng.normal()));
    const train = new Float32Array(Array.from({ length: 400 }, (_, i) => photo(i % 40)).flat());
    const w = fitWhitening(train, dim, { components: 7, seed: 1 });
    // Two photos of item 1 (different lighting) vs one photo of item 2 (same lighting as the query).
    const query = photo(1);
    const same = photo(1).map((v, j) => (j === 0 ? v + 6 : v));
    const other = photo(2).map((v, j) => (j === 0 ? query[0] : v));
    const cos = (a: ArrayLike<number>, b: ArrayLike<number>) => { let s = 0; for (let j = 0; j < a.length; j++) s += a[j] * b[j]; return s; };
    const raw = (v: number[]) => normalized(v);
    assert.ok(cos(raw(query), raw(other)) > cos(raw(query), raw(same)), 'raw cosine prefers the other item (lighting dominates)');
    assert.ok(cos(whitenVector(w, query), whitenVector(w, same)) > cos(whitenVector(w, query), whitenVector(w, other)), 'whitened cosine finds the same item');
  });
});

describe('whitenSet / whitenVector / saved whitening', () => {
  test('the batched path equals the one-vector path; a saved whitening reloads exactly', () => {
    const dim = 16;
    const x = anisotropic(300, Array.from({ length: dim }, (_, j) => 1 + j), 8);
    const w = fitWhitening(x, dim, { components: 10, power: 0.4, seed: 4 });
    const set = embeddingSet(['a', 'b', 'c'], dim, x.slice(0, 3 * dim));
    const batched = whitenSet(w, set, 2);
    assert.equal(batched.dim, 10);
    for (let i = 0; i < 3; i++) {
      const one = whitenVector(w, x.subarray(i * dim, (i + 1) * dim));
      for (let k = 0; k < 10; k++) assert.ok(Math.abs(one[k] - batched.vectors[i * 10 + k]) < 1e-4);
      assert.ok(Math.abs(Math.hypot(...one) - 1) < 1e-5);
    }
    const dir = path.join(tmp, 'search');
    writeWhitening(dir, w, 'search_index');
    const back = readWhitening(dir, 'search_index');
    assert.deepEqual(back, w);
    assert.throws(() => whitenVector(w, new Float32Array(3)), /3 values, expected 16/);
  });

  test('a cached fit is the fit; a second call reads it back; other vectors or options fit anew; a torn cache is refitted', () => {
    const dim = 8;
    const x = anisotropic(120, Array.from({ length: dim }, (_, j) => 1 + j), 9);
    const dir = path.join(tmp, 'cache');
    const options = { components: 4, seed: 5 };
    const first = fitWhiteningCached(x, dim, options, dir);
    assert.deepEqual(first, fitWhitening(x, dim, options));
    const [folder] = fs.readdirSync(dir);
    assert.match(folder, /^whitening_[0-9a-f]{12}$/);
    // Mark the saved header: the second call must return what is on disk, not a new fit.
    const header = path.join(dir, folder, 'whitening.json');
    fs.writeFileSync(header, fs.readFileSync(header, 'utf8').replace('"fittedOn": 120', '"fittedOn": 777'));
    assert.equal(fitWhiteningCached(x, dim, options, dir).fittedOn, 777);
    fitWhiteningCached(x.map((v) => v + 1), dim, options, dir);
    fitWhiteningCached(x, dim, { ...options, components: 3 }, dir);
    assert.equal(fs.readdirSync(dir).length, 3);
    fs.rmSync(header);
    assert.deepEqual(fitWhiteningCached(x, dim, options, dir), first);
  });
});

describe('rankQueriesExact', () => {
  test('the same lists as brute force one query at a time, with exclusions', () => {
    const rng = new Rng(12);
    const dim = 24;
    const gallery = embeddingSet(Array.from({ length: 200 }, (_, i) => `g${i}`), dim, Float32Array.from({ length: 200 * dim }, () => rng.normal()));
    const queries = embeddingSet(Array.from({ length: 37 }, (_, i) => `q${i}`), dim, gallery.vectors.slice(0, 37 * dim).map((v) => v + 0.3 * rng.normal()));
    const exclude = (q: number, row: number) => row === q;
    const a = rankQueriesExact(gallery, queries, 10, { exclude, batchSize: 8 });
    const b = rankQueries(BruteForceIndex.fromSet(gallery), queries, 10, { exclude });
    assert.deepEqual(a.rows, b.rows);
    a.scores.forEach((s, q) => s.forEach((v, i) => assert.ok(Math.abs(v - b.scores[q][i]) < 1e-4)));
    assert.ok(a.rows.every((r, q) => !r.includes(q)));
  });
});

describe('photoSearchScores', () => {
  test('two photos per product near each other: same item always found; category precision from the listings found', () => {
    const rng = new Rng(4);
    const dim = 8;
    const ids: string[] = [];
    const vectors: number[] = [];
    const productOf = new Map<string, string>();
    for (let p = 0; p < 30; p++) {
      const centre = Array.from({ length: dim }, () => rng.normal());
      for (let k = 0; k < 2; k++) {
        ids.push(`p${p}_${k}`);
        productOf.set(`p${p}_${k}`, `p${p}`);
        vectors.push(...centre.map((v) => v + 0.01 * rng.normal()));
      }
    }
    const set = embeddingSet(ids, dim, Float32Array.from(vectors));
    const queries = ids.filter((id) => id.endsWith('_0') && Number(id.slice(1, -2)) >= 20);
    const gallery = ids.filter((id) => Number(id.slice(1, -2)) < 20);
    const category = (p: string) => (Number(p.slice(1)) % 2 === 0 ? 'even' : 'odd');
    const r = photoSearchScores(set, queries, gallery, (id) => productOf.get(id)!, category);
    assert.equal(r.same_item_recall_at_10, 1);
    assert.equal(r.queries, 10);
    assert.ok(r.precision_at_5 >= 0 && r.precision_at_5 <= 1);
    // Re-ranking with a confident, correct class belief puts the query's category first.
    const classOf = (p: string) => (category(p) === 'even' ? 0 : 1);
    const reranked = photoSearchScores(set, queries, gallery, (id) => productOf.get(id)!, category,
      { weight: 10, classOf, queryProbs: (q) => (classOf(productOf.get(queries[q])!) === 0 ? [1, 0] : [0, 1]) });
    assert.equal(reranked.precision_at_5, 1);
    // One ranking, scored at several weights: weight 0 is similarity alone, and the re-ranking
    // re-orders the same-item list too (a confident WRONG belief buries the other photo).
    const ranking = photoSearchRanking(set, queries, gallery, (id) => productOf.get(id)!);
    assert.deepEqual(scorePhotoSearch(ranking, category, { weight: 0, classOf, queryProbs: () => [1, 0] }), r);
    const wrong = scorePhotoSearch(ranking, category, { weight: 10, classOf, queryProbs: (q) => (classOf(productOf.get(queries[q])!) === 0 ? [0, 1] : [1, 0]) });
    assert.equal(wrong.same_item_recall_at_10, 0);
    assert.equal(wrong.precision_at_5, 0);
    // The per-query values average to the mean of the two figures (the selection criterion).
    for (const s of [r, reranked, wrong]) {
      const mean = s.valuePerQuery.reduce((a, b) => a + b, 0) / s.valuePerQuery.length;
      assert.ok(Math.abs(mean - (s.precision_at_5 + s.same_item_recall_at_10) / 2) < 1e-12, `${mean} vs ${JSON.stringify(s)}`);
    }
  });
});
