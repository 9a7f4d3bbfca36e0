import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { blendProbs, chooseBlendWeight } from '../src/text/ensemble';
import { readTextFeatures, writeTextFeatures } from '../src/text/embeddings_store';

test('blendProbs averages rows with the given weight and checks shapes', () => {
  assert.deepEqual(blendProbs([[1, 0]], [[0, 1]], 0.25), [[0.25, 0.75]]);
  assert.throws(() => blendProbs([[1, 0]], [[0, 1]], 1.5), /must be in \[0, 1\]/);
  assert.throws(() => blendProbs([[1, 0]], [], 0.5), /1 rows vs 0 rows/);
});

test('chooseBlendWeight picks the weight of lowest validation log-loss', () => {
  // A is right on rows 0-1, B on rows 2-3, each confidently wrong elsewhere: a mix beats both.
  const a = [[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]];
  const b = [[0.4, 0.6], [0.4, 0.6], [0.1, 0.9], [0.1, 0.9]];
  const y = [0, 0, 1, 1];
  const choice = chooseBlendWeight(a, b, y, [0, 0.5, 1]);
  assert.equal(choice.weight, 0.5);
  assert.equal(choice.candidates.length, 3);
  assert.equal(choice.valAccuracy, 1);
  assert.ok(choice.valLogLoss < choice.candidates[0].val_log_loss && choice.valLogLoss < choice.candidates[2].val_log_loss);
});

test('text features round-trip: embeddings and several models\' probabilities by product id', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'text-features-'));
  const features = {
    productIds: ['p1', 'p2', 'p3'],
    splits: ['train', 'val', 'test'] as Array<'train' | 'val' | 'test'>,
    labels: [0, 1, 1],
    classes: ['a', 'b'],
    dim: 2,
    embeddings: new Float32Array([1, 2, 3, 4, 5, 6]),
    probabilities: { cnn: new Float32Array([0.9, 0.1, 0.2, 0.8, 0.4, 0.6]), tfidf: new Float32Array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5]) },
    bestModel: 'cnn',
    info: { note: 'test' },
  };
  writeTextFeatures(features, { profile: 'unit', dir });
  const text = readTextFeatures({ profile: 'unit', dir });
  assert.deepEqual(text.productIds, features.productIds);
  assert.deepEqual(Array.from(text.embeddingOf('p2')!), [3, 4]);
  assert.deepEqual(Array.from(text.probabilitiesOf('p3')!).map((v) => Math.round(v * 10) / 10), [0.4, 0.6]);
  assert.deepEqual(Array.from(text.probabilitiesOf('p3', 'tfidf')!), [0.5, 0.5]);
  assert.equal(text.embeddingOf('nope'), undefined);
  assert.deepEqual(text.rowsOf('val'), [1]);
  assert.equal(text.bestModel, 'cnn');
  assert.deepEqual(text.info, { note: 'test' });
  assert.throws(() => text.probabilitiesOf('p1', 'bert'), /no probabilities of model 'bert'/);
  assert.throws(() => readTextFeatures({ profile: 'missing', dir }), /run notebook 04 first/);
  assert.throws(() => writeTextFeatures({ ...features, bestModel: 'x' }, { profile: 'unit', dir }), /bestModel 'x'/);
});
