/**
 * Every model on the SAME products (notebook 06): the product ids all stages predicted, each
 * stage's probability rows in that order, and checks that the stages agree on the labels.
 *
 * Image models only predict products that have photos; the text model predicts every listing;
 * so the common set is the test products with at least one usable photo.
 */
import type { SplitPredictions } from './predictions_store';

export interface AlignedPredictions {
  /** Products every stage predicted, in the order of the first stage. */
  productIds: string[];
  labels: number[];
  /** Per stage, one probability row per common product. */
  probs: Record<string, number[][]>;
  /** Per stage, how many products it predicted before intersecting. */
  counts: Record<string, number>;
  /** Products of the union that some stage lacks, with the stages that lack them. */
  missing: Array<{ productId: string; missingFrom: string[] }>;
}

export function alignOnCommonProducts(stages: Record<string, SplitPredictions>): AlignedPredictions {
  const names = Object.keys(stages);
  if (names.length === 0) throw new Error('alignOnCommonProducts: no stages');
  const index: Record<string, Map<string, number>> = {};
  for (const name of names) index[name] = new Map(stages[name].productIds.map((id, i) => [id, i]));
  const union: string[] = [];
  const seen = new Set<string>();
  for (const name of names) for (const id of stages[name].productIds) if (!seen.has(id)) { seen.add(id); union.push(id); }
  const productIds: string[] = [];
  const missing: AlignedPredictions['missing'] = [];
  for (const id of union) {
    const lacking = names.filter((n) => !index[n].has(id));
    if (lacking.length) missing.push({ productId: id, missingFrom: lacking });
    else productIds.push(id);
  }
  const first = stages[names[0]];
  const labels = productIds.map((id) => first.labels[index[names[0]].get(id) as number]);
  const probs: Record<string, number[][]> = {};
  for (const name of names) {
    const s = stages[name];
    probs[name] = productIds.map((id, j) => {
      const i = index[name].get(id) as number;
      if (s.labels[i] !== labels[j]) throw new Error(`stages ${names[0]} and ${name} disagree on the label of product ${id} (${labels[j]} vs ${s.labels[i]})`);
      return s.probs[i];
    });
  }
  return { productIds, labels, probs, counts: Object.fromEntries(names.map((n) => [n, stages[n].productIds.length])), missing };
}
