/**
 * Normalisation of backbone feature vectors before a head (notebook 03), as plain data so a
 * saved image predictor applies exactly what its heads were trained on.
 *
 * - 'none': as extracted.
 * - 'ssqrt_l2': signed square root of each value, then the vector scaled to norm √dim (unit RMS
 *   per value, the scale the heads' initialisers expect). Damps a few large activations that
 *   dominate pooled CNN features ("power normalisation").
 * - 'standardize': per dimension, minus the training mean, over the training standard deviation
 *   (fitted on the training photos only).
 */

export type FeatureNormKind = 'none' | 'ssqrt_l2' | 'standardize';

export type FeatureNorm =
  | { kind: 'none' }
  | { kind: 'ssqrt_l2' }
  | { kind: 'standardize'; mean: number[]; std: number[] };

/** Fits a normalisation on training rows (n × dim, row-major). */
export function fitFeatureNorm(kind: FeatureNormKind, train: Float32Array, dim: number): FeatureNorm {
  if (kind !== 'standardize') return { kind };
  const n = train.length / dim;
  if (!Number.isInteger(n) || n < 2) throw new Error(`standardize needs ≥ 2 whole training rows of ${dim} values, got ${train.length} values`);
  const mean = new Float64Array(dim);
  const sq = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d] += train[i * dim + d] / n;
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) sq[d] += (train[i * dim + d] - mean[d]) ** 2;
  // A constant dimension (e.g. a dead ReLU channel) keeps std 1: it stays 0 after centring.
  const std = Array.from(sq, (s) => { const v = Math.sqrt(s / (n - 1)); return v > 1e-6 ? v : 1; });
  return { kind, mean: Array.from(mean), std };
}

/** Applies `norm` to rows (n × dim): a new array. */
export function applyFeatureNorm(norm: FeatureNorm, rows: Float32Array, dim: number): Float32Array {
  if (rows.length % dim !== 0) throw new Error(`${rows.length} values are not whole rows of ${dim}`);
  if (norm.kind === 'none') return rows;
  const out = new Float32Array(rows.length);
  const n = rows.length / dim;
  if (norm.kind === 'standardize') {
    if (norm.mean.length !== dim || norm.std.length !== dim) throw new Error(`standardize was fitted on ${norm.mean.length}-d features, these are ${dim}-d`);
    for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) out[i * dim + d] = (rows[i * dim + d] - norm.mean[d]) / norm.std[d];
    return out;
  }
  const target = Math.sqrt(dim);
  for (let i = 0; i < n; i++) {
    let ss = 0;
    for (let d = 0; d < dim; d++) {
      const v = rows[i * dim + d];
      const s = Math.sign(v) * Math.sqrt(Math.abs(v));
      out[i * dim + d] = s;
      ss += s * s;
    }
    const scale = ss > 0 ? target / Math.sqrt(ss) : 0;
    for (let d = 0; d < dim; d++) out[i * dim + d] *= scale;
  }
  return out;
}

/**
 * Mean feature vector of each group (e.g. a product's photos), in order of first appearance:
 * the input of a product-level head.
 */
export function groupMeanRows(rows: Float32Array, dim: number, groups: readonly string[]): { groups: string[]; rows: Float32Array } {
  if (rows.length !== groups.length * dim) throw new Error(`${rows.length} values for ${groups.length} rows of ${dim}`);
  const order: string[] = [];
  const index = new Map<string, number>();
  for (const g of groups) if (!index.has(g)) { index.set(g, order.length); order.push(g); }
  const sums = new Float32Array(order.length * dim);
  const counts = new Float32Array(order.length);
  groups.forEach((g, i) => {
    const j = index.get(g) as number;
    counts[j]++;
    for (let d = 0; d < dim; d++) sums[j * dim + d] += rows[i * dim + d];
  });
  for (let j = 0; j < order.length; j++) for (let d = 0; d < dim; d++) sums[j * dim + d] /= counts[j];
  return { groups: order, rows: sums };
}
