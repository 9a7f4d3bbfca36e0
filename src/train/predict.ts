/**
 * Predictions over a split and the standard evaluation bundle every classifier reports
 * (02 CNN, 03 ResNet, 04 text, 05 fusion, 06 comparison).
 *
 *  1. `predictBatches`: class probabilities for every row of a split's batches (softmax of
 *     the logits; optionally averaged with the horizontally mirrored image: flip TTA);
 *  2. `productLevel`: one row per product, the mean of its photos' probabilities
 *     (groupMeanProbs). Accuracy in metrics.json is product level, as the listing is what
 *     gets categorised; for per-product models (text) it changes nothing;
 *  3. `evaluateProbs`: accuracy, macro-F1, log-loss, top-3 accuracy, confusion matrix and
 *     per-class precision/recall/F1.
 *
 * `evaluateModel` does all three for images and products at once.
 */
import { progress, ProgressSink } from '../progress';
import { tf } from '../tf/runtime';
import {
  accuracy, confusionMatrix, groupMeanProbs, logLoss, macroF1, perClassPrecisionRecallF1, predictionsFromProbs, topKAccuracy,
} from '../eval/metrics';
import type { PhotoAggregation } from '../predictors/image_predictor';

/** A batch to predict: inputs, and the rows' labels and ids (the loader's ImageBatch fits). */
export interface PredictBatch {
  x: tf.Tensor | tf.Tensor[];
  /** Disposed with x if present (predictions read `labels`). */
  y?: tf.Tensor;
  labels: ArrayLike<number>;
  /** Row ids (e.g. image ids); default: running index. */
  imageIds?: string[];
  /** Group ids for product-level aggregation; default: the row ids. */
  productIds?: string[];
}

export interface Predictions {
  /** One probability row per example. */
  probs: number[][];
  labels: number[];
  /** Row ids (image ids for photo models, product ids for product models). */
  ids: string[];
  /** The product each row belongs to. */
  productIds: string[];
}

export interface PredictOptions {
  /** What the model outputs (default 'logits': softmax is applied). */
  output?: 'logits' | 'probs';
  /** 'hflip': also predict the mirrored image (NHWC input) and average the two (default 'none'). */
  tta?: 'none' | 'hflip';
  /** Progress label; no progress when omitted. */
  label?: string;
  /** Batches expected (for the progress ETA). */
  total?: number;
  /** Where progress is written (default: where this runs). */
  sinks?: ProgressSink[];
}

/** Class probabilities for every row of `batches` (their tensors are disposed). */
export function predictBatches(model: tf.LayersModel, batches: Iterable<PredictBatch>, options: PredictOptions = {}): Predictions {
  const from = options.output ?? 'logits';
  const tta = options.tta ?? 'none';
  const out: Predictions = { probs: [], labels: [], ids: [], productIds: [] };
  const bar = options.label ? progress(options.total, options.label, options.sinks ? { sinks: options.sinks } : {}) : null;
  for (const batch of batches) {
    try {
      const probs = tf.tidy(() => {
        const toProbs = (x: tf.Tensor | tf.Tensor[]) => {
          const o = model.apply(x, { training: false }) as tf.Tensor;
          return from === 'logits' ? tf.softmax(o) : o;
        };
        let p = toProbs(batch.x);
        if (tta === 'hflip') {
          if (Array.isArray(batch.x) || batch.x.rank !== 4) throw new Error("tta 'hflip' needs one NHWC image input");
          p = tf.div(tf.add(p, toProbs(tf.reverse(batch.x, 2))), 2);
        }
        return p;
      });
      const [n, classes] = probs.shape as [number, number];
      const values = probs.dataSync();
      probs.dispose();
      if (batch.labels.length !== n) throw new Error(`a batch has ${n} predictions but ${batch.labels.length} labels`);
      for (let i = 0; i < n; i++) {
        out.probs.push(Array.from(values.subarray(i * classes, (i + 1) * classes)));
        out.labels.push(batch.labels[i]);
        const id = batch.imageIds?.[i] ?? String(out.ids.length);
        out.ids.push(id);
        out.productIds.push(batch.productIds?.[i] ?? id);
      }
      bar?.tick();
    } finally {
      const tensors = Array.isArray(batch.x) ? [...batch.x] : [batch.x];
      if (batch.y) tensors.push(batch.y);
      tf.dispose(tensors);
    }
  }
  bar?.done();
  if (out.probs.length === 0) throw new Error('no batches to predict');
  return out;
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

/** Predict a split and evaluate it per photo and per product. */
export function evaluateModel(
  model: tf.LayersModel,
  batches: Iterable<PredictBatch>,
  classNames: readonly string[],
  options: PredictOptions = {},
): ModelEvaluation {
  const images = predictBatches(model, batches, options);
  const products = productLevel(images);
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

export interface Mistake {
  /** Row index in the predictions. */
  index: number;
  id: string;
  productId: string;
  trueLabel: number;
  predicted: number;
  /** Probability of the predicted class. */
  confidence: number;
  /** Probability given to the true class. */
  trueProbability: number;
}

/**
 * Wrong predictions to look at: the most confident ones first, at most `perClass` per true
 * class (so one confusable category does not fill the list), `count` in all.
 */
export function confidentMistakes(pred: Predictions, count: number, perClass = 2): Mistake[] {
  const wrong: Mistake[] = [];
  pred.probs.forEach((row, i) => {
    let best = 0;
    for (let k = 1; k < row.length; k++) if (row[k] > row[best]) best = k;
    if (best !== pred.labels[i]) {
      wrong.push({ index: i, id: pred.ids[i], productId: pred.productIds[i], trueLabel: pred.labels[i], predicted: best, confidence: row[best], trueProbability: row[pred.labels[i]] });
    }
  });
  wrong.sort((a, b) => b.confidence - a.confidence);
  const taken = new Map<number, number>();
  const out: Mistake[] = [];
  for (const m of wrong) {
    if (out.length >= count) break;
    const n = taken.get(m.trueLabel) ?? 0;
    if (n >= perClass) continue;
    taken.set(m.trueLabel, n + 1);
    out.push(m);
  }
  return out;
}
