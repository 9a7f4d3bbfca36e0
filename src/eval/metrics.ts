/**
 * Evaluation metrics: classification, regression and retrieval.
 *
 * Labels are class indices 0..nClasses-1; probabilities are one row per example.
 * Definitions follow scikit-learn's where one exists (noted per function), so numbers
 * are comparable with the original Python exercise.
 */

export type Labels = ArrayLike<number>;
export type ProbRows = ArrayLike<ArrayLike<number>>;
/** A label that retrieval compares for equality (category name or index). */
export type RetrievalLabel = string | number;

// ---------------------------------------------------------------------------
// Input checks
// ---------------------------------------------------------------------------

function checkSameLength(what: string, a: ArrayLike<unknown>, b: ArrayLike<unknown>): void {
  if (a.length !== b.length) {
    throw new Error(`${what} differ in length: ${a.length} vs ${b.length}`);
  }
  if (a.length === 0) throw new Error(`${what} are empty: a metric needs at least one example`);
}

function checkClassIndex(label: number, nClasses: number, where: string): void {
  if (!Number.isInteger(label) || label < 0 || label >= nClasses) {
    throw new Error(`${where}: label ${label} is not a class index in 0..${nClasses - 1}`);
  }
}

/** Index of the largest value (first one on ties). */
export function argmax(row: ArrayLike<number>): number {
  if (row.length === 0) throw new Error('argmax of an empty row');
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Predicted class per row of probabilities (or scores). */
export function predictionsFromProbs(probs: ProbRows): number[] {
  const out = new Array<number>(probs.length);
  for (let i = 0; i < probs.length; i++) out[i] = argmax(probs[i]);
  return out;
}

// ---------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------

export function accuracy(yTrue: Labels, yPred: Labels): number {
  checkSameLength('labels and predictions', yTrue, yPred);
  let correct = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) correct++;
  return correct / yTrue.length;
}

/** counts[t][p] = number of examples of true class t predicted as p (sklearn's layout). */
export function confusionMatrix(yTrue: Labels, yPred: Labels, nClasses: number): number[][] {
  checkSameLength('labels and predictions', yTrue, yPred);
  const counts: number[][] = [];
  for (let t = 0; t < nClasses; t++) counts.push(new Array<number>(nClasses).fill(0));
  for (let i = 0; i < yTrue.length; i++) {
    checkClassIndex(yTrue[i], nClasses, `labels[${i}]`);
    checkClassIndex(yPred[i], nClasses, `predictions[${i}]`);
    counts[yTrue[i]][yPred[i]]++;
  }
  return counts;
}

export interface PerClassScores {
  precision: number[];
  recall: number[];
  f1: number[];
  /** Number of true examples of each class. */
  support: number[];
}

/**
 * Precision, recall and F1 per class. A ratio with a zero denominator is 0
 * (sklearn's zero_division default, without the warning).
 */
export function perClassPrecisionRecallF1(yTrue: Labels, yPred: Labels, nClasses: number): PerClassScores {
  const cm = confusionMatrix(yTrue, yPred, nClasses);
  const precision: number[] = [];
  const recall: number[] = [];
  const f1: number[] = [];
  const support: number[] = [];
  for (let c = 0; c < nClasses; c++) {
    const tp = cm[c][c];
    let predicted = 0;
    let actual = 0;
    for (let k = 0; k < nClasses; k++) {
      predicted += cm[k][c];
      actual += cm[c][k];
    }
    const p = predicted === 0 ? 0 : tp / predicted;
    const r = actual === 0 ? 0 : tp / actual;
    precision.push(p);
    recall.push(r);
    f1.push(p + r === 0 ? 0 : (2 * p * r) / (p + r));
    support.push(actual);
  }
  return { precision, recall, f1, support };
}

/**
 * Unweighted mean of per-class F1 over the classes that occur in yTrue or yPred
 * (sklearn's f1_score(average='macro') without `labels`). Pass nClasses to also
 * check that every label is a valid index.
 */
export function macroF1(yTrue: Labels, yPred: Labels, nClasses?: number): number {
  checkSameLength('labels and predictions', yTrue, yPred);
  let maxLabel = 0;
  for (let i = 0; i < yTrue.length; i++) maxLabel = Math.max(maxLabel, yTrue[i], yPred[i]);
  const n = nClasses ?? maxLabel + 1;
  const scores = perClassPrecisionRecallF1(yTrue, yPred, n);
  let sum = 0;
  let present = 0;
  for (let c = 0; c < n; c++) {
    const predictedCount = countEqual(yPred, c);
    if (scores.support[c] > 0 || predictedCount > 0) {
      sum += scores.f1[c];
      present++;
    }
  }
  return sum / present;
}

function countEqual(values: Labels, target: number): number {
  let count = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === target) count++;
  return count;
}

/**
 * Mean negative log-likelihood of the true class (natural log). Each row is clipped to
 * [eps, 1 - eps] and renormalised first (as sklearn's log_loss does), so a confident
 * wrong prediction costs about -ln(eps) instead of Infinity.
 */
export function logLoss(yTrue: Labels, probs: ProbRows, eps = 1e-15): number {
  checkSameLength('labels and probability rows', yTrue, probs);
  let total = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const row = probs[i];
    checkClassIndex(yTrue[i], row.length, `labels[${i}]`);
    let rowSum = 0;
    for (let k = 0; k < row.length; k++) {
      const v = row[k];
      if (!Number.isFinite(v)) throw new Error(`probability row ${i} holds a non-finite value: ${v}`);
      rowSum += clip(v, eps, 1 - eps);
    }
    total -= Math.log(clip(row[yTrue[i]], eps, 1 - eps) / rowSum);
  }
  return total / yTrue.length;
}

function clip(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/**
 * Fraction of examples whose true class is among the k highest-scored classes.
 * Ties count in the example's favour: a hit when fewer than k classes score strictly higher.
 */
export function topKAccuracy(yTrue: Labels, probs: ProbRows, k: number): number {
  checkSameLength('labels and probability rows', yTrue, probs);
  if (!Number.isInteger(k) || k < 1) throw new Error(`k must be a positive integer, got ${k}`);
  let hits = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const row = probs[i];
    checkClassIndex(yTrue[i], row.length, `labels[${i}]`);
    const own = row[yTrue[i]];
    let higher = 0;
    for (let c = 0; c < row.length; c++) if (row[c] > own) higher++;
    if (higher < k) hits++;
  }
  return hits / yTrue.length;
}

export interface BootstrapOptions {
  /** Resamples drawn (default 1000). */
  iterations?: number;
  /** 1 - confidence level (default 0.05 → a 95% interval). */
  alpha?: number;
  /** Uniform [0, 1) generator; pass a seeded one so intervals are reproducible. */
  rng: () => number;
}

export interface ConfidenceInterval {
  /** The metric on the full sample. */
  estimate: number;
  lower: number;
  upper: number;
  alpha: number;
  iterations: number;
}

/**
 * Percentile bootstrap interval for any metric of paired (truth, prediction) arrays:
 * resample example indices with replacement, recompute, take the alpha/2 and
 * 1-alpha/2 quantiles. Predictions may be labels or probability rows.
 * Resamples where the metric is not finite (e.g. R² of a constant resample) are dropped.
 */
export function bootstrapCI<T, P>(
  yTrue: ArrayLike<T>,
  yPred: ArrayLike<P>,
  metricFn: (yTrue: T[], yPred: P[]) => number,
  options: BootstrapOptions,
): ConfidenceInterval {
  checkSameLength('labels and predictions', yTrue, yPred);
  const iterations = options.iterations ?? 1000;
  const alpha = options.alpha ?? 0.05;
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error(`iterations must be a positive integer, got ${iterations}`);
  if (!(alpha > 0 && alpha < 1)) throw new Error(`alpha must lie in (0, 1), got ${alpha}`);
  const n = yTrue.length;
  const estimate = metricFn(Array.from(yTrue), Array.from(yPred));
  const stats: number[] = [];
  const sampleTrue = new Array<T>(n);
  const samplePred = new Array<P>(n);
  for (let it = 0; it < iterations; it++) {
    for (let i = 0; i < n; i++) {
      const j = Math.min(n - 1, Math.floor(options.rng() * n));
      sampleTrue[i] = yTrue[j];
      samplePred[i] = yPred[j];
    }
    const value = metricFn(sampleTrue, samplePred);
    if (Number.isFinite(value)) stats.push(value);
  }
  if (stats.length === 0) throw new Error('bootstrapCI: the metric was not finite on any resample');
  stats.sort((a, b) => a - b);
  return {
    estimate,
    lower: quantileSorted(stats, alpha / 2),
    upper: quantileSorted(stats, 1 - alpha / 2),
    alpha,
    iterations,
  };
}

/** Linear-interpolated quantile of sorted values (numpy's default 'linear' method). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) throw new Error('quantile of an empty array');
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

// ---------------------------------------------------------------------------
// Product-level aggregation
// ---------------------------------------------------------------------------

export interface GroupedProbs<Id> {
  /** Group ids in order of first appearance. */
  ids: Id[];
  /** Mean probability row per group. */
  probs: number[][];
  /** Images per group. */
  counts: number[];
  /** The group's label, when labels were given (checked to agree within a group). */
  labels?: number[];
}

/**
 * Product-level predictions from image-level ones: average the probability rows of all
 * images that share an id. With `labels`, also returns each product's label and throws
 * if a product's images disagree (a sign of a broken join).
 */
export function groupMeanProbs<Id extends string | number>(
  ids: ArrayLike<Id>,
  probs: ProbRows,
  labels?: Labels,
): GroupedProbs<Id> {
  checkSameLength('ids and probability rows', ids, probs);
  if (labels) checkSameLength('ids and labels', ids, labels);
  const slot = new Map<Id, number>();
  const out: GroupedProbs<Id> = { ids: [], probs: [], counts: [] };
  if (labels) out.labels = [];
  const width = probs[0].length;
  for (let i = 0; i < ids.length; i++) {
    const row = probs[i];
    if (row.length !== width) throw new Error(`probability row ${i} has ${row.length} classes, row 0 has ${width}`);
    let g = slot.get(ids[i]);
    if (g === undefined) {
      g = out.ids.length;
      slot.set(ids[i], g);
      out.ids.push(ids[i]);
      out.probs.push(new Array<number>(width).fill(0));
      out.counts.push(0);
      if (labels) out.labels!.push(labels[i]);
    } else if (labels && out.labels![g] !== labels[i]) {
      throw new Error(`group ${String(ids[i])} has images with different labels: ${out.labels![g]} and ${labels[i]}`);
    }
    const acc = out.probs[g];
    for (let k = 0; k < width; k++) acc[k] += row[k];
    out.counts[g]++;
  }
  for (let g = 0; g < out.probs.length; g++) {
    const acc = out.probs[g];
    for (let k = 0; k < width; k++) acc[k] /= out.counts[g];
  }
  return out;
}

// ---------------------------------------------------------------------------
// Regression
// ---------------------------------------------------------------------------

/**
 * Coefficient of determination, 1 - SS_res / SS_tot. When yTrue is constant it is
 * 1 for a perfect fit and 0 otherwise (sklearn's force_finite behaviour).
 */
export function r2(yTrue: Labels, yPred: Labels): number {
  checkSameLength('targets and predictions', yTrue, yPred);
  let mean = 0;
  for (let i = 0; i < yTrue.length; i++) mean += yTrue[i];
  mean /= yTrue.length;
  let ssRes = 0;
  let ssTot = 0;
  for (let i = 0; i < yTrue.length; i++) {
    ssRes += (yTrue[i] - yPred[i]) ** 2;
    ssTot += (yTrue[i] - mean) ** 2;
  }
  if (ssTot === 0) return ssRes === 0 ? 1 : 0;
  return 1 - ssRes / ssTot;
}

export function rmse(yTrue: Labels, yPred: Labels): number {
  checkSameLength('targets and predictions', yTrue, yPred);
  let ss = 0;
  for (let i = 0; i < yTrue.length; i++) ss += (yTrue[i] - yPred[i]) ** 2;
  return Math.sqrt(ss / yTrue.length);
}

export function mae(yTrue: Labels, yPred: Labels): number {
  checkSameLength('targets and predictions', yTrue, yPred);
  let s = 0;
  for (let i = 0; i < yTrue.length; i++) s += Math.abs(yTrue[i] - yPred[i]);
  return s / yTrue.length;
}

// ---------------------------------------------------------------------------
// Retrieval
// ---------------------------------------------------------------------------
// Each query has a label and a ranked list of neighbour labels (best first, the query
// itself already removed). A neighbour is relevant when it has the query's label.

function checkRetrieval(queryLabels: ArrayLike<RetrievalLabel>, neighbourLabels: ArrayLike<ArrayLike<RetrievalLabel>>, k?: number): void {
  checkSameLength('query labels and neighbour lists', queryLabels, neighbourLabels);
  if (k !== undefined && (!Number.isInteger(k) || k < 1)) throw new Error(`k must be a positive integer, got ${k}`);
}

/**
 * Mean over queries of (relevant among the first k neighbours) / k. A list shorter
 * than k counts the missing places as misses, so a small index cannot inflate the score.
 */
export function precisionAtK(
  queryLabels: ArrayLike<RetrievalLabel>,
  neighbourLabels: ArrayLike<ArrayLike<RetrievalLabel>>,
  k: number,
): number {
  const perQuery = precisionAtKPerQuery(queryLabels, neighbourLabels, k);
  let total = 0;
  for (let q = 0; q < perQuery.length; q++) total += perQuery[q];
  return total / perQuery.length;
}

/** Precision@k of each query (their mean is `precisionAtK`): per-item scores for selectOnValidation. */
export function precisionAtKPerQuery(
  queryLabels: ArrayLike<RetrievalLabel>,
  neighbourLabels: ArrayLike<ArrayLike<RetrievalLabel>>,
  k: number,
): Float64Array {
  checkRetrieval(queryLabels, neighbourLabels, k);
  const out = new Float64Array(queryLabels.length);
  for (let q = 0; q < queryLabels.length; q++) out[q] = relevantInTopK(queryLabels[q], neighbourLabels[q], k) / k;
  return out;
}

function relevantInTopK(label: RetrievalLabel, neighbours: ArrayLike<RetrievalLabel>, k: number): number {
  let hits = 0;
  const upto = Math.min(k, neighbours.length);
  for (let i = 0; i < upto; i++) if (neighbours[i] === label) hits++;
  return hits;
}

/** Mean of 1 / rank of the first relevant neighbour (0 for a query with none in its list). */
export function meanReciprocalRank(
  queryLabels: ArrayLike<RetrievalLabel>,
  neighbourLabels: ArrayLike<ArrayLike<RetrievalLabel>>,
): number {
  checkRetrieval(queryLabels, neighbourLabels);
  let total = 0;
  for (let q = 0; q < queryLabels.length; q++) {
    const list = neighbourLabels[q];
    for (let i = 0; i < list.length; i++) {
      if (list[i] === queryLabels[q]) {
        total += 1 / (i + 1);
        break;
      }
    }
  }
  return total / queryLabels.length;
}

/**
 * Mean over queries of (relevant among the first k) / (relevant in the whole gallery).
 * `relevantTotals[q]` is how many gallery items share query q's label (excluding the
 * query itself); see relevantTotalsFromGallery. Queries with no relevant item are skipped.
 */
export function recallAtK(
  queryLabels: ArrayLike<RetrievalLabel>,
  neighbourLabels: ArrayLike<ArrayLike<RetrievalLabel>>,
  k: number,
  relevantTotals: ArrayLike<number>,
): number {
  const perQuery = recallAtKPerQuery(queryLabels, neighbourLabels, k, relevantTotals).filter((v) => !Number.isNaN(v));
  if (perQuery.length === 0) throw new Error('recallAtK: no query has a relevant item in the gallery');
  return perQuery.reduce((a, b) => a + b, 0) / perQuery.length;
}

/** recallAtK per query: NaN for a query with no relevant item in the gallery. */
export function recallAtKPerQuery(
  queryLabels: ArrayLike<RetrievalLabel>,
  neighbourLabels: ArrayLike<ArrayLike<RetrievalLabel>>,
  k: number,
  relevantTotals: ArrayLike<number>,
): Float64Array {
  checkRetrieval(queryLabels, neighbourLabels, k);
  checkSameLength('query labels and relevant totals', queryLabels, relevantTotals);
  const out = new Float64Array(queryLabels.length).fill(NaN);
  for (let q = 0; q < queryLabels.length; q++) {
    if (relevantTotals[q] <= 0) continue;
    const hits = relevantInTopK(queryLabels[q], neighbourLabels[q], k);
    if (hits > relevantTotals[q]) {
      throw new Error(`query ${q}: ${hits} relevant neighbours retrieved but relevantTotals says ${relevantTotals[q]}`);
    }
    out[q] = hits / relevantTotals[q];
  }
  return out;
}

/** Fraction of queries with at least one relevant neighbour among the first k ("hit rate"). */
export function hitRateAtK(
  queryLabels: ArrayLike<RetrievalLabel>,
  neighbourLabels: ArrayLike<ArrayLike<RetrievalLabel>>,
  k: number,
): number {
  checkRetrieval(queryLabels, neighbourLabels, k);
  let hits = 0;
  for (let q = 0; q < queryLabels.length; q++) if (relevantInTopK(queryLabels[q], neighbourLabels[q], k) > 0) hits++;
  return hits / queryLabels.length;
}

/**
 * Per query, the number of gallery items with the same label. When the queries are
 * themselves in the gallery (leave-one-out retrieval) each query's own entry is not counted.
 */
export function relevantTotalsFromGallery(
  queryLabels: ArrayLike<RetrievalLabel>,
  galleryLabels: ArrayLike<RetrievalLabel>,
  queriesInGallery: boolean,
): number[] {
  const counts = new Map<RetrievalLabel, number>();
  for (let i = 0; i < galleryLabels.length; i++) counts.set(galleryLabels[i], (counts.get(galleryLabels[i]) ?? 0) + 1);
  const out = new Array<number>(queryLabels.length);
  for (let q = 0; q < queryLabels.length; q++) {
    out[q] = (counts.get(queryLabels[q]) ?? 0) - (queriesInGallery ? 1 : 0);
  }
  return out;
}
