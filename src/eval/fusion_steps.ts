/**
 * Fusion candidates scored the way issue 15 asks, one function for notebook 05 and for the
 * direct check over cached predictions (scripts/measure_fusion.ts):
 *
 * - each candidate is a log-linear pool of named experts, fitted on the FIT rows (validation, or
 *   out-of-fold training predictions for a stacker) and checked by 5-fold CV within validation;
 * - it is scored on validation (where the choice is made) and on test (reported);
 * - against text alone on the same test products: a paired bootstrap interval of the accuracy
 *   difference, in percentage points;
 * - accuracy on test products with and without photos.
 */
import { accuracy, bootstrapCI, ConfidenceInterval, logLoss, predictionsFromProbs } from './metrics';
import { crossValidateLogLinear, Expert, fitLogLinear, LogLinearFit, logLinearProbs } from '../models/log_linear_fusion';
import { mulberry32 } from '../rng';

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
  /** 5-fold CV within validation (null when the pool was fitted on other rows). */
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
  splits: { val: FusionSplit; test: FusionSplit; fitOn?: FusionSplit },
  options: { textExpert: string; seed: number; folds?: number },
): FusionStepResult {
  const fitRows = splits.fitOn ?? splits.val;
  const fit = fitLogLinear(expertsOf(fitRows, experts), fitRows.labels);
  const cv = splits.fitOn ? null : crossValidateLogLinear(expertsOf(splits.val, experts), splits.val.labels, { folds: options.folds ?? 5, seed: options.seed });
  const valProbs = logLinearProbs(fit, expertsOf(splits.val, experts));
  const testProbs = logLinearProbs(fit, expertsOf(splits.test, experts));
  const t = splits.test;
  const textTest = t.experts[options.textExpert];
  if (!textTest || textTest.some((r) => r === null)) throw new Error(`fusion step: text expert '${options.textExpert}' must have every test row`);
  return {
    name, experts: experts.slice(), fit,
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

/** One table row per step (weights by expert name, figures in %). */
export function fusionStepRow(r: FusionStepResult): Record<string, string | number> {
  const pct = (v: number | null) => (v === null ? '—' : Math.round(1000 * v) / 10);
  return {
    step: r.name,
    weights: r.experts.map((e, m) => `${e} ${r.fit.weights[m].toFixed(2)}`).join(', '),
    cv_val_accuracy: r.cv ? pct(r.cv.accuracy) : '—',
    val_accuracy: pct(r.val.accuracy), val_log_loss: Math.round(1000 * r.val.logLoss) / 1000,
    test_accuracy: pct(r.test.accuracy), test_with_photos: pct(r.test.withPhotos), test_without_photos: pct(r.test.withoutPhotos),
    vs_text_pp: `${r.vsTextPp.estimate.toFixed(1)} [${r.vsTextPp.lower.toFixed(1)}, ${r.vsTextPp.upper.toFixed(1)}]`,
  };
}
