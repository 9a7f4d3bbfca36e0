import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { predictionsPath, readPredictions, splitPredictions, writePredictions } from '../src/eval/predictions_store';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'predictions-store-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const classes = ['Appliances', 'Baby & Kids Stuff', 'Computers & Software'];

test('round trip per split, probabilities rounded, file named by stage and profile', () => {
  const test = { productIds: ['p1', 'p2'], labels: [0, 2], probs: [[0.7, 0.2, 0.1], [0.1234567891, 0.3, 0.5765432109]] };
  const file = writePredictions('cnn', { model: 'custom CNN', classes, splits: { test } }, { dir, profile: 'smoke' });
  assert.equal(file, predictionsPath('cnn', 'smoke', dir));
  assert.equal(path.basename(file), 'predictions_cnn_smoke.json');
  const back = readPredictions('cnn', { dir, profile: 'smoke' });
  assert.equal(back.model, 'custom CNN');
  assert.deepEqual(back.classes, classes);
  assert.deepEqual(back.splits.test!.productIds, ['p1', 'p2']);
  assert.equal(back.splits.test!.probs[1][0], 0.123457);
  assert.equal(back.splits.val, undefined);
});

test('splitPredictions copies the product-level rows', () => {
  const products = { probs: [[0.5, 0.5, 0]], labels: [1], ids: ['p9'], productIds: ['p9'] };
  const s = splitPredictions(products);
  products.probs[0][0] = 0;
  assert.deepEqual(s, { productIds: ['p9'], labels: [1], probs: [[0.5, 0.5, 0]] });
});

test('refuses rows that are not product-level probabilities, naming the row', () => {
  const bad = (splits: Parameters<typeof writePredictions>[1]['splits']) => () => writePredictions('resnet', { model: 'm', classes, splits }, { dir });
  assert.throws(bad({ test: { productIds: ['a', 'a'], labels: [0, 0], probs: [[1, 0, 0], [1, 0, 0]] } }), /appears twice/);
  assert.throws(bad({ test: { productIds: ['a', 'b'], labels: [0, 0], probs: [[1, 0, 0], [0.5, 0, 0]] } }), /row 1 \(b\): probabilities sum to 0.5/);
  assert.throws(bad({ val: { productIds: ['a'], labels: [0], probs: [[0.5, 0.5]] } }), /val row 0 \(a\): 2 probabilities for 3 classes/);
  assert.throws(bad({ val: { productIds: ['a'], labels: [], probs: [[1, 0, 0]] } }), /1 product ids, 0 labels/);
  assert.throws(() => predictionsPath('Bad-Name'), /snake_case/);
  assert.throws(() => readPredictions('missing', { dir }), /no saved predictions for stage 'missing'.*run the notebook/);
});
