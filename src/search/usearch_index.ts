/**
 * Approximate nearest-neighbour search with usearch (HNSW graph, cosine metric), behind the same
 * interface as the exact BruteForceIndex. Keys are gallery row numbers. The index is saved to and
 * loaded from one file; the row → id mapping lives beside it (see src/serve/bundle.ts).
 *
 * Defaults: connectivity 16, expansion 128 when adding and 64 when searching (usearch's own
 * defaults are similar); search runs on the calling thread (threads = 1), which is what a
 * request handler wants on a 2-core machine.
 */
import * as fs from 'fs';
import { Index, MetricKind, ScalarKind } from 'usearch';
import { EmbeddingSet, checkEmbeddingSet } from './embedding_set';
import { Neighbours, VectorIndex, checkK, checkQuery } from './vector_index';

export interface UsearchOptions {
  connectivity?: number;
  expansionAdd?: number;
  expansionSearch?: number;
  /** Threads used while adding (0 = usearch decides). Search always uses one. */
  addThreads?: number;
}

const DEFAULTS = { connectivity: 16, expansionAdd: 128, expansionSearch: 64 };

function makeIndex(dim: number, o: UsearchOptions): Index {
  return new Index({
    dimensions: dim, metric: MetricKind.Cos, quantization: ScalarKind.F32,
    connectivity: o.connectivity ?? DEFAULTS.connectivity,
    expansion_add: o.expansionAdd ?? DEFAULTS.expansionAdd,
    expansion_search: o.expansionSearch ?? DEFAULTS.expansionSearch,
    multi: false,
  });
}

export class UsearchIndex implements VectorIndex {
  private constructor(private readonly index: Index, readonly dim: number, private readonly options: UsearchOptions) {}

  /** Builds the graph over rows of `vectors` (row r gets key r). */
  static build(vectors: Float32Array, dim: number, options: UsearchOptions = {}): UsearchIndex {
    if (!Number.isInteger(dim) || dim < 1) throw new Error(`dim must be a positive integer, got ${dim}`);
    if (vectors.length % dim !== 0 || vectors.length === 0) throw new Error(`${vectors.length} values are not rows of ${dim}`);
    const n = vectors.length / dim;
    const index = makeIndex(dim, options);
    const keys = new BigUint64Array(n);
    for (let i = 0; i < n; i++) keys[i] = BigInt(i);
    index.add(keys, vectors, options.addThreads ?? 0);
    return new UsearchIndex(index, dim, options);
  }

  static fromSet(set: EmbeddingSet, options: UsearchOptions = {}): UsearchIndex {
    checkEmbeddingSet(set);
    return UsearchIndex.build(set.vectors, set.dim, options);
  }

  /** Loads an index saved with save(); `dim` and the options must be those it was built with. */
  static load(file: string, dim: number, options: UsearchOptions = {}): UsearchIndex {
    if (!fs.existsSync(file)) throw new Error(`no usearch index at ${file}`);
    const index = makeIndex(dim, options);
    index.load(file);
    if (index.dimensions() !== dim) throw new Error(`${file} holds ${index.dimensions()}-d vectors, expected ${dim}`);
    return new UsearchIndex(index, dim, options);
  }

  get size(): number {
    return index_size(this.index);
  }

  save(file: string): void {
    const tmp = `${file}.${process.pid}.tmp`;
    this.index.save(tmp);
    fs.renameSync(tmp, file);
  }

  describe(): string {
    const o = { ...DEFAULTS, ...this.options };
    return `usearch HNSW (cosine, f32, M=${o.connectivity}, ef_add=${o.expansionAdd}, ef_search=${o.expansionSearch}), ${this.size} × ${this.dim}`;
  }

  search(query: ArrayLike<number>, k: number): Neighbours {
    checkK(k);
    checkQuery(query, this.dim);
    const q = query instanceof Float32Array ? query : Float32Array.from(query);
    const m = this.index.search(q, Math.min(k, this.size), 1);
    const rows: number[] = [];
    const scores: number[] = [];
    for (let i = 0; i < m.keys.length; i++) {
      const key = m.keys[i];
      if (key === 0xffffffffffffffffn) continue; // padding when fewer were found
      rows.push(Number(key));
      scores.push(1 - m.distances[i]);
    }
    return { rows, scores };
  }
}

function index_size(index: Index): number {
  return Number(index.size());
}
