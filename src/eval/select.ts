/**
 * Choosing a model on validation without chasing noise: the one-standard-error rule.
 *
 * Candidates come ordered from simplest to most complex, each with a per-item validation
 * score (higher is better: 1/0 for a correct/wrong product, or minus its log-loss). The best
 * mean wins only by more than its noise: the SIMPLEST candidate whose mean falls short of the
 * best by no more than the standard error of that gap is chosen. The gap's standard error is
 * paired (the same validation items score both models: sd of the per-item differences / √n),
 * which is the noise of the comparison itself, not of either accuracy alone.
 */

export interface ValidationCandidate {
  key: string;
  /** Per validation item, in the same item order for every candidate; higher is better. */
  scores: ArrayLike<number>;
}

export interface SelectionRow {
  key: string;
  /** Mean validation score (accuracy for 0/1 scores). */
  mean: number;
  /** Standard error of the mean on its own (√(p(1−p)/n) for 0/1 scores). */
  se: number;
  /** Best mean minus this one. */
  gapToBest: number;
  /** Paired standard error of that gap. */
  gapSe: number;
  chosen: boolean;
}

export interface Selection {
  chosen: string;
  best: string;
  rows: SelectionRow[];
  /** One sentence on why the chosen one was chosen. */
  reason: string;
}

function meanOf(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s / values.length;
}

/** Standard error of the mean of `values` (sample standard deviation / √n; 0 for n < 2). */
export function standardError(values: ArrayLike<number>): number {
  const n = values.length;
  if (n < 2) return 0;
  const m = meanOf(values);
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - m) ** 2;
  return Math.sqrt(ss / (n - 1) / n);
}

/** Per-item differences a − b. */
function differences(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] - b[i];
  return out;
}

/** 1 where the row's argmax is the label, else 0: per-item accuracy scores. */
export function correctness(labels: ArrayLike<number>, probs: ArrayLike<ArrayLike<number>>): Float64Array {
  if (labels.length !== probs.length) throw new Error(`correctness: ${labels.length} labels but ${probs.length} probability rows`);
  const out = new Float64Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const row = probs[i];
    let best = 0;
    for (let k = 1; k < row.length; k++) if (row[k] > row[best]) best = k;
    out[i] = best === labels[i] ? 1 : 0;
  }
  return out;
}

/** log p(label) per item, probabilities clipped at 1e-7 (as the log-loss): per-item scores for a log-loss comparison. */
export function logLikelihoods(labels: ArrayLike<number>, probs: ArrayLike<ArrayLike<number>>): Float64Array {
  if (labels.length !== probs.length) throw new Error(`logLikelihoods: ${labels.length} labels but ${probs.length} probability rows`);
  return Float64Array.from({ length: labels.length }, (_, i) => Math.log(Math.max(1e-7, probs[i][labels[i]])));
}

/**
 * The one-standard-error rule over `candidates` (simplest first); `seMultiple` scales the
 * tolerated gap (default 1).
 */
export function selectOnValidation(candidates: readonly ValidationCandidate[], seMultiple = 1): Selection {
  if (candidates.length === 0) throw new Error('selectOnValidation: no candidates');
  const n = candidates[0].scores.length;
  if (n === 0) throw new Error(`selectOnValidation: candidate ${candidates[0].key} has no validation scores`);
  for (const c of candidates) {
    if (c.scores.length !== n) throw new Error(`selectOnValidation: candidate ${c.key} has ${c.scores.length} validation scores, ${candidates[0].key} has ${n}`);
  }
  if (new Set(candidates.map((c) => c.key)).size !== candidates.length) throw new Error('selectOnValidation: candidate keys must be distinct');
  const means = candidates.map((c) => meanOf(c.scores));
  let bestIndex = 0;
  means.forEach((m, i) => { if (m > means[bestIndex]) bestIndex = i; });
  const best = candidates[bestIndex];
  const rows: SelectionRow[] = candidates.map((c, i) => ({
    key: c.key,
    mean: means[i],
    se: standardError(c.scores),
    gapToBest: means[bestIndex] - means[i],
    gapSe: i === bestIndex ? 0 : standardError(differences(best.scores, c.scores)),
    chosen: false,
  }));
  const chosenIndex = rows.findIndex((r) => r.gapToBest <= seMultiple * r.gapSe);
  rows[chosenIndex].chosen = true;
  const chosen = rows[chosenIndex];
  const pct = (v: number) => `${(100 * v).toFixed(1)}`;
  const reason = chosenIndex === bestIndex
    ? bestIndex === 0
      ? `${best.key}, the simplest candidate, also has the best validation score (${pct(chosen.mean)})`
      : `${best.key} has the best validation score (${pct(chosen.mean)}) and every simpler candidate trails it by more than ${seMultiple === 1 ? 'one' : seMultiple} standard error of the gap`
    : `${chosen.key} is the simplest candidate within ${seMultiple === 1 ? 'one' : seMultiple} standard error of the best (${best.key}: ${pct(means[bestIndex])} vs ${pct(chosen.mean)}, gap ${pct(chosen.gapToBest)} ± ${pct(chosen.gapSe)} pp)`;
  return { chosen: chosen.key, best: best.key, rows, reason };
}

/** Product-level predictions of one candidate (a ModelEvaluation's `products` fits). */
export interface ProductPredictions {
  productIds: readonly string[];
  labels: ArrayLike<number>;
  probs: ArrayLike<ArrayLike<number>>;
}

/** Candidates scored per validation product (1 = right), checked to cover the same products in the same order. */
export function productCandidates(entries: ReadonlyArray<[string, ProductPredictions]>): ValidationCandidate[] {
  if (entries.length === 0) throw new Error('productCandidates: no candidates');
  const [firstKey, first] = entries[0];
  return entries.map(([key, p]) => {
    if (p.productIds.length !== first.productIds.length || p.productIds.some((id, i) => id !== first.productIds[i])) {
      throw new Error(`candidate ${key} was scored on other validation products than ${firstKey} (or in another order)`);
    }
    return { key, scores: correctness(p.labels, p.probs) };
  });
}
