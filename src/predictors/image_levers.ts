/**
 * Notebook 03's head levers on cached features, evaluated through the ImagePredictor itself (so
 * what is chosen on validation is exactly what is saved and served): normalised splits, the
 * product-mean split a product-level head trains on, and a split as listings.
 */
import type { FeatureSplit } from '../models/head';
import { applyFeatureNorm, FeatureNorm, groupMeanRows } from '../models/feature_norm';
import { evaluateImagesAndProducts, type ModelEvaluation, type Predictions } from '../eval/product_eval';
import type { ListingInput } from './predictor';
import type { ImagePredictor } from './image_predictor';

/** Every view of `split` normalised with `norm`. */
export function normalizeSplit(split: FeatureSplit, norm: FeatureNorm): FeatureSplit {
  return { ...split, views: split.views.map((v) => applyFeatureNorm(norm, v, split.dim)) };
}

/** One row per product: the mean of its photos' vectors, per view (labels and ids per product). */
export function productMeanSplit(split: FeatureSplit): FeatureSplit {
  const views = split.views.map((v) => groupMeanRows(v, split.dim, split.productIds));
  const groups = views[0].groups;
  const labelOf = new Map(split.productIds.map((p, i) => [p, split.labels[i]] as [string, number]));
  return { views: views.map((g) => g.rows), dim: split.dim, labels: groups.map((g) => labelOf.get(g) as number), imageIds: groups.slice(), productIds: groups.slice() };
}

/** The split's products as listings (photos with their views, no text), in order of first appearance. */
export function featureListings(split: FeatureSplit): { productIds: string[]; labels: number[]; listings: ListingInput[] } {
  const rows = new Map<string, number[]>();
  split.productIds.forEach((p, i) => { if (!rows.has(p)) rows.set(p, []); (rows.get(p) as number[]).push(i); });
  const productIds = [...rows.keys()];
  const d = split.dim;
  const listings = productIds.map((p) => ({
    photos: (rows.get(p) as number[]).map((i) => split.views.map((v) => v.subarray(i * d, (i + 1) * d))),
    title: '', description: '',
  }));
  return { productIds, labels: productIds.map((p) => split.labels[(rows.get(p) as number[])[0]]), listings };
}

/**
 * A predictor evaluated on a split like `evaluateHead` evaluates a head: per photo (its photo heads,
 * views averaged) and per product (everything the predictor combines), in the split's product order.
 */
export function predictorEvaluation(predictor: ImagePredictor, split: FeatureSplit): ModelEvaluation {
  const d = split.dim;
  const photos = split.labels.map((_, i) => split.views.map((v) => v.subarray(i * d, (i + 1) * d)));
  const k = predictor.classes.length;
  const photoProbs = predictor.photoOutputs(photos).probs;
  const images: Predictions = {
    probs: split.labels.map((_, i) => Array.from(photoProbs.subarray(i * k, (i + 1) * k))),
    labels: split.labels.slice(), ids: split.imageIds.slice(), productIds: split.productIds.slice(),
  };
  const { productIds, labels, listings } = featureListings(split);
  const probs = predictor.predict(listings).map((p, i) => {
    if (!p) throw new Error(`product ${productIds[i]} has no photo in the split`);
    return Array.from(p.probabilities);
  });
  const products: Predictions = { probs, labels, ids: productIds, productIds: productIds.slice() };
  return evaluateImagesAndProducts(images, predictor.classes, { products });
}
