/**
 * Nearest-neighbour search by cosine similarity: the interface every index implements, and the
 * exact brute-force index that is the reference for the approximate one (usearch_index.ts).
 *
 * Results are gallery row numbers, best first, with their cosine similarity as the score.
 * Ties are broken by the lower row number, so the exact ranking is deterministic.
 */
import { EmbeddingSet, checkEmbeddingSet, normalizeRows } from './embedding_set';

export interface Neighbours {
  /** Gallery rows, best first. */
  rows: number[];
  /** Cosine similarity of each row to the query. */
  scores: number[];
}

export interface VectorIndex {
  /** Vectors indexed. */
  readonly size: number;
  readonly dim: number;
  /** The k nearest rows (fewer when the index holds fewer). */
  search(query: ArrayLike<number>, k: number): Neighbours;
  /** One line for tables and logs. */
  describe(): string;
}

export function checkK(k: number): void {
  if (!Number.isInteger(k) || k < 1) throw new Error(`k must be a positive integer, got ${k}`);
}

export function checkQuery(query: ArrayLike<number>, dim: number): void {
  if (query.length !== dim) throw new Error(`query has ${query.length} values, the index holds ${dim}-d vectors`);
}

/**
 * Exact search: the dot product of the normalised query with every normalised gallery row,
 * keeping the k best in a small sorted buffer. O(n·dim) per query.
 */
export class BruteForceIndex implements VectorIndex {
  readonly dim: number;
  readonly size: number;
  private readonly unit: Float32Array;

  constructor(vectors: Float32Array, dim: number) {
    if (!Number.isInteger(dim) || dim < 1) throw new Error(`dim must be a positive integer, got ${dim}`);
    if (vectors.length % dim !== 0) throw new Error(`${vectors.length} values are not rows of ${dim}`);
    this.dim = dim;
    this.size = vectors.length / dim;
    this.unit = normalizeRows(vectors, dim);
  }

  static fromSet(set: EmbeddingSet): BruteForceIndex {
    checkEmbeddingSet(set);
    return new BruteForceIndex(set.vectors, set.dim);
  }

  describe(): string {
    return `exact brute force (cosine), ${this.size} × ${this.dim}`;
  }

  search(query: ArrayLike<number>, k: number): Neighbours {
    checkK(k);
    checkQuery(query, this.dim);
    const dim = this.dim;
    let qn = 0;
    for (let j = 0; j < dim; j++) qn += query[j] * query[j];
    const inv = qn > 0 ? 1 / Math.sqrt(qn) : 0;
    const q = new Float32Array(dim);
    for (let j = 0; j < dim; j++) q[j] = query[j] * inv;
    const keep = Math.min(k, this.size);
    const rows: number[] = [];
    const scores: number[] = [];
    const unit = this.unit;
    for (let r = 0; r < this.size; r++) {
      let s = 0;
      const base = r * dim;
      for (let j = 0; j < dim; j++) s += unit[base + j] * q[j];
      if (rows.length === keep && s <= scores[keep - 1]) continue; // equal score: the earlier row stays ahead
      // Insert after every score ≥ s (earlier rows win ties).
      let pos = rows.length;
      while (pos > 0 && scores[pos - 1] < s) pos--;
      rows.splice(pos, 0, r);
      scores.splice(pos, 0, s);
      if (rows.length > keep) {
        rows.pop();
        scores.pop();
      }
    }
    return { rows, scores };
  }
}
