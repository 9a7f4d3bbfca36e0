/**
 * The search_index artifact: the per-query-type choice and the whitening round-trip through the
 * files the service loads; a photo's query vector is the whitened mean of its views; re-ranking by
 * the query's class probabilities moves a neighbour of the likely category up, weight 0 keeps the order.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initTf } from '../src/tf/runtime';
import { descriptorViews, photoDescriptor, readSearchIndex, rerankByCategory, SearchIndexChoice, whitenedPhotoQuery, writeSearchIndex } from '../src/search/search_index';
import { fitWhitening, whitenVector } from '../src/search/whitening';
import { Rng } from '../src/rng';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'search-index-test-'));
before(async () => {
  await initTf();
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const choice: SearchIndexChoice = {
  photo: { index: 'whitened_features', validation: { head_embedding: { p_at_5: 0.5 }, whitened_features: { p_at_5: 0.55 } } },
  listing: { embedding: 'fused (05 fusion model)', rerankWeight: 0.2, validation: {} },
};

describe('search_index artifact', () => {
  test('choice and whitening round-trip; the photo query is the whitened mean of its views', () => {
    const rng = new Rng(1);
    const x = Float32Array.from({ length: 200 * 6 }, () => 3 + rng.normal());
    const whitening = fitWhitening(x, 6, { components: 4, seed: 1 });
    const dir = path.join(tmp, 'index');
    writeSearchIndex(dir, { choice, whitening });
    const back = readSearchIndex(dir);
    assert.deepEqual(back.choice, choice);
    assert.deepEqual(back.whitening, whitening);
    const views = [x.subarray(0, 6), x.subarray(6, 12)];
    // A choice written without descriptorViews (older bundles) averages both views.
    assert.equal(descriptorViews(back), 2);
    assert.deepEqual(Array.from(whitenedPhotoQuery(back, views)), Array.from(whitenVector(whitening, photoDescriptor(views, 6))));
    assert.deepEqual(Array.from(photoDescriptor([[1, 2], [3, 6]], 2)), [2, 4]);
  });

  test('a one-view descriptor reads the plain view only, and a photo with too few views is refused', () => {
    const rng = new Rng(2);
    const x = Float32Array.from({ length: 100 * 6 }, () => rng.normal());
    const whitening = fitWhitening(x, 6, { components: 4, seed: 2 });
    const dir = path.join(tmp, 'one-view');
    writeSearchIndex(dir, { choice: { ...choice, photo: { ...choice.photo, descriptorViews: 1 } }, whitening });
    const back = readSearchIndex(dir);
    assert.equal(descriptorViews(back), 1);
    const plain = x.subarray(0, 6);
    const q = whitenedPhotoQuery(back, [plain, x.subarray(6, 12)]);
    assert.deepEqual(Array.from(q), Array.from(whitenVector(whitening, plain)));
    assert.notDeepEqual(Array.from(q), Array.from(whitenVector(whitening, photoDescriptor([plain, x.subarray(6, 12)], 6))));
    assert.deepEqual(Array.from(whitenedPhotoQuery(back, [plain])), Array.from(q));
    const two = readSearchIndex(path.join(tmp, 'index'));
    assert.throws(() => whitenedPhotoQuery(two, [plain]), /averages 2 views, the photo has 1/);
  });

  test('head-embedding choice needs no whitening; whitened choice without one is refused', () => {
    const dir = path.join(tmp, 'head');
    writeSearchIndex(dir, { choice: { ...choice, photo: { ...choice.photo, index: 'head_embedding' } }, whitening: null });
    assert.equal(readSearchIndex(dir).whitening, null);
    assert.equal(descriptorViews(readSearchIndex(dir)), 1);
    assert.throws(() => whitenedPhotoQuery(readSearchIndex(dir), [[1, 2]]), /not the whitened features/);
    assert.throws(() => writeSearchIndex(path.join(tmp, 'bad'), { choice, whitening: null }), /no whitening given/);
    fs.writeFileSync(path.join(dir, 'search_index.json'), JSON.stringify({ artifact: 'search_index', version: 99 }));
    assert.throws(() => readSearchIndex(dir), /version 99.*re-run notebook 07_similar_listings/);
  });
});

describe('rerankByCategory', () => {
  test('a neighbour of the likely category moves up; weight 0 keeps the similarity order', () => {
    const scores = [0.9, 0.85, 0.8];
    const classes = [2, 0, 0];
    const queryProbs = [0.8, 0.1, 0.1];
    assert.deepEqual(rerankByCategory(scores, classes, queryProbs, 0), [0, 1, 2]);
    assert.deepEqual(rerankByCategory(scores, classes, queryProbs, 0.2), [1, 2, 0]);
    assert.throws(() => rerankByCategory([1], [0, 1], queryProbs, 1), /1 scores for 2 neighbours/);
  });
});
