import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateImagesAndProducts, evaluateProbs, photoPredictions, productLevel } from '../src/eval/product_eval';

const classes = ['a', 'b'];
// Three photos of product p (two say a), one photo of product q (says b).
const rows = [
  { label: 0, productId: 'p', imageId: 'i1' },
  { label: 0, productId: 'p', imageId: 'i2' },
  { label: 0, productId: 'p', imageId: 'i3' },
  { label: 1, productId: 'q', imageId: 'i4' },
];
const probs = [[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.3, 0.7]];

test('photoPredictions: rows with their labels, ids and products', () => {
  const p = photoPredictions(probs, rows);
  assert.deepEqual(p.labels, [0, 0, 0, 1]);
  assert.deepEqual(p.ids, ['i1', 'i2', 'i3', 'i4']);
  assert.deepEqual(p.productIds, ['p', 'p', 'p', 'q']);
  assert.deepEqual(photoPredictions([[1, 0]], [{ label: 0, productId: 'x' }]).ids, ['0']);
  assert.throws(() => photoPredictions(probs, rows.slice(1)), /4 probability rows for 3 examples/);
});

test('evaluateImagesAndProducts: per photo, and per product as the mean of its photos', () => {
  const images = photoPredictions(probs, rows);
  const ev = evaluateImagesAndProducts(images, classes);
  assert.equal(ev.image.n, 4);
  assert.equal(ev.image.accuracy, 0.75);
  assert.equal(ev.product.n, 2);
  assert.equal(ev.product.accuracy, 1);
  assert.deepEqual(ev.products, productLevel(images));
  assert.deepEqual(ev.product, evaluateProbs(ev.products.labels, ev.products.probs, classes));
});

test('evaluateImagesAndProducts: products given by the caller are used as they are', () => {
  const images = photoPredictions(probs, rows);
  const products = { probs: [[0.1, 0.9], [0.3, 0.7]], labels: [0, 1], ids: ['p', 'q'], productIds: ['p', 'q'] };
  const ev = evaluateImagesAndProducts(images, classes, { products });
  assert.equal(ev.product.accuracy, 0.5);
  assert.equal(ev.products, products);
});

test('evaluateImagesAndProducts: the geometric-mean aggregation lets a photo rule a class out', () => {
  const images = photoPredictions([[0.8, 0.2], [0.8, 0.2], [0.8, 0.2], [1e-4, 1 - 1e-4]], rows.map((r) => ({ ...r, label: 0, productId: 'p' })));
  assert.equal(evaluateImagesAndProducts(images, classes).product.predicted[0], 0);
  assert.equal(evaluateImagesAndProducts(images, classes, { aggregate: 'mean_log_probability' }).product.predicted[0], 1);
});
