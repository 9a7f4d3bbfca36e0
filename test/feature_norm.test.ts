/**
 * Feature normalisation (signed sqrt + L2, standardisation fitted on train), product means,
 * and the image predictor carrying them and product heads through save/load.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initTf } from '../src/tf/runtime';
import { Rng } from '../src/rng';
import { applyFeatureNorm, fitFeatureNorm, groupMeanRows } from '../src/models/feature_norm';
import { buildHead, predictProbs } from '../src/models/head';
import { aggregatePhotos, ImagePredictor } from '../src/predictors/image_predictor';
import { featureListings, normalizeSplit, predictorEvaluation, productMeanSplit } from '../src/predictors/image_levers';

let tmp: string;
before(async () => {
  await initTf({ backend: 'wasm' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'feature-norm-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const close = (a: number, b: number, tol = 1e-5) => Math.abs(a - b) <= tol;

describe('feature normalisation', () => {
  test('ssqrt_l2: signed square root, then norm √dim', () => {
    const out = applyFeatureNorm({ kind: 'ssqrt_l2' }, Float32Array.from([4, -9, 0, 0, 0, 0, 0, 0]), 4);
    // sqrt: [2, -3, 0, 0], norm √13 → scaled to norm 2.
    assert.ok(close(out[0], 2 * 2 / Math.sqrt(13)) && close(out[1], -3 * 2 / Math.sqrt(13)));
    assert.deepEqual(Array.from(out.subarray(4)), [0, 0, 0, 0], 'an all-zero row stays zero (no NaN)');
  });

  test('standardize: fitted on train, zero mean and unit sd there; a constant dimension stays finite', () => {
    const train = Float32Array.from([1, 5, 3, 5, 5, 5]); // 3 rows × 2; dim 2 is constant
    const norm = fitFeatureNorm('standardize', train, 2);
    assert.equal(norm.kind, 'standardize');
    const out = applyFeatureNorm(norm, train, 2);
    assert.ok(close(out[0] + out[2] + out[4], 0) && close(out[0], -1) && close(out[4], 1));
    assert.deepEqual([out[1], out[3], out[5]], [0, 0, 0]);
    assert.throws(() => applyFeatureNorm(norm, new Float32Array(3), 3), /fitted on 2-d features, these are 3-d/);
  });

  test('groupMeanRows: one mean row per group, in order of first appearance', () => {
    const g = groupMeanRows(Float32Array.from([1, 2, 10, 20, 3, 4]), 2, ['a', 'b', 'a']);
    assert.deepEqual(g.groups, ['a', 'b']);
    assert.deepEqual(Array.from(g.rows), [2, 3, 10, 20]);
  });
});

describe('ImagePredictor with normalisation and product heads', () => {
  const dim = 6;
  const classes = ['x', 'y', 'z'];
  const r = new Rng(4);
  const vec = () => Float32Array.from({ length: dim }, () => Math.abs(r.normal()) * 3);
  const listings = [
    { photos: [[vec(), vec()], [vec(), vec()], [vec(), vec()]], title: '', description: '' },
    { photos: [], title: '', description: '' },
    { photos: [[vec(), vec()]], title: '', description: '' },
  ];

  test('probabilities = (1 − w)·photo aggregate + w·product heads on normalised mean features; saved and loaded unchanged', async () => {
    const head = buildHead({ inputDim: dim, numClasses: 3, hidden: [4], dropout: 0.2, seed: 1 });
    const productHead = buildHead({ inputDim: dim, numClasses: 3, hidden: [], dropout: 0, seed: 2 });
    const spec = { label: 'test', classes, featureDim: dim, views: 2 as const, aggregate: 'mean_log_probability' as const, features: 'test',
      normalization: { kind: 'ssqrt_l2' as const }, productHeadWeight: 0.4 };
    const predictor = new ImagePredictor(spec, [head], head, [productHead]);
    const out = predictor.predict(listings);
    assert.equal(out[1], null);

    // By hand for listing 0: normalise each view, photo head per view (mean over views), log-mean over photos;
    // product head on the mean normalised vector of each view, averaged over views.
    const norm = (v: Float32Array) => applyFeatureNorm({ kind: 'ssqrt_l2' }, v, dim);
    const photos = listings[0].photos.map((views) => views.map(norm));
    const photoProbs = new Float32Array(3 * 3);
    photos.forEach((views, i) => {
      const p = views.map((v) => predictProbs(head, v, dim)[0]);
      for (let c = 0; c < 3; c++) photoProbs[i * 3 + c] = (p[0][c] + p[1][c]) / 2;
    });
    const photoAgg = aggregatePhotos(photoProbs, 3, 3, 'mean_log_probability');
    const viewMean = (j: number) => Float32Array.from({ length: dim }, (_, q) => photos.reduce((s, v) => s + v[j][q], 0) / 3);
    const prodP = [0, 1].map((j) => predictProbs(productHead, viewMean(j), dim)[0]);
    const expected = [0, 1, 2].map((c) => 0.6 * photoAgg[c] + 0.4 * (prodP[0][c] + prodP[1][c]) / 2);
    const got = Array.from(out[0]!.probabilities);
    got.forEach((v, c) => assert.ok(close(v, expected[c], 1e-5), `class ${c}: ${v} vs ${expected[c]}`));
    assert.ok(close(got.reduce((a, b) => a + b, 0), 1, 1e-5));

    const dir = path.join(tmp, 'image');
    await predictor.save(dir);
    const loaded = await ImagePredictor.load(dir);
    assert.deepEqual(loaded.spec.normalization, spec.normalization);
    assert.equal(loaded.spec.productHeadWeight, 0.4);
    const again = loaded.predict(listings);
    for (const i of [0, 2]) Array.from(again[i]!.probabilities).forEach((v, c) => assert.ok(close(v, out[i]!.probabilities[c], 1e-6)));
    assert.deepEqual(Array.from(again[2]!.embedding), Array.from(out[2]!.embedding));
    loaded.dispose();
    predictor.dispose();
  });

  test('a bad product-head weight is refused', () => {
    const head = buildHead({ inputDim: dim, numClasses: 3, hidden: [4], dropout: 0, seed: 1 });
    assert.throws(() => new ImagePredictor({ label: 't', classes, featureDim: dim, views: 1, aggregate: 'mean_probability', features: 't', productHeadWeight: 2 },
      [head], head, [head]), /productHeadWeight must lie in \[0, 1\], got 2/);
  });
});

describe('image levers on feature splits', () => {
  // 3 photos: products a (2 photos), b (1); 2 views, dim 2.
  const split = {
    views: [Float32Array.from([1, 2, 3, 4, 5, 6]), Float32Array.from([2, 1, 4, 3, 6, 5])], dim: 2,
    labels: [0, 0, 1], imageIds: ['a1', 'a2', 'b1'], productIds: ['a', 'a', 'b'],
  };

  test('productMeanSplit: per product and view, the mean vector; labels per product', () => {
    const p = productMeanSplit(split);
    assert.deepEqual(p.productIds, ['a', 'b']);
    assert.deepEqual(p.labels, [0, 1]);
    assert.deepEqual(Array.from(p.views[0]), [2, 3, 5, 6]);
    assert.deepEqual(Array.from(p.views[1]), [3, 2, 6, 5]);
  });

  test('featureListings and predictorEvaluation: one listing per product with its photos\' views; photo and product levels', () => {
    const l = featureListings(split);
    assert.deepEqual(l.productIds, ['a', 'b']);
    assert.equal(l.listings[0].photos.length, 2);
    assert.deepEqual(Array.from(l.listings[0].photos[1][1]), [4, 3]);
    const head = buildHead({ inputDim: 2, numClasses: 2, hidden: [3], dropout: 0, seed: 1 });
    const predictor = new ImagePredictor({ label: 't', classes: ['x', 'y'], featureDim: 2, views: 2, aggregate: 'mean_probability', features: 't' }, [head], head);
    const r = predictorEvaluation(predictor, normalizeSplit(split, { kind: 'ssqrt_l2' }));
    assert.equal(r.product.n, 2);
    assert.equal(r.image.n, 3);
    assert.deepEqual(r.products.productIds, ['a', 'b']);
    assert.ok(r.products.probs.every((row) => Math.abs(row[0] + row[1] - 1) < 1e-5));
    // Product b has one photo and mean-probability aggregation: its product row is its photo row.
    r.products.probs[1].forEach((v, c) => assert.ok(Math.abs(v - r.images.probs[2][c]) < 1e-6));
    predictor.dispose();
  });
});
