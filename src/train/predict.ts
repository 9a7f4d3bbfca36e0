/**
 * Predictions of a tfjs model over a split's batches: `predictBatches` gives class
 * probabilities for every row (softmax of the logits; optionally averaged with the
 * horizontally mirrored image: flip TTA); `evaluateModel` predicts and evaluates per photo and
 * per product (eval/product_eval.ts); `confidentMistakes` lists the wrong answers to look at.
 */
import { progress, ProgressSink } from '../progress';
import { tf } from '../tf/runtime';
import { evaluateImagesAndProducts, type ModelEvaluation, type Predictions } from '../eval/product_eval';

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

/** Predict a split and evaluate it per photo and per product. */
export function evaluateModel(
  model: tf.LayersModel,
  batches: Iterable<PredictBatch>,
  classNames: readonly string[],
  options: PredictOptions = {},
): ModelEvaluation {
  return evaluateImagesAndProducts(predictBatches(model, batches, options), classNames);
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
