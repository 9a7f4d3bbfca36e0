/**
 * Out-of-fold (OOF) predictions of the TRAINING split, for stacking and early fusion (issue 15):
 * every training product gets class probabilities (and, for the text CNN, an embedding) from a
 * model that never saw it, so what is fitted on them looks like what validation and test see.
 *
 * One fold assignment serves every model: the training products are dealt into k folds grouped
 * by product and stratified by label (`kFoldOfGroups`, seeded); an image model's photos follow
 * their product. Fold f's models train on the other k − 1 folds, stop early on the real
 * validation split (never on the fold they predict) and predict fold f.
 *
 * - TF-IDF + logistic regression (src/text/tfidf_baseline.ts), 04's recipe;
 * - the text CNN (src/text/text_cnn_training.ts), 04's recipe: probabilities and embeddings;
 * - image heads on cached ResNet-50 features (src/models/teacher.ts's cross-fitting, 03's step-4
 *   MLP recipe), photos averaged per product as 03 does.
 *
 * The networks are checkpointed by the shared loop with the fold in their key, so a re-run loads
 * them; the TF-IDF folds, which have no checkpoints, are cached as probabilities.
 */
import { contentKey } from '../artifacts/content_key';
import { cachedResult } from '../artifacts/result_cache';
import { foldRows, kFoldOfGroups, outOfFold } from './folds';
import { fitTfidfBaseline, TfidfBaselineOptions } from '../text/tfidf_baseline';
import type { TextFields } from '../text/tokenizer';
import { embeddingModel, predictBatched, sequenceBatches } from '../models/text_cnn';
import { EncodedSplit, TEXT_CNN_TRAINER, trainTextCnn, TrainTextCnnOptions } from '../text/text_cnn_training';
import { trainOnBothCores } from '../train/both_cores';
import { predictBatches } from '../train/predict';
import { productLevel } from './product_eval';
import { crossFittedSoftLabels, CrossFitOptions } from '../models/teacher';

/** Fold (0..k−1) of every training product: grouped by product id, stratified by label, seeded. */
export function trainingFolds(productIds: readonly string[], labels: ArrayLike<number>, k: number, seed: number): number[] {
  return kFoldOfGroups(productIds, labels, k, seed);
}

/** A content key of a fold assignment (which product is in which fold): part of every fold model's checkpoint key. */
export function foldAssignmentKey(productIds: readonly string[], fold: readonly number[]): string {
  return contentKey(productIds.map((id, i) => [id, fold[i]]));
}

/** The fold of each photo: its product's fold (throws for a photo whose product has none). */
export function photoFolds(photoProductIds: readonly string[], productIds: readonly string[], fold: readonly number[]): number[] {
  const of = new Map(productIds.map((id, i) => [id, fold[i]]));
  return photoProductIds.map((p) => {
    const f = of.get(p);
    if (f === undefined) throw new Error(`out-of-fold: photo of product ${p}, which has no fold`);
    return f;
  });
}

/**
 * OOF class probabilities of the TF-IDF baseline, one row per training listing. The k fits take
 * ~20 s each and are not checkpointed, so the result is cached by its inputs (src/artifacts/result_cache.ts).
 */
export async function oofTfidf(
  train: { rows: readonly TextFields[]; labels: readonly number[] },
  val: { rows: readonly TextFields[]; labels: readonly number[] },
  fold: readonly number[], k: number, options: Omit<TfidfBaselineOptions, 'onEpochEnd'>,
): Promise<number[][]> {
  const texts = (rows: readonly TextFields[]) => contentKey(rows.map((r) => [r.title, r.description]));
  // version 2: the regression trains on sparse rows (fitSparseSoftmaxRegression).
  const inputs = { version: 2, train: texts(train.rows), trainLabels: train.labels, val: texts(val.rows), valLabels: val.labels, fold, k, options };
  return cachedResult('oof_tfidf', inputs, () => outOfFold(fold, k, async (fit, held) => {
    const model = await fitTfidfBaseline({ rows: fit.map((i) => train.rows[i]), labels: fit.map((i) => train.labels[i]) }, val, options);
    const probs = model.predict(held.map((i) => train.rows[i]));
    model.dispose();
    return probs;
  }));
}

/** The rows `rows` of encoded sequences. */
export function selectEncoded(split: EncodedSplit, rows: readonly number[], sequenceLength: number): EncodedSplit {
  const ids = new Int32Array(rows.length * sequenceLength);
  rows.forEach((r, j) => ids.set(split.ids.subarray(r * sequenceLength, (r + 1) * sequenceLength), j * sequenceLength));
  return { ids, labels: rows.map((r) => split.labels[r]) };
}

export interface TextCnnOof {
  /** One row of class probabilities per training listing. */
  probs: number[][];
  /** Row-major [n, width]: the text embedding of each training listing, from its fold's network. */
  embeddings: Float32Array;
  width: number;
  /** Per fold: training rows, held-out rows, the network's accuracy on its held-out rows, its checkpoint status. */
  folds: Array<{ fold: number; fitRows: number; heldRows: number; accuracy: number; status: string }>;
}

/** OOF probabilities and embeddings of the text CNN (one network per fold, 04's recipe). */
export async function oofTextCnn(
  options: Omit<TrainTextCnnOptions, 'fold' | 'onEpochEnd'> & { fold: readonly number[]; k: number; productIds: readonly string[] },
): Promise<TextCnnOof> {
  const { train, fold, k } = options;
  const L = options.cnn.sequenceLength;
  const assignment = foldAssignmentKey(options.productIds, fold);
  const folds: TextCnnOof['folds'] = [];
  let width = 0;
  const foldOptions = (fit: number[], f: number): TrainTextCnnOptions => ({ ...options, train: selectEncoded(train, fit, L), fold: { k, fold: f, assignment } });
  // The k networks are independent: train them two at a time (src/train/both_cores.ts); the loop below loads them.
  const byFold = foldRows(fold, k);
  const trained = await trainOnBothCores(byFold.map(({ fold: f, fit }) => () => foldOptions(fit, f)), trainTextCnn, TEXT_CNN_TRAINER);
  const rows = await outOfFold(fold, k, async (fit, held, f) => {
    const { model, result } = await trainTextCnn(foldOptions(fit, f));
    const heldSplit = selectEncoded(train, held, L);
    const probs = predictBatches(model, sequenceBatches(heldSplit.ids, heldSplit.labels, L, 256)).probs;
    const embedded = predictBatched(embeddingModel(model), heldSplit.ids, L, 256);
    model.dispose();
    width = embedded.width;
    const right = probs.filter((p, j) => p.indexOf(Math.max(...p)) === heldSplit.labels[j]).length;
    // What happened to this fold's network in this call: trained (above, on either core) or loaded.
    const status = trained.statuses[byFold.findIndex((b) => b.fold === f)] ?? result.status;
    folds.push({ fold: f, fitRows: fit.length, heldRows: held.length, accuracy: right / held.length, status });
    return probs.map((p, j) => ({ p, e: embedded.values.subarray(j * width, (j + 1) * width) }));
  });
  const embeddings = new Float32Array(rows.length * width);
  rows.forEach((r, i) => embeddings.set(r.e, i * width));
  return { probs: rows.map((r) => r.p), embeddings, width, folds };
}

/**
 * OOF product-level probabilities of image heads on cached features: `options.train` holds the
 * training PHOTOS; each product's fold comes from `productFold` (its photos follow it). Returns one
 * row per product of `productIds` (null for a product without photos).
 */
export async function oofImageHeads(
  options: Omit<CrossFitOptions, 'folds'> & { productIds: readonly string[]; productFold: readonly number[] },
): Promise<{ probs: Array<number[] | null>; photoAccuracy: number }> {
  const folds = photoFolds(options.train.productIds, options.productIds, options.productFold);
  const assignment = foldAssignmentKey(options.productIds, options.productFold);
  const fitted = await crossFittedSoftLabels({ ...options, folds, config: { ...(options.config ?? {}), foldAssignment: assignment } });
  const c = fitted.classes;
  const photoProbs = options.train.labels.map((_, i) => Array.from(fitted.probs.subarray(i * c, (i + 1) * c)));
  const products = productLevel({ probs: photoProbs, labels: options.train.labels.slice(), ids: options.train.imageIds.slice(), productIds: options.train.productIds.slice() });
  const of = new Map(products.productIds.map((id, j) => [id, Array.from(products.probs[j])]));
  return { probs: options.productIds.map((id) => of.get(id) ?? null), photoAccuracy: fitted.accuracy };
}
