/**
 * The artifact registry and the predictors: every predictor kind survives a save/load round
 * trip with identical outputs; an artifact of another format version is refused with the file
 * and the notebook to re-run; the image predictor averages views, heads and photos as notebook 03
 * scores products; late fusion drops the image term for a listing without photos.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initTf, tf } from '../src/tf/runtime';
import { ARTIFACTS, artifactPath, ArtifactVersionError, checkArtifactHeader, STAGES, dependencyMap } from '../src/artifacts/registry';
import { contentKey, stableStringify } from '../src/artifacts/content_key';
import { featureKey, resnetFeatureSpec } from '../src/backbone/features';
import { buildHead, predictProbs } from '../src/models/head';
import { buildTextCnn } from '../src/models/text_cnn';
import { buildFusionModel } from '../src/models/fusion';
import { TfidfVectoriser } from '../src/models/features';
import { tfidfDocument } from '../src/text/tfidf_baseline';
import { tokenizeFields, Vocabulary } from '../src/text/tokenizer';
import { Rng } from '../src/rng';
import { aggregatePhotos, ImagePredictor } from '../src/predictors/image_predictor';
import { TextPredictor } from '../src/predictors/text_predictor';
import { FusionPredictor } from '../src/predictors/fusion_predictor';
import { ListingInput, PREDICTOR_FILE } from '../src/predictors/predictor';
import { listingInputs } from '../src/predictors/listing_inputs';
import { scorePredictor } from '../src/eval/predictor_eval';

const CLASSES = ['a', 'b', 'c'];
const DIM = 6;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'predictors-test-'));
const rng = new Rng(11);
const vec = (n: number) => Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
const TEXTS = [['red kettle', 'a kettle for the kitchen'], ['baby pram', 'pram with cover'], ['laptop bag', 'fits a 15 inch laptop'], ['kettle and toaster', '']];

let image: ImagePredictor;
let imageHeads: ReturnType<typeof buildHead>[];
let text: TextPredictor;
let listings: ListingInput[];

before(async () => {
  await initTf();
  const h1 = buildHead({ inputDim: DIM, numClasses: 3, hidden: [4], dropout: 0, seed: 1 });
  const h2 = buildHead({ inputDim: DIM, numClasses: 3, hidden: [4], dropout: 0, seed: 2 });
  imageHeads = [h1, h2];
  image = new ImagePredictor({ label: 'two heads, flip TTA', classes: CLASSES, featureDim: DIM, views: 2, aggregate: 'mean_probability', features: 'toy' }, imageHeads, h1);
  const vocab = Vocabulary.fit(TEXTS.map(([t, d]) => { const x = tokenizeFields({ title: t, description: d }); return [...x.title, ...x.description]; }), { minCount: 1 });
  const cnn = buildTextCnn({ vocabSize: vocab.size, sequenceLength: 8, numClasses: 3, embeddingDim: 4, kernelSizes: [2], filters: 3, hiddenUnits: 5, dropout: 0, embeddingDropout: 0, seed: 3 });
  const vectoriser = new TfidfVectoriser({ minDf: 1 }).fit(TEXTS.map(([t, d]) => tfidfDocument({ title: t, description: d }, 2)));
  text = new TextPredictor({ label: 'tfidf + cnn', classes: CLASSES, cnnWeight: 0.3, cnn: 'toy' },
    { vectoriser, titleRepeats: 2, kernel: vec(vectoriser.vocabulary.length * 3), bias: vec(3) }, { model: cnn, vocabulary: vocab, sequenceLength: 8 });
  listings = TEXTS.map(([title, description], i) => ({ title, description, photos: Array.from({ length: i % 3 }, () => [vec(DIM), vec(DIM)]) }));
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-6) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `[${i}] ${a[i]} vs ${b[i]}`);
};

describe('image predictor', () => {
  test('views, heads and photos averaged as notebook 03 scores a product; no photo → null', () => {
    const out = image.predict(listings);
    assert.equal(out[0], null, 'a listing without photos gets no image prediction');
    const l = listings[2];
    // 03: per head, TTA mean of the two views' softmaxes; ensemble mean over heads; product: mean over photos.
    const heads = (image as unknown as { heads: tf.LayersModel[] }).heads;
    const perPhoto = l.photos.map((views) => {
      const p = heads.map((h) => views.map((v) => predictProbs(h, v, DIM)[0]));
      return CLASSES.map((_, k) => p.reduce((s, hv) => s + (hv[0][k] + hv[1][k]) / 2, 0) / heads.length);
    });
    const expected = CLASSES.map((_, k) => perPhoto.reduce((s, p) => s + p[k], 0) / perPhoto.length);
    close(out[2]!.probabilities, expected, 1e-6);
    assert.equal(out[2]!.embedding.length, 4);
  });

  test('mean of log-probabilities: a photo that is sure of a class outweighs an unsure one less than the mean does', () => {
    const probs = Float32Array.from([0.98, 0.01, 0.01, 0.2, 0.4, 0.4]);
    const mean = aggregatePhotos(probs, 2, 3, 'mean_probability');
    const logMean = aggregatePhotos(probs, 2, 3, 'mean_log_probability');
    close(mean, [0.59, 0.205, 0.205], 1e-6);
    close([logMean.reduce((a, b) => a + b, 0)], [1], 1e-6);
    assert.ok(logMean[0] > 0.5 && logMean[0] !== mean[0]);
  });

  test('save → load gives the same outputs', async () => {
    const dir = path.join(tmp, 'image');
    await image.save(dir);
    const loaded = await ImagePredictor.load(dir);
    const a = image.predict(listings);
    const b = loaded.predict(listings);
    a.forEach((p, i) => { if (p) { close(p.probabilities, b[i]!.probabilities); close(p.embedding, b[i]!.embedding); } else assert.equal(b[i], null); });
    assert.equal(loaded.label, image.label);
    loaded.dispose();
  });
});

describe('text predictor', () => {
  test('the blend weight: 0 = TF-IDF alone, 1 = CNN alone', () => {
    const o = text.outputs(listings);
    const blended = text.predict(listings);
    close(blended[1].probabilities, Array.from(o.cnn.slice(3, 6)).map((v, k) => 0.3 * v + 0.7 * o.tfidf[3 + k]));
  });

  test('save → load gives the same outputs, the same vocabulary and TF-IDF weights', async () => {
    const dir = path.join(tmp, 'text');
    await text.save(dir);
    const loaded = await TextPredictor.load(dir);
    const a = text.predict(listings);
    const b = loaded.predict(listings);
    a.forEach((p, i) => { close(p.probabilities, b[i].probabilities); close(p.embedding, b[i].embedding); });
    assert.deepEqual(Array.from(loaded.encodeIds(listings[0])), Array.from(text.encodeIds(listings[0])));
    loaded.dispose();
  });
});

describe('fusion predictor', () => {
  test('late: w·image + (1 − w)·text; the text alone for a listing without photos', () => {
    const fusion = new FusionPredictor({ label: 'late', classes: CLASSES, combination: { kind: 'late', imageWeight: 0.25 } }, image, text, null);
    const f = fusion.predict(listings);
    const t = text.predict(listings);
    const im = image.predict(listings);
    close(f[0].probabilities, t[0].probabilities);
    close(f[2].probabilities, Array.from(t[2].probabilities).map((v, k) => 0.25 * im[2]!.probabilities[k] + 0.75 * v));
  });

  test('early and hybrid need the network; save → load (with its image and text predictors) gives the same outputs', async () => {
    assert.throws(() => new FusionPredictor({ label: 'x', classes: CLASSES, combination: { kind: 'early' } }, image, text, null), /needs the early-fusion network/);
    const early = buildFusionModel({ imageDim: DIM, textDim: 5, numClasses: 3, branchWidth: 4, imageInputDropout: 0, textInputDropout: 0, dropout: 0, seed: 7 });
    const fusion = new FusionPredictor({ label: 'hybrid', classes: CLASSES, combination: { kind: 'hybrid', earlyWeight: 0.6 } }, image, text, early);
    assert.equal(fusion.viewsPerPhoto(), 2);
    assert.equal(fusion.viewsPerPhoto({ earlyEmbedding: false }), 2, 'a hybrid reads the early network for its probabilities');
    const dir = path.join(tmp, 'fusion');
    await fusion.save(dir);
    for (const sub of ['image', 'text']) assert.ok(fs.existsSync(path.join(dir, sub, PREDICTOR_FILE)), `${sub} saved inside the fusion`);
    const loaded = await FusionPredictor.load(dir);
    const a = fusion.predict(listings);
    const b = loaded.predict(listings);
    a.forEach((p, i) => { close(p.probabilities, b[i].probabilities, 1e-6); close(p.embedding, b[i].embedding, 1e-6); });
    assert.equal(a[0].embedding.length, 8, 'the fused embedding of the early network');
    loaded.dispose();
    early.dispose();
  });

  test('a pool that does not read the early network runs it only for its embedding: one view per photo then suffices', () => {
    const plainImage = new ImagePredictor({ ...image.spec, views: 1 }, imageHeads, imageHeads[0]);
    const early = buildFusionModel({ imageDim: DIM, textDim: 5, numClasses: 3, branchWidth: 4, imageInputDropout: 0, textInputDropout: 0, dropout: 0, seed: 7 });
    const pool = { experts: ['image' as const, 'tfidf' as const], weights: [0.7, 1.1], bias: [0, 0.1, -0.1] };
    const fusion = new FusionPredictor({ label: 'poe', classes: CLASSES, combination: { kind: 'log_linear', pool } }, plainImage, text, early);
    assert.equal(fusion.viewsPerPhoto(), 2, 'its embedding is the early network\'s, which reads both views');
    assert.equal(fusion.viewsPerPhoto({ earlyEmbedding: false }), 1);
    const onePerPhoto = listings.map((l) => ({ ...l, photos: l.photos.map((views) => views.slice(0, 1)) }));
    const both = fusion.predict(listings);
    const one = fusion.predict(onePerPhoto, { earlyEmbedding: false });
    both.forEach((p, i) => close(p.probabilities, one[i].probabilities));
    assert.throws(() => fusion.predict(onePerPhoto), /1 view\(s\), the early-fusion network reads the mean of 2/);
    const withEarly = new FusionPredictor({ label: 'poe + early', classes: CLASSES, combination: { kind: 'log_linear', pool: { experts: ['early', 'tfidf'], weights: [1, 1], bias: [0, 0, 0] } } }, plainImage, text, early);
    assert.equal(withEarly.viewsPerPhoto({ earlyEmbedding: false }), 2, 'an early expert reads both views');
    early.dispose();
  });

  test('scorePredictor scores only what a predictor answers, at product level', () => {
    const s = scorePredictor(image, listings, [0, 1, 2, 0], ['p0', 'p1', 'p2', 'p3']);
    assert.deepEqual(s.productIds, ['p1', 'p2'], 'p0 and p3 have no photos');
    assert.equal(s.evaluation.n, 2);
  });

  test('listingInputs reads every view of every photo from the stores', () => {
    const store = (offset: number) => ({ get: (id: string) => Float32Array.of(Number(id) + offset) });
    const [l] = listingInputs([{ title: 't', description: 'd', imageIds: ['1', '2'] }], [store(0), store(100)]);
    assert.deepEqual(l.photos.map((v) => v.map((x) => x[0])), [[1, 101], [2, 102]]);
  });
});

describe('artifact registry', () => {
  test('an artifact of another format version is refused, naming the file and the notebook to re-run', async () => {
    const dir = path.join(tmp, 'old-text');
    await text.save(dir);
    const file = path.join(dir, PREDICTOR_FILE);
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    fs.writeFileSync(file, JSON.stringify({ ...json, version: 0 }));
    await assert.rejects(TextPredictor.load(dir), (err: Error) => err instanceof ArtifactVersionError &&
      err.message.includes('predictor.json') && /version 0/.test(err.message) && /re-run notebook 04_text_model/.test(err.message) && /npm run pipeline -- 04/.test(err.message));
    assert.throws(() => checkArtifactHeader('serving_bundle', {}, 'x/manifest.json'), /no 'serving_bundle' header.*npm run pipeline -- 07/);
    await assert.rejects(ImagePredictor.load(path.join(tmp, 'nowhere')), /missing .*predictor\.json/);
  });

  test('every stage depends only on earlier stages, and every artifact is written by a stage and read by a later one', () => {
    const ids = STAGES.map((s) => s.id);
    for (const s of STAGES) for (const d of s.dependsOn) assert.ok(ids.indexOf(d) < ids.indexOf(s.id), `${s.id} depends on ${d}`);
    assert.deepEqual(dependencyMap()['05'], ['03', '04']);
    for (const [name, a] of Object.entries(ARTIFACTS)) {
      assert.ok(ids.includes(a.stage), name);
      for (const r of a.readBy) assert.ok(!ids.includes(r as never) || ids.indexOf(r as never) > ids.indexOf(a.stage), `${name} read by ${r} before it is written`);
    }
    const paths = Object.keys(ARTIFACTS).map((n) => artifactPath(n as keyof typeof ARTIFACTS, 'full'));
    assert.equal(new Set(paths).size, paths.length, 'artifacts have distinct paths');
    assert.notEqual(artifactPath('image_predictor', 'smoke'), artifactPath('image_predictor', 'full'));
  });

  test('one content key: key order does not matter, bytes are hashed as bytes, feature stores keep their keys', () => {
    assert.equal(contentKey({ a: 1, b: [1, { c: 2, d: undefined }] }), contentKey({ b: [1, { c: 2 }], a: 1 }));
    assert.notEqual(contentKey({ a: 1 }), contentKey({ a: 2 }));
    assert.equal(contentKey(Buffer.from('abc')), contentKey(new Uint8Array([97, 98, 99])));
    assert.equal(stableStringify({ b: 1, a: 2 }), '{"a":2,"b":1}');
    const spec = resnetFeatureSpec('weights', { flip: true });
    assert.equal(featureKey(spec), contentKey({ v: 1, ...spec }), 'the cached ResNet features keep their file names');
    assert.match(contentKey('x'), /^[0-9a-f]{12}$/);
  });
});
