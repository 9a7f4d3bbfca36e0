/**
 * Notebook 03's head levers measured directly on cached full-profile features, with the same
 * src/ functions the notebook uses (a one-off experiment; the notebook is the record):
 *   CLEAN_DIR=<data/clean with listings.json, splits.json> FEATURES_DIR=<a copy of the feature stores> \
 *   MODELS_DIR=/tmp/heads npx tsx scripts/head_levers.ts
 * Uses the mirrored view (flip augmentation, flip TTA) when its store holds every photo.
 */
import { initTf } from '../src/tf/runtime';
import { PROFILE } from '../src/config';
import { readListings, readSplit } from '../src/data/clean_store';
import { MarketplaceData } from '../src/data/loader';
import { FeatureStore, resnetFeatureSpec } from '../src/backbone/features';
import { readResnetArtifacts } from '../src/backbone/resnet_tfjs';
import { FeatureSplit, HeadConfig, trainHeadOnFeatures } from '../src/models/head';
import { fitFeatureNorm, FeatureNorm, FeatureNormKind } from '../src/models/feature_norm';
import { ImagePredictor, PhotoAggregation } from '../src/predictors/image_predictor';
import { predictorEvaluation, normalizeSplit, productMeanSplit } from '../src/predictors/image_levers';
import { correctness, selectOnValidation } from '../src/eval/select';
import type { TrainSettings } from '../src/train/step';
import type { tf } from '../src/tf/runtime';

const env = (k: string) => { const v = process.env[k]; if (!v) throw new Error(`set ${k}`); return v; };

async function main() {
  await initTf();
  const t0 = Date.now();
  const data = new MarketplaceData({ listings: readListings(env('CLEAN_DIR')), split: readSplit(env('CLEAN_DIR')), maxProductsPerCategory: null });
  const hash = readResnetArtifacts().hash;
  const stores = [false, true].map((flip) => new FeatureStore(resnetFeatureSpec(hash, { flip }), env('FEATURES_DIR')));
  const ids = data.imageIds();
  const useFlip = stores[1].missing(ids).length === 0;
  if (stores[0].missing(ids).length) throw new Error(`${stores[0].missing(ids).length} photos lack plain features`);
  const split = (s: 'train' | 'val' | 'test'): FeatureSplit => {
    const ex = data.imageExamples(s);
    const imageIds = ex.map((e) => e.imageId);
    return { views: (useFlip ? stores : stores.slice(0, 1)).map((st) => st.matrix(imageIds)), dim: 2048, labels: ex.map((e) => e.label), imageIds, productIds: ex.map((e) => e.productId) };
  };
  const raw = { train: split('train'), val: split('val'), test: split('test') };
  console.log(`views ${useFlip ? 'plain + mirrored' : 'plain only (mirrored store incomplete)'}; photos train ${raw.train.labels.length}, val ${raw.val.labels.length}, test ${raw.test.labels.length}`);
  const settings: TrainSettings = { epochs: Number(process.env.EPOCHS ?? PROFILE.epochs.head), patience: 10, labelSmoothing: 0.1, optimizer: { kind: 'adam', weightDecay: 1e-4 },
    schedule: { kind: 'cosine', base: Number(process.env.LR ?? 1e-3), min: 1e-5, warmupEpochs: 1 } };
  const batchSize = Number(process.env.BATCH ?? PROFILE.batchSize);
  const mlp = (seed: number): HeadConfig => ({ inputDim: 2048, numClasses: data.numClasses, hidden: [256], dropout: 0.5, inputDropout: 0.5, seed });
  const trainOn = async (stage: string, train: FeatureSplit, val: FeatureSplit, head: HeadConfig, config: Record<string, unknown>) => {
    const t = Date.now();
    const r = await trainHeadOnFeatures({ stage, head, train, val, flipAugment: useFlip, settings, batchSize, config, modelsDir: env('MODELS_DIR'), quiet: true });
    console.log(`  trained ${stage} seed ${head.seed}: ${r.result.history.length} epochs, ${((Date.now() - t) / 1000).toFixed(0)} s`);
    return r.model;
  };
  const normed: Record<string, { norm: FeatureNorm; train: FeatureSplit; val: FeatureSplit; test: FeatureSplit }> = {};
  for (const kind of ['none', 'ssqrt_l2', 'standardize'] as FeatureNormKind[]) {
    const norm = fitFeatureNorm(kind, raw.train.views[0], 2048);
    normed[kind] = { norm, train: normalizeSplit(raw.train, norm), val: normalizeSplit(raw.val, norm), test: normalizeSplit(raw.test, norm) };
  }
  const predictor = (kind: string, heads: tf.LayersModel[], aggregate: PhotoAggregation, productHeads: tf.LayersModel[] = []) =>
    new ImagePredictor({ label: kind, classes: data.categories.slice(), featureDim: 2048, views: useFlip ? 2 : 1, aggregate, features: stores[0].key, normalization: normed[kind].norm }, heads, heads[0], productHeads);
  const rows: Array<Record<string, string | number>> = [];
  const scored: Record<string, Float64Array> = {};
  // The predictor normalises its inputs itself: it is scored on the raw features.
  const score = (key: string, _kind: string, p: ImagePredictor) => {
    const v = predictorEvaluation(p, raw.val).product;
    const t = predictorEvaluation(p, raw.test).product;
    const vp = predictorEvaluation(p, raw.val).products;
    scored[key] = correctness(vp.labels, vp.probs);
    rows.push({ key, val: +(100 * v.accuracy).toFixed(2), test: +(100 * t.accuracy).toFixed(2), test_log_loss: +t.logLoss.toFixed(4) });
    console.log(`  ${key}: val ${(100 * v.accuracy).toFixed(2)} %, test ${(100 * t.accuracy).toFixed(2)} % (log-loss ${t.logLoss.toFixed(3)})`);
  };
  const select = (title: string, keys: string[]) => {
    const s = selectOnValidation(keys.map((k) => ({ key: k, scores: scored[k] })));
    console.log(`SELECT ${title}: ${s.chosen} — ${s.reason}`);
    return s.chosen;
  };

  // 1. Normalisation (one photo head each, seed 42, mean probability).
  const heads: Record<string, tf.LayersModel[]> = {};
  for (const kind of Object.keys(normed)) {
    heads[kind] = [await trainOn('levers_photo', normed[kind].train, normed[kind].val, mlp(PROFILE.seed), { norm: kind, features: stores[0].key, flip: useFlip })];
    score(`norm ${kind}`, kind, predictor(kind, heads[kind], 'mean_probability'));
  }
  const kind = select('normalisation', Object.keys(normed).map((k) => `norm ${k}`)).replace('norm ', '');
  // 2. Aggregation over photos.
  score('mean log-prob', kind, predictor(kind, heads[kind], 'mean_log_probability'));
  const aggregate: PhotoAggregation = select('aggregation', [`norm ${kind}`, 'mean log-prob']) === 'mean log-prob' ? 'mean_log_probability' : 'mean_probability';
  const base = aggregate === 'mean_log_probability' ? 'mean log-prob' : `norm ${kind}`;
  // 3. Product-level head on photo-mean features, ensembled with the photo head.
  const prod = { train: productMeanSplit(normed[kind].train), val: productMeanSplit(normed[kind].val) };
  const productHead = await trainOn('levers_product', prod.train, prod.val, mlp(PROFILE.seed), { norm: kind, features: stores[0].key, flip: useFlip, level: 'product' });
  score('+ product head', kind, predictor(kind, heads[kind], aggregate, [productHead]));
  const withProduct = select('product head', [base, '+ product head']) === '+ product head';
  // 4. Seeds: 3 and 5 photo heads (and as many product heads when chosen).
  const productHeads = [productHead];
  const seedCounts = (process.env.SEEDS ?? '3,5').split(',').map(Number);
  for (const n of seedCounts) {
    while (heads[kind].length < n) {
      const seed = PROFILE.seed + heads[kind].length;
      heads[kind].push(await trainOn('levers_photo', normed[kind].train, normed[kind].val, mlp(seed), { norm: kind, features: stores[0].key, flip: useFlip }));
      if (withProduct) productHeads.push(await trainOn('levers_product', prod.train, prod.val, mlp(seed), { norm: kind, features: stores[0].key, flip: useFlip, level: 'product' }));
    }
    score(`${n} seeds`, kind, predictor(kind, heads[kind].slice(0, n), aggregate, withProduct ? productHeads.slice(0, n) : []));
  }
  select('seeds', [withProduct ? '+ product head' : base, ...seedCounts.map((n) => `${n} seeds`)]);
  console.table(rows);
  console.log(`total ${((Date.now() - t0) / 60000).toFixed(1)} min`);
}
main().catch((e) => { console.error(e); process.exit(1); });
