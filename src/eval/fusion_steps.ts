/**
 * Fusion candidates scored the way issue 15 asks, one function for notebook 05 and for the
 * direct check over cached predictions (scripts/measure_fusion.ts):
 *
 * - each candidate is a log-linear pool of named experts, fitted on the FIT rows (validation, or
 *   out-of-fold training predictions for a stacker, optionally with validation added) and checked
 *   by 5-fold CV within validation where validation is fitted on;
 * - it is scored on validation (where the choice is made) and on test (reported);
 * - against text alone on the same test products: a paired bootstrap interval of the accuracy
 *   difference, in percentage points;
 * - accuracy on test products with and without photos.
 */
import { accuracy, bootstrapCI, ConfidenceInterval, logLoss, predictionsFromProbs } from './metrics';
import { crossValidateLogLinear, Expert, fitLogLinear, LogLinearFit, logLinearProbs } from '../models/log_linear_fusion';
import { mulberry32 } from '../rng';
import { foldRows, kFoldOfGroups } from './folds';

/** Rows of one split: each expert's probabilities (null where it has no input), the labels, which rows have photos. */
export interface FusionSplit {
  experts: Record<string, ReadonlyArray<ArrayLike<number> | null>>;
  labels: number[];
  hasPhoto: boolean[];
}

export interface FusionStepResult {
  name: string;
  experts: string[];
  fit: LogLinearFit;
  /** Where the pool was fitted: 'val', 'fitOn' (e.g. out-of-fold training predictions) or 'fitOn+val'. */
  fittedOn: 'val' | 'fitOn' | 'fitOn+val';
  /**
   * 5-fold CV within validation: fitted on 4/5 of validation (plus the fitOn rows for 'fitOn+val'),
   * scored on the fifth; null when the pool was fitted on other rows only.
   */
  cv: { accuracy: number; logLoss: number; foldWeights: number[][] } | null;
  val: { accuracy: number; logLoss: number };
  test: { accuracy: number; logLoss: number; withPhotos: number; withoutPhotos: number | null; probs: number[][] };
  /** Test accuracy minus text alone's, paired bootstrap over the same products, in pp. */
  vsTextPp: ConfidenceInterval;
}

function expertsOf(split: FusionSplit, names: readonly string[]): Expert[] {
  return names.map((name) => {
    const probs = split.experts[name];
    if (!probs) throw new Error(`fusion step: no expert '${name}' (have ${Object.keys(split.experts).join(', ')})`);
    return { name, probs };
  });
}

/** Accuracy difference a − b (pp) on the same rows, with a paired percentile-bootstrap 95 % interval. */
export function pairedAccuracyDifference(labels: readonly number[], a: ReadonlyArray<ArrayLike<number>>, b: ReadonlyArray<ArrayLike<number>>, seed: number, iterations = 2000): ConfidenceInterval {
  const pa = predictionsFromProbs(a);
  const pb = predictionsFromProbs(b);
  const pairs = pa.map((p, i) => [p, pb[i]] as [number, number]);
  return bootstrapCI(labels, pairs, (y, p) => 100 * (accuracy(y, p.map((x) => x[0])) - accuracy(y, p.map((x) => x[1]))), { rng: mulberry32(seed), iterations });
}

/** Accuracy of the rows where `keep` is true (null when there are none). */
export function accuracyWhere(labels: readonly number[], probs: ReadonlyArray<ArrayLike<number>>, keep: readonly boolean[]): number | null {
  const rows = labels.map((_, i) => i).filter((i) => keep[i]);
  return rows.length ? accuracy(rows.map((i) => labels[i]), predictionsFromProbs(rows.map((i) => probs[i]))) : null;
}

/**
 * Fits the pool of `experts` on `fitOn` (default: validation, with a 5-fold CV check there),
 * scores it on validation and test, and compares it with `textExpert` alone on test.
 */
export function evaluateFusionStep(
  name: string,
  experts: readonly string[],
  splits: { val: FusionSplit; test: FusionSplit; fitOn?: FusionSplit; addValidation?: boolean },
  options: { textExpert: string; seed: number; folds?: number },
): FusionStepResult {
  const fittedOn = !splits.fitOn ? 'val' : splits.addValidation ? 'fitOn+val' : 'fitOn';
  const fitRows = fittedOn === 'val' ? splits.val : fittedOn === 'fitOn' ? (splits.fitOn as FusionSplit) : concatSplits(splits.fitOn as FusionSplit, splits.val);
  const fit = fitLogLinear(expertsOf(fitRows, experts), fitRows.labels);
  const folds = options.folds ?? 5;
  const cv = fittedOn === 'val' ? crossValidateLogLinear(expertsOf(splits.val, experts), splits.val.labels, { folds, seed: options.seed })
    : fittedOn === 'fitOn+val' ? crossValidateWithExtraRows(splits.fitOn as FusionSplit, splits.val, experts, folds, options.seed) : null;
  const valProbs = logLinearProbs(fit, expertsOf(splits.val, experts));
  const testProbs = logLinearProbs(fit, expertsOf(splits.test, experts));
  const t = splits.test;
  const textTest = t.experts[options.textExpert];
  if (!textTest || textTest.some((r) => r === null)) throw new Error(`fusion step: text expert '${options.textExpert}' must have every test row`);
  return {
    name, experts: experts.slice(), fit, fittedOn,
    cv: cv ? { accuracy: cv.accuracy, logLoss: cv.logLoss, foldWeights: cv.foldWeights } : null,
    val: { accuracy: accuracy(splits.val.labels, predictionsFromProbs(valProbs)), logLoss: logLoss(splits.val.labels, valProbs) },
    test: {
      accuracy: accuracy(t.labels, predictionsFromProbs(testProbs)), logLoss: logLoss(t.labels, testProbs),
      withPhotos: accuracyWhere(t.labels, testProbs, t.hasPhoto) as number, withoutPhotos: accuracyWhere(t.labels, testProbs, t.hasPhoto.map((h) => !h)),
      probs: testProbs,
    },
    vsTextPp: pairedAccuracyDifference(t.labels, testProbs, textTest as ArrayLike<number>[], options.seed),
  };
}

/** The rows of `a` then those of `b` (experts of both). */
export function concatSplits(a: FusionSplit, b: FusionSplit): FusionSplit {
  const names = Object.keys(a.experts).filter((e) => e in b.experts);
  return {
    experts: Object.fromEntries(names.map((e) => [e, [...a.experts[e], ...b.experts[e]]])),
    labels: [...a.labels, ...b.labels], hasPhoto: [...a.hasPhoto, ...b.hasPhoto],
  };
}

/**
 * k-fold CV within validation of a pool fitted on `extra` plus the other validation folds: each
 * validation row is scored by a pool that did not see it (the `extra` rows are in every fit).
 */
function crossValidateWithExtraRows(extra: FusionSplit, val: FusionSplit, experts: readonly string[], k: number, seed: number): { accuracy: number; logLoss: number; foldWeights: number[][] } {
  const fold = kFoldOfGroups(val.labels.map((_, i) => String(i)), val.labels, k, seed);
  const probs: number[][] = new Array(val.labels.length);
  const foldWeights: number[][] = [];
  const pick = (split: FusionSplit, rows: number[]): FusionSplit => ({
    experts: Object.fromEntries(experts.map((e) => [e, rows.map((i) => split.experts[e][i])])),
    labels: rows.map((i) => split.labels[i]), hasPhoto: rows.map((i) => split.hasPhoto[i]),
  });
  for (const { fit: inFit, held } of foldRows(fold, k)) {
    const rows = concatSplits(extra, pick(val, inFit));
    const fit = fitLogLinear(expertsOf(rows, experts), rows.labels);
    foldWeights.push(fit.weights);
    logLinearProbs(fit, expertsOf(pick(val, held), experts)).forEach((p, j) => (probs[held[j]] = p));
  }
  return { accuracy: accuracy(val.labels, predictionsFromProbs(probs)), logLoss: logLoss(val.labels, probs), foldWeights };
}

/** One table row per step (weights by expert name, figures in %). */
export function fusionStepRow(r: FusionStepResult): Record<string, string | number> {
  const pct = (v: number | null) => (v === null ? '—' : Math.round(1000 * v) / 10);
  return {
    step: r.name,
    fitted_on: { val: 'validation', fitOn: 'OOF train', 'fitOn+val': 'OOF train + validation' }[r.fittedOn],
    weights: r.experts.map((e, m) => `${e} ${r.fit.weights[m].toFixed(2)}`).join(', '),
    cv_val_accuracy: r.cv ? pct(r.cv.accuracy) : '—',
    val_accuracy: pct(r.val.accuracy), val_log_loss: Math.round(1000 * r.val.logLoss) / 1000,
    test_accuracy: pct(r.test.accuracy), test_with_photos: pct(r.test.withPhotos), test_without_photos: pct(r.test.withoutPhotos),
    vs_text_pp: `${r.vsTextPp.estimate.toFixed(1)} [${r.vsTextPp.lower.toFixed(1)}, ${r.vsTextPp.upper.toFixed(1)}]`,
  };
}
