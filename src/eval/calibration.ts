/**
 * Calibration: does a model that says "80 % sure" get 80 % right?
 *
 * `reliabilityBins` groups rows by their confidence (the largest class probability) into equal-
 * width bins over [0, 1] and gives each bin's mean confidence and accuracy: the points of a
 * reliability diagram (a calibrated model lies on the diagonal). `expectedCalibrationError` is
 * the count-weighted mean |accuracy − confidence| over the bins (ECE, Guo et al. 2017).
 */
import type { Labels, ProbRows } from './metrics';

export interface ReliabilityBin {
  lower: number;
  upper: number;
  /** Rows whose confidence falls in [lower, upper) (the last bin includes 1). */
  count: number;
  /** Mean confidence of those rows (NaN when empty). */
  confidence: number;
  /** Share of them predicted correctly (NaN when empty). */
  accuracy: number;
}

export function reliabilityBins(labels: Labels, probs: ProbRows, bins = 10): ReliabilityBin[] {
  if (!(Number.isInteger(bins) && bins > 0)) throw new Error(`reliabilityBins: bins must be a positive integer, got ${bins}`);
  if (labels.length !== probs.length) throw new Error(`reliabilityBins: ${labels.length} labels vs ${probs.length} probability rows`);
  const count = new Array<number>(bins).fill(0);
  const conf = new Array<number>(bins).fill(0);
  const hits = new Array<number>(bins).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const row = probs[i];
    let best = 0;
    for (let k = 1; k < row.length; k++) if (row[k] > row[best]) best = k;
    const c = row[best];
    const b = Math.min(bins - 1, Math.max(0, Math.floor(c * bins)));
    count[b]++;
    conf[b] += c;
    if (best === labels[i]) hits[b]++;
  }
  return count.map((n, b) => ({
    lower: b / bins, upper: (b + 1) / bins, count: n,
    confidence: n ? conf[b] / n : NaN, accuracy: n ? hits[b] / n : NaN,
  }));
}

/** Count-weighted mean |accuracy − confidence| over the non-empty bins. */
export function expectedCalibrationError(bins: readonly ReliabilityBin[]): number {
  const total = bins.reduce((s, b) => s + b.count, 0);
  if (total === 0) throw new Error('expectedCalibrationError: no rows');
  return bins.reduce((s, b) => (b.count ? s + (b.count / total) * Math.abs(b.accuracy - b.confidence) : s), 0);
}
