/**
 * The saved fusion predictor serving a log-linear pool (issue 15): its probabilities are the pool
 * of its experts' own outputs (03's image model, 04's TF-IDF and text CNN), a listing without
 * photos gets no image term, and it survives a save/load round trip unchanged.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initTf } from '../src/tf/runtime';
import { buildHead } from '../src/models/head';
import { buildTextCnn } from '../src/models/text_cnn';
import { TfidfVectoriser } from '../src/models/features';
import { tfidfDocument } from '../src/text/tfidf_baseline';
import { tokenizeFields, Vocabulary } from '../src/text/tokenizer';
import { ImagePredictor } from '../src/predictors/image_predictor';
import { TextPredictor } from '../src/predictors/text_predictor';
import { FusionPredictor } from '../src/predictors/fusion_predictor';
import { ListingInput } from '../src/predictors/predictor';
import { logLinearRow } from '../src/models/log_linear_fusion';
import { Rng } from '../src/rng';

const CLASSES = ['Appliances', 'Baby & Kids Stuff', 'Computers & Software'];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fusion-predictor-test-'));
before(async () => {
  await initTf();
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const TEXTS = [
  { title: 'Fridge freezer for sale', description: 'Large fridge freezer, collection only' },
  { title: 'Kids bike 16 inch', description: 'Childrens bike with stabilisers' },
  { title: 'Gaming laptop', description: 'Laptop with 16GB ram and SSD' },
];

function parts(): { image: ImagePredictor; text: TextPredictor } {
  const image = new ImagePredictor({ label: 'tiny image', classes: CLASSES, featureDim: 6, views: 2, aggregate: 'mean_probability', features: 'test' },
    [buildHead({ inputDim: 6, numClasses: 3, hidden: [5], dropout: 0, seed: 1 })], buildHead({ inputDim: 6, numClasses: 3, hidden: [5], dropout: 0, seed: 2 }));
  const docs = TEXTS.map((t) => tfidfDocument(t, 2));
  const vectoriser = new TfidfVectoriser({ minDf: 1 }).fit(docs);
  const rng = new Rng(2);
  const d = vectoriser.vocabulary.length;
  const kernel = Float32Array.from({ length: d * 3 }, () => rng.normal());
  const vocabulary = Vocabulary.fit(TEXTS.map((t) => { const f = tokenizeFields(t); return [...f.title, ...f.description]; }), { minCount: 1 });
  const cnn = buildTextCnn({ vocabSize: vocabulary.size, sequenceLength: 10, numClasses: 3, embeddingDim: 8, kernelSizes: [2], filters: 4, hiddenUnits: 6, dropout: 0, embeddingDropout: 0, seed: 3 });
  const text = new TextPredictor({ label: 'tiny text', classes: CLASSES, cnnWeight: 0.5, cnn: 'test' },
    { vectoriser, titleRepeats: 2, kernel, bias: Float32Array.from([0.1, 0, -0.1]) }, { model: cnn, vocabulary, sequenceLength: 10 });
  return { image, text };
}

function photo(seed: number): Float32Array[] {
  const rng = new Rng(seed);
  return [0, 1].map(() => Float32Array.from({ length: 6 }, () => rng.normal()));
}

describe('FusionPredictor, log-linear combination', () => {
  test('probabilities are the pool of its experts; no photo → no image term; save/load keeps them', async () => {
    const { image, text } = parts();
    const pool = { experts: ['image' as const, 'tfidf' as const, 'text_cnn' as const], weights: [1.7, 0.9, 0.6], bias: [0.2, -0.1, 0] };
    const fusion = new FusionPredictor({ label: 'log-linear test', classes: CLASSES, combination: { kind: 'log_linear', pool } }, image, text, null);
    const listings: ListingInput[] = [{ ...TEXTS[0], photos: [photo(4), photo(5)] }, { ...TEXTS[1], photos: [] }, { ...TEXTS[2], photos: [photo(6)] }];
    const got = fusion.predict(listings);
    const img = image.predict(listings);
    const txt = text.outputs(listings);
    const row = (v: Float32Array, i: number) => v.subarray(i * 3, (i + 1) * 3);
    listings.forEach((_, i) => {
      const expected = logLinearRow(pool, [img[i]?.probabilities ?? null, row(txt.tfidf, i), row(txt.cnn, i)]);
      for (let c = 0; c < 3; c++) assert.ok(Math.abs(got[i].probabilities[c] - expected[c]) < 1e-5, `listing ${i} class ${c}`);
    });
    // The listing without photos: exactly the text experts' pool (no image term), whatever the image weight.
    assert.equal(img[1], null);
    const textOnly = logLinearRow({ experts: ['tfidf', 'text_cnn'], weights: [0.9, 0.6], bias: pool.bias }, [row(txt.tfidf, 1), row(txt.cnn, 1)]);
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(got[1].probabilities[c] - textOnly[c]) < 1e-5);
    // With photos, the image term moves the answer.
    const noPhoto = fusion.predict([{ ...listings[0], photos: [] }])[0];
    assert.ok(Math.max(...got[0].probabilities.map((p, c) => Math.abs(p - noPhoto.probabilities[c]))) > 1e-3);

    const dir = path.join(tmp, 'fusion');
    await fusion.save(dir);
    const back = await FusionPredictor.load(dir);
    assert.deepEqual(back.spec.combination, fusion.spec.combination);
    const again = back.predict(listings);
    listings.forEach((_, i) => {
      for (let c = 0; c < 3; c++) assert.ok(Math.abs(again[i].probabilities[c] - got[i].probabilities[c]) < 1e-5);
    });
    back.dispose();
    fusion.dispose();
  });

  test('clear errors: an unknown expert, wrong bias count, an early expert without the network', () => {
    const { image, text } = parts();
    const make = (experts: string[], bias = [0, 0, 0]) => new FusionPredictor({ label: 'x', classes: CLASSES,
      combination: { kind: 'log_linear', pool: { experts: experts as never[], weights: experts.map(() => 1), bias } } }, image, text, null);
    assert.throws(() => make(['image', 'photo']), /unknown expert\(s\) photo/);
    assert.throws(() => make(['image'], [0, 0]), /2 class biases for 3 classes/);
    assert.throws(() => make(['early', 'text']), /needs the early-fusion network/);
    image.dispose();
    text.dispose();
  });
});
