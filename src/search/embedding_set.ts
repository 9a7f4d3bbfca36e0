/**
 * A set of embeddings with ids: the one shape every index, evaluation and the search service
 * work with, whatever produced the vectors (image head, text CNN, fusion, a concatenation).
 *
 * Helpers: build one from the per-photo embeddings of notebook 03 or the per-product text
 * features of 04, l2-normalise rows (cosine similarity = dot product afterwards), pick rows by
 * id, average rows per group (photos → product), and concatenate sets (an untrained fusion:
 * each part normalised, weighted, then the whole normalised again).
 */

export interface EmbeddingSet {
  /** Row ids, in row order (unique). */
  ids: string[];
  dim: number;
  /** Row-major ids.length × dim. */
  vectors: Float32Array;
}

export function checkEmbeddingSet(set: EmbeddingSet, what = 'embedding set'): void {
  if (!Number.isInteger(set.dim) || set.dim < 1) throw new Error(`${what}: dim must be a positive integer, got ${set.dim}`);
  if (set.vectors.length !== set.ids.length * set.dim) {
    throw new Error(`${what}: ${set.vectors.length} values for ${set.ids.length} ids × ${set.dim}`);
  }
  if (new Set(set.ids).size !== set.ids.length) throw new Error(`${what}: ids are not unique`);
}

export function embeddingSet(ids: readonly string[], dim: number, vectors: Float32Array): EmbeddingSet {
  const set = { ids: ids.slice(), dim, vectors };
  checkEmbeddingSet(set);
  return set;
}

/** Row i as a view (no copy). */
export function rowOf(set: EmbeddingSet, i: number): Float32Array {
  return set.vectors.subarray(i * set.dim, (i + 1) * set.dim);
}

/** Euclidean norm of a vector. */
export function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/** A normalised copy of one vector (a zero vector stays zero). */
export function normalized(v: ArrayLike<number>): Float32Array {
  const out = Float32Array.from(v as ArrayLike<number>);
  const n = norm(out);
  if (n > 0) for (let i = 0; i < out.length; i++) out[i] /= n;
  return out;
}

/** Every row scaled to unit length, in a new array (zero rows stay zero). */
export function normalizeRows(vectors: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(vectors.length);
  const n = vectors.length / dim;
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += vectors[r * dim + j] ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < dim; j++) out[r * dim + j] = vectors[r * dim + j] * inv;
  }
  return out;
}

export function normalizeSet(set: EmbeddingSet): EmbeddingSet {
  return { ids: set.ids, dim: set.dim, vectors: normalizeRows(set.vectors, set.dim) };
}

/** The rows of `ids`, in that order; throws on an id the set does not hold. */
export function selectRows(set: EmbeddingSet, ids: readonly string[]): EmbeddingSet {
  const pos = new Map(set.ids.map((id, i) => [id, i]));
  const out = new Float32Array(ids.length * set.dim);
  ids.forEach((id, k) => {
    const i = pos.get(id);
    if (i === undefined) throw new Error(`selectRows: no row with id ${id}`);
    out.set(rowOf(set, i), k * set.dim);
  });
  return { ids: ids.slice(), dim: set.dim, vectors: out };
}

/**
 * One row per group: the mean of the rows whose `groupOf[i]` is that group (e.g. the photos of a
 * product → the product), groups in order of first appearance. With `normalizeFirst`, each row is
 * normalised before averaging (every photo weighs the same).
 */
export function meanByGroup(set: EmbeddingSet, groupOf: readonly string[], options: { normalizeFirst?: boolean } = {}): EmbeddingSet & { counts: number[] } {
  if (groupOf.length !== set.ids.length) throw new Error(`meanByGroup: ${groupOf.length} groups for ${set.ids.length} rows`);
  const src = options.normalizeFirst ? normalizeRows(set.vectors, set.dim) : set.vectors;
  const slot = new Map<string, number>();
  const ids: string[] = [];
  const counts: number[] = [];
  for (const g of groupOf) {
    if (!slot.has(g)) {
      slot.set(g, ids.length);
      ids.push(g);
      counts.push(0);
    }
  }
  const out = new Float32Array(ids.length * set.dim);
  for (let i = 0; i < groupOf.length; i++) {
    const g = slot.get(groupOf[i]) as number;
    counts[g]++;
    for (let j = 0; j < set.dim; j++) out[g * set.dim + j] += src[i * set.dim + j];
  }
  for (let g = 0; g < ids.length; g++) for (let j = 0; j < set.dim; j++) out[g * set.dim + j] /= counts[g];
  return { ids, dim: set.dim, vectors: out, counts };
}

export interface WeightedPart {
  set: EmbeddingSet;
  /** Share of the squared norm this part gets in the concatenation (weights are renormalised to sum to 1). */
  weight: number;
}

/**
 * Concatenation fusion of vectors that belong to the same listing: each part's vector is
 * normalised and scaled by √(weight), so the cosine similarity of two concatenations is the
 * weighted mean of the parts' cosine similarities. Used both for gallery rows and for a new
 * listing's query (concatVectors), so both go through the same arithmetic.
 */
export function concatVectors(parts: Array<{ vector: ArrayLike<number>; weight: number }>): Float32Array {
  const total = parts.reduce((s, p) => s + p.weight, 0);
  if (!(total > 0)) throw new Error('concatVectors: weights must sum to a positive number');
  const dim = parts.reduce((s, p) => s + p.vector.length, 0);
  const out = new Float32Array(dim);
  let offset = 0;
  for (const p of parts) {
    if (p.weight < 0) throw new Error(`concatVectors: negative weight ${p.weight}`);
    const v = normalized(p.vector);
    const scale = Math.sqrt(p.weight / total);
    for (let j = 0; j < v.length; j++) out[offset + j] = v[j] * scale;
    offset += p.vector.length;
  }
  return out;
}

/** Concatenation fusion row by row over `ids` (each part must hold every id). */
export function concatSets(parts: WeightedPart[], ids: readonly string[]): EmbeddingSet {
  if (parts.length === 0) throw new Error('concatSets: no parts');
  const selected = parts.map((p) => ({ set: selectRows(p.set, ids), weight: p.weight }));
  const dim = selected.reduce((s, p) => s + p.set.dim, 0);
  const out = new Float32Array(ids.length * dim);
  for (let i = 0; i < ids.length; i++) {
    out.set(concatVectors(selected.map((p) => ({ vector: rowOf(p.set, i), weight: p.weight }))), i * dim);
  }
  return { ids: ids.slice(), dim, vectors: out };
}

/** Largest absolute difference between two equally long arrays (a served vector against a stored one). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths ${a.length} and ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}
