/**
 * A two-model ensemble: the weighted average of two models' class probabilities,
 * p = w·pA + (1 − w)·pB, with w chosen on the VALIDATION split (never on test).
 *
 * The weight minimises validation log-loss (a smooth, proper score: with ~1,000 validation
 * products accuracy moves in steps of 0.1 pp and picks weights by noise); accuracy at every
 * weight is reported beside it.
 */
import { accuracy, logLoss, predictionsFromProbs } from '../eval/metrics';

export type ProbRows = ArrayLike<ArrayLike<number>>;

/** w·a + (1 − w)·b, row by row. */
export function blendProbs(a: ProbRows, b: ProbRows, weightA: number): number[][] {
  if (!(weightA >= 0 && weightA <= 1)) throw new Error(`blend weight must be in [0, 1], got ${weightA}`);
  if (a.length !== b.length) throw new Error(`blendProbs: ${a.length} rows vs ${b.length} rows`);
  const out: number[][] = [];
  for (let i = 0; i < a.length; i++) {
    const ra = a[i];
    const rb = b[i];
    if (ra.length !== rb.length) throw new Error(`blendProbs: row ${i} has ${ra.length} vs ${rb.length} classes`);
    const row = new Array<number>(ra.length);
    for (let k = 0; k < ra.length; k++) row[k] = weightA * ra[k] + (1 - weightA) * rb[k];
    out.push(row);
  }
  return out;
}

export interface BlendCandidate {
  weight: number;
  val_log_loss: number;
  val_accuracy: number;
}

export interface BlendChoice {
  /** Weight of model A (1 = A alone, 0 = B alone). */
  weight: number;
  valLogLoss: number;
  valAccuracy: number;
  /** Every weight tried, in grid order. */
  candidates: BlendCandidate[];
}

/** Grid search of the weight of A on validation probabilities (default grid 0, 0.05, …, 1). */
export function chooseBlendWeight(
  aVal: ProbRows,
  bVal: ProbRows,
  yVal: ArrayLike<number>,
  grid: number[] = Array.from({ length: 21 }, (_, i) => i / 20),
): BlendChoice {
  if (grid.length === 0) throw new Error('chooseBlendWeight: empty grid');
  if (aVal.length !== yVal.length) throw new Error(`chooseBlendWeight: ${aVal.length} probability rows vs ${yVal.length} labels`);
  const candidates = grid.map((weight) => {
    const p = blendProbs(aVal, bVal, weight);
    return { weight, val_log_loss: logLoss(yVal, p), val_accuracy: accuracy(yVal, predictionsFromProbs(p)) };
  });
  // lowest log-loss; ties (within 1e-9) go to the higher accuracy, then to the smaller weight
  let best = candidates[0];
  for (const c of candidates) {
    const better = c.val_log_loss < best.val_log_loss - 1e-9 ||
      (Math.abs(c.val_log_loss - best.val_log_loss) <= 1e-9 && c.val_accuracy > best.val_accuracy);
    if (better) best = c;
  }
  return { weight: best.weight, valLogLoss: best.val_log_loss, valAccuracy: best.val_accuracy, candidates };
}
