/**
 * Retrieval evaluation: rank a gallery for every query with an index, then score the ranked
 * lists with the retrieval metrics of src/eval/metrics.ts.
 *
 * - `rankQueries`: top-`depth` gallery rows per query (optionally leaving out rows, e.g. the
 *   query photo itself when queries are part of the gallery), with per-query search latency.
 * - `dedupeByGroup`: photo results → listing results (a product's best-scoring photo stands for it).
 * - `categoryRetrieval`: same-category precision@k and mean reciprocal rank.
 * - `sameItemRetrieval`: recall@k and hit rate@k of *another photo of the same product*.
 * - `overlapAtK`: approximate vs exact (the share of the exact top k the index also returns).
 * - `chancePrecision`: what precision@k a random ranking would get (the base rate).
 */
import { hitRateAtK, meanReciprocalRank, precisionAtK, precisionAtKPerQuery, recallAtK, recallAtKPerQuery, relevantTotalsFromGallery, RetrievalLabel } from '../eval/metrics';
import { EmbeddingSet, normalizeRows, rowOf, selectRows } from './embedding_set';
import { rerankByCategory } from './search_index';
import { Neighbours, VectorIndex } from './vector_index';
import { tf } from '../tf/runtime';

export interface RankedLists {
  /** Per query: gallery rows, best first. */
  rows: number[][];
  scores: number[][];
  /** Per query: milliseconds spent in index.search. */
  latencyMs: number[];
}

export interface RankOptions {
  /** Gallery rows to leave out of query q's list (e.g. the query's own row). */
  exclude?: (query: number, row: number) => boolean;
  /** Extra neighbours fetched to make up for excluded ones (default: 8 when `exclude` is set). */
  slack?: number;
}

/** Top-`depth` gallery rows of every query row of `queries`. */
export function rankQueries(index: VectorIndex, queries: EmbeddingSet, depth: number, options: RankOptions = {}): RankedLists {
  if (queries.dim !== index.dim) throw new Error(`queries are ${queries.dim}-d, the index ${index.dim}-d`);
  const slack = options.exclude ? options.slack ?? 8 : 0;
  const out: RankedLists = { rows: [], scores: [], latencyMs: [] };
  for (let q = 0; q < queries.ids.length; q++) {
    const t0 = performance.now();
    const found: Neighbours = index.search(rowOf(queries, q), Math.min(index.size, depth + slack));
    out.latencyMs.push(performance.now() - t0);
    const rows: number[] = [];
    const scores: number[] = [];
    for (let i = 0; i < found.rows.length && rows.length < depth; i++) {
      if (options.exclude?.(q, found.rows[i])) continue;
      rows.push(found.rows[i]);
      scores.push(found.scores[i]);
    }
    out.rows.push(rows);
    out.scores.push(scores);
  }
  return out;
}

/**
 * The same ranked lists as `rankQueries` over an exact cosine index, computed in batches of
 * queries with one matrix product each (TensorFlow.js): for evaluations with thousands of
 * queries on wide vectors (e.g. 2048-d backbone features), where one query at a time is slow.
 * Latency is the batch's time shared among its queries.
 */
export function rankQueriesExact(gallery: EmbeddingSet, queries: EmbeddingSet, depth: number, options: RankOptions & { batchSize?: number } = {}): RankedLists {
  if (queries.dim !== gallery.dim) throw new Error(`queries are ${queries.dim}-d, the gallery ${gallery.dim}-d`);
  const slack = options.exclude ? options.slack ?? 8 : 0;
  const keep = Math.min(gallery.ids.length, depth + slack);
  const batch = options.batchSize ?? 256;
  // The gallery transposed once, so each batch is a plain product: tfjs-wasm's BatchMatMul with
  // transposeB set leaves XNNPACK for a naive loop, ~19× slower here (src/models/head.ts).
  const g = tf.tidy(() => tf.transpose(tf.tensor2d(normalizeRows(gallery.vectors, gallery.dim), [gallery.ids.length, gallery.dim])));
  const unitQueries = normalizeRows(queries.vectors, queries.dim);
  const out: RankedLists = { rows: [], scores: [], latencyMs: [] };
  for (let start = 0; start < queries.ids.length; start += batch) {
    const m = Math.min(batch, queries.ids.length - start);
    const t0 = performance.now();
    const { values, indices } = tf.tidy(() => tf.topk(tf.matMul(tf.tensor2d(unitQueries.subarray(start * queries.dim, (start + m) * queries.dim), [m, queries.dim]), g), keep));
    const v = values.dataSync();
    const ix = indices.dataSync();
    tf.dispose([values, indices]);
    const ms = (performance.now() - t0) / m;
    for (let j = 0; j < m; j++) {
      const q = start + j;
      const rows: number[] = [];
      const scores: number[] = [];
      for (let i = 0; i < keep && rows.length < depth; i++) {
        const r = ix[j * keep + i];
        if (options.exclude?.(q, r)) continue;
        rows.push(r);
        scores.push(v[j * keep + i]);
      }
      out.rows.push(rows);
      out.scores.push(scores);
      out.latencyMs.push(ms);
    }
  }
  g.dispose();
  return out;
}

/**
 * Keeps the first (best) row of each group and stops at k groups: e.g. photo hits → product hits.
 * Returns the kept rows and their groups.
 */
export function dedupeByGroup(rows: readonly number[], scores: readonly number[], groupOf: (row: number) => string, k: number): { rows: number[]; scores: number[]; groups: string[] } {
  const seen = new Set<string>();
  const out = { rows: [] as number[], scores: [] as number[], groups: [] as string[] };
  for (let i = 0; i < rows.length && out.rows.length < k; i++) {
    const g = groupOf(rows[i]);
    if (seen.has(g)) continue;
    seen.add(g);
    out.rows.push(rows[i]);
    out.scores.push(scores[i]);
    out.groups.push(g);
  }
  return out;
}

/** Ranked lists of labels: labelOf(row) for each row of each list. */
export function labelLists(lists: readonly number[][], labelOf: (row: number) => RetrievalLabel): RetrievalLabel[][] {
  return lists.map((l) => l.map(labelOf));
}

export interface CategoryRetrieval {
  queries: number;
  precision_at_1: number;
  precision_at_5: number;
  precision_at_10: number;
  /** Over the ranked list's depth (a query with no relevant item in it contributes 0). */
  mrr: number;
  hit_rate_at_5: number;
}

/** Same-category retrieval: a neighbour is relevant when it has the query's category. */
export function categoryRetrieval(queryLabels: readonly RetrievalLabel[], neighbourLabels: readonly RetrievalLabel[][]): CategoryRetrieval {
  return {
    queries: queryLabels.length,
    precision_at_1: precisionAtK(queryLabels, neighbourLabels, 1),
    precision_at_5: precisionAtK(queryLabels, neighbourLabels, 5),
    precision_at_10: precisionAtK(queryLabels, neighbourLabels, 10),
    mrr: meanReciprocalRank(queryLabels, neighbourLabels),
    hit_rate_at_5: hitRateAtK(queryLabels, neighbourLabels, 5),
  };
}

export interface SameItemRetrieval {
  /** Queries with at least one other photo of their product in the gallery (the others are skipped). */
  queries: number;
  recall_at_1: number;
  recall_at_5: number;
  recall_at_10: number;
  hit_rate_at_1: number;
  hit_rate_at_5: number;
  hit_rate_at_10: number;
  mrr: number;
}

/**
 * Photo → photo retrieval of the same product: `queryProducts[q]` is the query photo's product,
 * `neighbourProducts[q]` the products of its ranked photos (the query photo itself excluded),
 * `relevantTotals[q]` how many other photos of that product the gallery holds.
 */
export function sameItemRetrieval(queryProducts: readonly string[], neighbourProducts: readonly string[][], relevantTotals: readonly number[]): SameItemRetrieval {
  const keep = queryProducts.map((_, q) => q).filter((q) => relevantTotals[q] > 0);
  if (keep.length === 0) throw new Error('sameItemRetrieval: no query has another photo of its product in the gallery');
  const labels = keep.map((q) => queryProducts[q]);
  const lists = keep.map((q) => neighbourProducts[q]);
  const totals = keep.map((q) => relevantTotals[q]);
  return {
    queries: keep.length,
    recall_at_1: recallAtK(labels, lists, 1, totals),
    recall_at_5: recallAtK(labels, lists, 5, totals),
    recall_at_10: recallAtK(labels, lists, 10, totals),
    hit_rate_at_1: hitRateAtK(labels, lists, 1),
    hit_rate_at_5: hitRateAtK(labels, lists, 5),
    hit_rate_at_10: hitRateAtK(labels, lists, 10),
    mrr: meanReciprocalRank(labels, lists),
  };
}

/** Mean over queries of |approx top k ∩ exact top k| / min(k, |exact top k|): "recall@k of the index". */
export function overlapAtK(approx: readonly number[][], exact: readonly number[][], k: number): number {
  if (approx.length !== exact.length) throw new Error(`overlapAtK: ${approx.length} vs ${exact.length} queries`);
  if (approx.length === 0) throw new Error('overlapAtK: no queries');
  let total = 0;
  for (let q = 0; q < exact.length; q++) {
    const truth = new Set(exact[q].slice(0, k));
    if (truth.size === 0) throw new Error(`overlapAtK: query ${q} has an empty exact list`);
    let hits = 0;
    for (const r of approx[q].slice(0, k)) if (truth.has(r)) hits++;
    total += hits / truth.size;
  }
  return total / exact.length;
}

/**
 * Expected precision@k of a random ranking: for each query, the share of the gallery with its
 * label (sampling without replacement keeps the expectation), averaged over queries.
 */
export function chancePrecision(queryLabels: readonly RetrievalLabel[], galleryLabels: readonly RetrievalLabel[]): number {
  if (queryLabels.length === 0 || galleryLabels.length === 0) throw new Error('chancePrecision: empty queries or gallery');
  const counts = new Map<RetrievalLabel, number>();
  for (const l of galleryLabels) counts.set(l, (counts.get(l) ?? 0) + 1);
  let total = 0;
  for (const l of queryLabels) total += (counts.get(l) ?? 0) / galleryLabels.length;
  return total / queryLabels.length;
}

/** Linear-interpolated percentile (numpy's default) of a list of numbers; p in [0, 100]. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of no values');
  const s = values.slice().sort((a, b) => a - b);
  const pos = (p / 100) * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export function latencySummary(ms: readonly number[]): { mean_ms: number; p50_ms: number; p95_ms: number } {
  return { mean_ms: ms.reduce((a, b) => a + b, 0) / ms.length, p50_ms: percentile(ms, 50), p95_ms: percentile(ms, 95) };
}

export interface PhotoSearchScores {
  /** Same-category precision@5 of the listings a query photo finds (best photo per listing). */
  precision_at_5: number;
  /** Another photo of the same product among the first 10 (all photos but the query are the gallery). */
  same_item_recall_at_10: number;
  same_item_hit_rate_at_10: number;
  queries: number;
  same_item_queries: number;
  /**
   * Per query photo, its share of (precision@5 + same-item recall@10) / 2: the mean over queries
   * is that figure, and candidates scored on the same queries can be compared pair by pair
   * (selectOnValidation).
   */
  valuePerQuery: Float64Array;
}

/** Class re-ranking of photo search: sim + weight · p_query(class of the neighbour's listing). */
export interface PhotoRerank {
  weight: number;
  /** The query photo's class probabilities (q indexes the ranking's queries). */
  queryProbs: (q: number) => ArrayLike<number>;
  classOf: (productId: string) => number;
}

/** Photos a query photo is scored against, searched once so that any number of re-ranking weights can be scored. */
export interface PhotoSearchRanking {
  queryProducts: string[];
  /** Per query: the listings its nearest gallery photos belong to (best photo each), best first, and their scores. */
  listings: Array<{ groups: string[]; scores: number[] }>;
  /** Per query: the products of the nearest photos of the whole set (the query itself left out), best first, and their scores. */
  sameItem: Array<{ products: string[]; scores: number[] }>;
  /** Per query: how many other photos its product has in the set. */
  sameItemTotals: number[];
}

/** Photos searched for re-ranking: the nearest PHOTO_SEARCH_DEPTH photos, as the service fetches them. */
export const PHOTO_SEARCH_DEPTH = 60;

/**
 * Photo-only search on one photo embedding set, both ways: `queryIds` search the photos of
 * `galleryIds` for listings (de-duplicated per product), and every photo of `set` for another
 * photo of their own product. Both keep PHOTO_SEARCH_DEPTH photos, the pool a re-ranking re-orders.
 */
export function photoSearchRanking(set: EmbeddingSet, queryIds: readonly string[], galleryIds: readonly string[], productOf: (photoId: string) => string): PhotoSearchRanking {
  const queries = selectRows(set, queryIds);
  const gallery = selectRows(set, galleryIds);
  const galleryProduct = gallery.ids.map(productOf);
  const ranked = rankQueriesExact(gallery, queries, PHOTO_SEARCH_DEPTH);
  const listings = ranked.rows.map((rows, q) => {
    const d = dedupeByGroup(rows, ranked.scores[q], (r) => galleryProduct[r], rows.length);
    return { groups: d.groups, scores: d.scores };
  });
  const rowOfId = new Map(set.ids.map((id, i) => [id, i]));
  const same = rankQueriesExact(set, queries, PHOTO_SEARCH_DEPTH, { exclude: (q, row) => row === rowOfId.get(queries.ids[q]) });
  const allProducts = set.ids.map(productOf);
  const queryProducts = queries.ids.map(productOf);
  return {
    queryProducts, listings,
    sameItem: same.rows.map((rows, q) => ({ products: rows.map((r) => allProducts[r]), scores: same.scores[q] })),
    sameItemTotals: relevantTotalsFromGallery(queryProducts, allProducts, true),
  };
}

/**
 * Scores a photo search ranking: same-category precision@5 of the listings found, and recall@10 of
 * another photo of the same product. With `rerank`, both lists are re-ordered by
 * sim + weight · p_query(class) (rerankByCategory) first, as the service re-orders photo results.
 */
export function scorePhotoSearch(ranking: PhotoSearchRanking, categoryOf: (productId: string) => string, rerank?: PhotoRerank): PhotoSearchScores {
  const order = <T>(items: T[], scores: number[], productOf: (item: T) => string, q: number): T[] =>
    !rerank || rerank.weight === 0 ? items : rerankByCategory(scores, items.map((it) => rerank.classOf(productOf(it))), rerank.queryProbs(q), rerank.weight).map((i) => items[i]);
  const queryCategories = ranking.queryProducts.map(categoryOf);
  const foundCategories = ranking.listings.map((l, q) => order(l.groups, l.scores, (g) => g, q).slice(0, 10).map(categoryOf));
  const same = ranking.sameItem.map((l, q) => order(l.products, l.scores, (p) => p, q).slice(0, 10));
  const item = sameItemRetrieval(ranking.queryProducts, same, ranking.sameItemTotals);
  const precision = precisionAtKPerQuery(queryCategories, foundCategories, 5);
  const recall = recallAtKPerQuery(ranking.queryProducts, same, 10, ranking.sameItemTotals);
  const n = precision.length;
  const valuePerQuery = precision.map((p, q) => p / 2 + (Number.isNaN(recall[q]) ? 0 : (n * recall[q]) / (2 * item.queries)));
  return { precision_at_5: precisionAtK(queryCategories, foundCategories, 5), same_item_recall_at_10: item.recall_at_10, same_item_hit_rate_at_10: item.hit_rate_at_10,
    queries: n, same_item_queries: item.queries, valuePerQuery };
}

/** photoSearchRanking scored once (scorePhotoSearch). */
export function photoSearchScores(
  set: EmbeddingSet,
  queryIds: readonly string[],
  galleryIds: readonly string[],
  productOf: (photoId: string) => string,
  categoryOf: (productId: string) => string,
  rerank?: PhotoRerank,
): PhotoSearchScores {
  return scorePhotoSearch(photoSearchRanking(set, queryIds, galleryIds, productOf), categoryOf, rerank);
}
