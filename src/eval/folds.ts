/**
 * k-fold assignment and out-of-fold predictions.
 *
 * Stacking and early fusion must not learn from a model's predictions on the rows it was fitted
 * on (in-sample text looks near-perfect). Out-of-fold predictions fix that: the rows are split
 * into k folds, and each fold's predictions come from a model fitted on the other k − 1.
 *
 * Folds are GROUPED (rows of one group — a product, a cross-post family — share a fold) and
 * STRATIFIED by label (each group goes to the fold that has the fewest rows of its label so far),
 * after a seeded shuffle, so the assignment is reproducible.
 */
import { deriveSeed, Rng } from '../rng';

/** The fold (0..k−1) of every row. */
export function kFoldOfGroups(groups: readonly string[], labels: ArrayLike<number>, k: number, seed: number): number[] {
  if (!Number.isInteger(k) || k < 2) throw new Error(`k-fold: k must be an integer ≥ 2, got ${k}`);
  if (groups.length !== labels.length) throw new Error(`k-fold: ${groups.length} groups for ${labels.length} labels`);
  const members = new Map<string, number[]>();
  groups.forEach((g, i) => {
    const list = members.get(g);
    if (list) list.push(i);
    else members.set(g, [i]);
  });
  if (members.size < k) throw new Error(`k-fold: ${members.size} groups cannot fill ${k} folds`);
  const order = new Rng(deriveSeed(seed, 'k-fold', k)).shuffleInPlace([...members.keys()]);
  // Larger groups first (placed while every fold still has room), stable after the shuffle.
  order.sort((a, b) => (members.get(b) as number[]).length - (members.get(a) as number[]).length);
  const perLabel = new Map<number, number[]>();
  const sizes = new Array<number>(k).fill(0);
  const fold = new Array<number>(groups.length);
  for (const g of order) {
    const rows = members.get(g) as number[];
    const label = labels[rows[0]];
    const counts = perLabel.get(label) ?? new Array<number>(k).fill(0);
    perLabel.set(label, counts);
    let best = 0;
    for (let f = 1; f < k; f++) if (counts[f] < counts[best] || (counts[f] === counts[best] && sizes[f] < sizes[best])) best = f;
    for (const r of rows) fold[r] = best;
    counts[best] += rows.length;
    sizes[best] += rows.length;
  }
  return fold;
}

/** For each non-empty fold: the rows outside it (to fit on) and the rows in it (to predict). */
export function foldRows(fold: readonly number[], k: number): Array<{ fold: number; fit: number[]; held: number[] }> {
  const out: Array<{ fold: number; fit: number[]; held: number[] }> = [];
  for (let f = 0; f < k; f++) {
    const held = fold.flatMap((x, i) => (x === f ? [i] : []));
    if (held.length > 0) out.push({ fold: f, fit: fold.flatMap((x, i) => (x === f ? [] : [i])), held });
  }
  return out;
}

/**
 * Out-of-fold predictions: for each fold f, `fitPredict(fitRows, heldRows)` fits on the rows
 * outside f and returns one prediction per held row (in heldRows' order).
 */
export async function outOfFold<T>(fold: readonly number[], k: number, fitPredict: (fitRows: number[], heldRows: number[], f: number) => Promise<T[]> | T[]): Promise<T[]> {
  const out = new Array<T>(fold.length);
  for (const { fold: f, fit, held } of foldRows(fold, k)) {
    const preds = await fitPredict(fit, held, f);
    if (preds.length !== held.length) throw new Error(`out-of-fold: fold ${f} returned ${preds.length} predictions for ${held.length} rows`);
    held.forEach((r, j) => (out[r] = preds[j]));
  }
  return out;
}
