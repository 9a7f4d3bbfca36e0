/**
 * Out-of-fold predictions of the training split (src/eval/oof.ts): the fold assignment predicts
 * every training product exactly once, from a fit that did not include it, and keeps a product's
 * photos in its fold; the TF-IDF OOF rows cannot have seen their own listing; the text_oof
 * artifact round-trips; a stacked pool fitted on OOF rows plus validation is checked by CV.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { foldRows, outOfFold } from '../src/eval/folds';
import { foldAssignmentKey, oofTfidf, photoFolds, selectEncoded, trainingFolds } from '../src/eval/oof';
import { readTextOof, writeTextOof } from '../src/text/embeddings_store';
import { ArtifactVersionError } from '../src/artifacts/registry';
import { evaluateFusionStep, FusionSplit } from '../src/eval/fusion_steps';
import { Rng } from '../src/rng';
import { initTf } from '../src/tf/runtime';

// Cached results (src/artifacts/result_cache.ts) go to a temporary folder, not data/clean/results.
process.env.RESULT_CACHE_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'result-cache-'));
after(() => fs.rmSync(process.env.RESULT_CACHE_DIR as string, { recursive: true, force: true }));

before(async () => {
  await initTf();
});

describe('out-of-fold fold assignment', () => {
  const productIds = Array.from({ length: 60 }, (_, i) => `p${i}`);
  const labels = productIds.map((_, i) => i % 3);

  test('every training product is held out exactly once, and never in the fit of the model that predicts it', async () => {
    const fold = trainingFolds(productIds, labels, 5, 42);
    assert.deepEqual(trainingFolds(productIds, labels, 5, 42), fold, 'seeded: the same folds again');
    const held = foldRows(fold, 5).flatMap((f) => f.held).sort((a, b) => a - b);
    assert.deepEqual(held, productIds.map((_, i) => i), 'each row held out once');
    const seenBy = await outOfFold(fold, 5, (fit, heldRows) => heldRows.map(() => new Set(fit)));
    seenBy.forEach((fit, r) => assert.ok(!fit.has(r), `product ${r} was in the fit that predicted it`));
    // Stratified: each fold has every class.
    for (let f = 0; f < 5; f++) assert.equal(new Set(labels.filter((_, i) => fold[i] === f)).size, 3);
    assert.notEqual(foldAssignmentKey(productIds, fold), foldAssignmentKey(productIds, trainingFolds(productIds, labels, 5, 43)));
  });

  test("a product's photos follow it into its fold", () => {
    const fold = trainingFolds(productIds, labels, 4, 1);
    const photoProducts = ['p3', 'p3', 'p7', 'p0', 'p3', 'p7'];
    const pf = photoFolds(photoProducts, productIds, fold);
    photoProducts.forEach((p, j) => assert.equal(pf[j], fold[productIds.indexOf(p)]));
    assert.throws(() => photoFolds(['nope'], productIds, fold), /product nope, which has no fold/);
  });

  test('selectEncoded picks whole rows of sequences', () => {
    const split = { ids: Int32Array.from([1, 1, 2, 2, 3, 3]), labels: [0, 1, 2] };
    const picked = selectEncoded(split, [2, 0], 2);
    assert.deepEqual(Array.from(picked.ids), [3, 3, 1, 1]);
    assert.deepEqual(picked.labels, [2, 0]);
  });
});

describe('TF-IDF out-of-fold', () => {
  test('a listing whose only word is its own is predicted from the prior: its fold model never saw it', async () => {
    // Each listing's text is a word no other listing has, and labels are random: in-sample, a model
    // memorises them; out of fold, the word is unknown, so every held-out row of a fold gets the same row.
    const rng = new Rng(5);
    const n = 40;
    const rows = Array.from({ length: n }, (_, i) => ({ title: `w${i}x`, description: '' }));
    const labels = rows.map(() => rng.int(2));
    const val = { rows: [{ title: 'zz', description: '' }, { title: 'yy', description: '' }], labels: [0, 1] };
    const fold = trainingFolds(rows.map((_, i) => `p${i}`), labels, 4, 3);
    const probs = await oofTfidf({ rows, labels }, val, fold, 4, { numClasses: 2, minDf: 1, epochs: 3, patience: 3, seed: 1 });
    assert.equal(probs.length, n);
    for (let f = 0; f < 4; f++) {
      const inFold = probs.filter((_, i) => fold[i] === f);
      for (const p of inFold) p.forEach((v, c) => assert.ok(Math.abs(v - inFold[0][c]) < 1e-6, `fold ${f}: held-out rows differ, so a fold model knew a held-out word`));
    }
  });
});

describe('text_oof artifact', () => {
  test('round trip, folds included; other splits and other versions are refused', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'text-oof-'));
    const base = {
      productIds: ['a', 'b', 'c'], splits: ['train', 'train', 'train'] as Array<'train'>, labels: [0, 1, 0], classes: ['x', 'y'], dim: 2,
      embeddings: Float32Array.from([1, 2, 3, 4, 5, 6]), probabilities: { tfidf: Float32Array.from([0.9, 0.1, 0.2, 0.8, 0.6, 0.4]) },
      bestModel: 'tfidf', info: { k: 2 }, folds: [0, 1, 1],
    };
    writeTextOof(base, { profile: 'unit', dir });
    const read = readTextOof({ profile: 'unit', dir });
    assert.deepEqual(read.folds, [0, 1, 1]);
    assert.deepEqual(Array.from(read.embeddingOf('b') as Float32Array), [3, 4]);
    assert.deepEqual(Array.from(read.probabilitiesOf('c', 'tfidf') as Float32Array).map((v) => Math.round(v * 10) / 10), [0.6, 0.4]);
    assert.equal(read.info.k, 2);
    assert.throws(() => writeTextOof({ ...base, splits: ['train', 'val', 'train'] as never }, { profile: 'unit', dir }), /training products only/);
    assert.throws(() => writeTextOof({ ...base, folds: [0] }, { profile: 'unit', dir }), /1 folds for 3 products/);
    const meta = path.join(dir, 'text_oof_unit.json');
    const json = JSON.parse(fs.readFileSync(meta, 'utf8'));
    json.info.version = 999;
    fs.writeFileSync(meta, JSON.stringify(json));
    assert.throws(() => readTextOof({ profile: 'unit', dir }), ArtifactVersionError);
    assert.throws(() => readTextOof({ profile: 'none', dir }), /missing .*text_oof/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('stacked pool on out-of-fold rows', () => {
  function split(n: number, seed: number): FusionSplit {
    const rng = new Rng(seed);
    const noisy = (y: number, s: number) => {
      const e = [0, 1, 2].map((c) => Math.exp((c === y ? s : 0) + rng.normal()));
      const sum = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / sum);
    };
    const labels = Array.from({ length: n }, () => rng.int(3));
    const hasPhoto = labels.map(() => rng.next() < 0.8);
    return { labels, hasPhoto, experts: { text: labels.map((y) => noisy(y, 1.5)), image: labels.map((y, i) => (hasPhoto[i] ? noisy(y, 1.5) : null)) } };
  }

  test('fitted on OOF rows alone (no CV) or with validation added (5-fold CV within validation)', () => {
    const [oof, val, testSplit] = [split(1200, 1), split(300, 2), split(300, 3)];
    const alone = evaluateFusionStep('oof', ['text', 'image'], { val, test: testSplit, fitOn: oof }, { textExpert: 'text', seed: 1 });
    const both = evaluateFusionStep('oof+val', ['text', 'image'], { val, test: testSplit, fitOn: oof, addValidation: true }, { textExpert: 'text', seed: 1 });
    assert.equal(alone.fittedOn, 'fitOn');
    assert.equal(alone.cv, null);
    assert.equal(both.fittedOn, 'fitOn+val');
    assert.ok(both.cv && both.cv.foldWeights.length === 5);
    assert.ok(both.cv.accuracy > 0.5 && alone.val.accuracy > 0.5);
    // Both experts carry evidence: both weights clearly positive.
    assert.ok(alone.fit.weights.every((w) => w > 0.3), `weights ${alone.fit.weights}`);
  });
});
