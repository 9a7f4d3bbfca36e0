/**
 * Product-level evaluation, in one place: the standard bundle every classifier reports
 * (01 baselines, 02 CNN, 03 ResNet, 04 text, 05 fusion, 06 comparison).
 *
 *  1. `productLevel`: one row per product, the mean of its photos' probabilities
 *     (groupMeanProbs). Accuracy in metrics.json is product level, as the listing is what
 *     gets categorised; for per-product models (text) it changes nothing;
 *  2. `evaluateProbs`: accuracy, macro-F1, log-loss, top-3 accuracy, confusion matrix and
 *     per-class precision/recall/F1;
 *  3. `evaluateImagesAndProducts`: both, per photo and per product, from photo predictions;
 *  4. `evaluationMetrics` / `perClassRows`: the numbers for metrics.json and the per-class table.
 */
import {
  accuracy, confusionMatrix, groupMeanProbs, logLoss, macroF1, perClassPrecisionRecallF1, predictionsFromProbs, topKAccuracy,
} from './metrics';
import type { PhotoAggregation } from '../predictors/image_predictor';

export interface Predictions {
  /** One probability row per example. */
  probs: number[][];
  labels: number[];
  /** Row ids (image ids for photo models, product ids for product models). */
  ids: string[];
  /** The product each row belongs to. */
  productIds: string[];
}

/** Photo rows (one probability row each) as Predictions, ids and products from the rows' examples. */
export function photoPredictions(probs: number[][], rows: ReadonlyArray<{ label: number; productId: string; imageId?: string }>): Predictions {
  if (probs.length !== rows.length) throw new Error(`photoPredictions: ${probs.length} probability rows for ${rows.length} examples`);
  return {
    probs, labels: rows.map((r) => r.label), ids: rows.map((r, i) => r.imageId ?? String(i)), productIds: rows.map((r) => r.productId),
  };
}

/**
 * One row per product (labels checked to agree): the mean of its rows' probabilities, or the
 * renormalised geometric mean (softmax of the mean log-probability), which lets a photo that
 * rules a class out count for more than under the arithmetic mean.
 */
export function productLevel(pred: Predictions, aggregate: PhotoAggregation = 'mean_probability'): Predictions {
  const logRows = aggregate === 'mean_log_probability';
  const rows = logRows ? pred.probs.map((r) => r.map((p) => Math.log(Math.max(p, 1e-12)))) : pred.probs;
  const grouped = groupMeanProbs(pred.productIds, rows, pred.labels);
  const probs = logRows ? grouped.probs.map(softmaxRow) : grouped.probs;
  return { probs, labels: grouped.labels as number[], ids: grouped.ids, productIds: grouped.ids };
}

/** Softmax of one row of scores (e.g. mean log-probabilities). */
export function softmaxRow(scores: readonly number[]): number[] {
  const max = Math.max(...scores);
  const e = scores.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

export interface ClassScores {
  class: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface Evaluation {
  n: number;
  accuracy: number;
  macroF1: number;
  logLoss: number;
  top3Accuracy: number;
  /** counts[true][predicted]. */
  confusion: number[][];
  perClass: ClassScores[];
  /** Predicted class per row. */
  predicted: number[];
}

/** The standard classification bundle for labels and probability rows. */
export function evaluateProbs(labels: ArrayLike<number>, probs: ArrayLike<ArrayLike<number>>, classNames: readonly string[]): Evaluation {
  const predicted = predictionsFromProbs(probs);
  const k = classNames.length;
  const scores = perClassPrecisionRecallF1(labels, predicted, k);
  return {
    n: labels.length,
    accuracy: accuracy(labels, predicted),
    macroF1: macroF1(labels, predicted, k),
    logLoss: logLoss(labels, probs),
    top3Accuracy: topKAccuracy(labels, probs, Math.min(3, k)),
    confusion: confusionMatrix(labels, predicted, k),
    perClass: classNames.map((name, c) => ({
      class: name, precision: scores.precision[c], recall: scores.recall[c], f1: scores.f1[c], support: scores.support[c],
    })),
    predicted,
  };
}

export interface ModelEvaluation {
  /** Per row (photo). */
  image: Evaluation;
  /** Per product (mean of its photos' probabilities). */
  product: Evaluation;
  images: Predictions;
  products: Predictions;
}

/**
 * Photo predictions evaluated per photo and per product: the products are the photos' mean
 * (or `aggregate`), unless the caller has them already (e.g. a predictor that combines more).
 */
export function evaluateImagesAndProducts(
  images: Predictions,
  classNames: readonly string[],
  options: { aggregate?: PhotoAggregation; products?: Predictions } = {},
): ModelEvaluation {
  const products = options.products ?? productLevel(images, options.aggregate);
  return {
    image: evaluateProbs(images.labels, images.probs, classNames),
    product: evaluateProbs(products.labels, products.probs, classNames),
    images,
    products,
  };
}

/** snake_case numbers for metrics.json: `{<prefix>accuracy, <prefix>macro_f1, <prefix>log_loss, <prefix>top3_accuracy}`. */
export function evaluationMetrics(ev: Evaluation, prefix: string): Record<string, number> {
  const r = (v: number) => Math.round(v * 10000) / 10000;
  return {
    [`${prefix}accuracy`]: r(ev.accuracy),
    [`${prefix}macro_f1`]: r(ev.macroF1),
    [`${prefix}log_loss`]: r(ev.logLoss),
    [`${prefix}top3_accuracy`]: r(ev.top3Accuracy),
  };
}

/** Rows for a table: one per class plus the macro average. */
export function perClassRows(ev: Evaluation): Array<Record<string, string | number>> {
  const rows: Array<Record<string, string | number>> = ev.perClass.map((c) => ({ ...c }));
  const mean = (k: 'precision' | 'recall' | 'f1') => ev.perClass.reduce((s, c) => s + c[k], 0) / ev.perClass.length;
  rows.push({ class: '(macro average)', precision: mean('precision'), recall: mean('recall'), f1: mean('f1'), support: ev.n });
  return rows;
}
