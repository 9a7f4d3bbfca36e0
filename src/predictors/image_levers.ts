/**
 * Notebook 03's head levers on cached features, evaluated through the ImagePredictor itself (so
 * what is chosen on validation is exactly what is saved and served): normalised splits, the
 * product-mean split a product-level head trains on, and a split as listings.
 */
import type { FeatureSplit } from '../models/head';
import { applyFeatureNorm, FeatureNorm, groupMeanRows } from '../models/feature_norm';
import { evaluateProbs, Evaluation } from '../train/predict';
import { correctness } from '../eval/select';
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

/** A predictor's product-level evaluation on a split, and its per-product correctness (for selectOnValidation). */
export function evaluatePredictor(predictor: ImagePredictor, split: FeatureSplit): { evaluation: Evaluation; correct: Float64Array; probs: number[][]; productIds: string[]; labels: number[] } {
  const { productIds, labels, listings } = featureListings(split);
  const probs = predictor.predict(listings).map((p, i) => {
    if (!p) throw new Error(`product ${productIds[i]} has no photo in the split`);
    return Array.from(p.probabilities);
  });
  return { evaluation: evaluateProbs(labels, probs, predictor.classes), correct: correctness(labels, probs), probs, productIds, labels };
}
