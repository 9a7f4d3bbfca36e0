/**
 * The search service's logic, without HTTP: load a serving bundle (src/serve/bundle.ts), turn a
 * query listing (0..10 photos, a title, a description) into predictions with the very predictors
 * the notebooks chose and evaluated, and rank similar listings.
 *
 * Which predictor answers /predict/category (each answer names it, with REPORT.md's label):
 *   photos only  → 03's image predictor;
 *   text only    → 04's text predictor;
 *   photos + text → 05's fusion predictor.
 * Which index answers /predict/similar:
 *   photos + text → `fused` (the vector notebook 07 chose on validation);
 *   photos only   → `image` (one row per photo; each query photo searches, a listing keeps its best score);
 *   text only     → `text`.
 * The backbone runs as many views of a photo as the query's route reads (`viewsPerRoute`): a photo +
 * text query only what the fusion predictor reads, a photo-only query also what the photo index averages.
 */
import * as path from 'path';
import { initTf } from '../tf/runtime';
import { concatVectors } from '../search/embedding_set';
import { UsearchIndex } from '../search/usearch_index';
import { dedupeByGroup, PHOTO_SEARCH_DEPTH } from '../search/retrieval';
import { argmax } from '../eval/metrics';
import { ImagePredictor } from '../predictors/image_predictor';
import { TextPredictor } from '../predictors/text_predictor';
import { FusionPredictor } from '../predictors/fusion_predictor';
import type { ListingInput, Predictor } from '../predictors/predictor';
import { IndexName, IndexRows, readJson, readManifest, ServingListing, ServingManifest } from './bundle';
import { decodePhoto, PhotoFeaturizer } from './encoders';
import { InputError } from './input_error';
import { descriptorViews, readSearchIndex, rerankByCategory, SearchIndex, whitenedPhotoQuery } from '../search/search_index';

/** Most photos one query may carry (a listing has at most a handful). */
export const MAX_PHOTOS = 10;

export interface Query {
  /** 0 to MAX_PHOTOS photos of the listing (server.ts). */
  images: Buffer[];
  title?: string;
  description?: string;
}

export type QueryKind = 'image' | 'text' | 'image+text';

export interface EncodedQuery {
  kind: QueryKind;
  listing: ListingInput;
  /** The predictor that answers this kind of query. */
  predictor: Predictor;
  probabilities: Float32Array;
  /** Per photo: the image predictor's embedding. */
  photoEmbeddings?: Float32Array[];
  /** Per photo: the vector the per-photo index holds (the head embedding, or the whitened backbone features: 07's choice). */
  photoQueries?: Float32Array[];
  /** The image predictor's listing embedding (mean over photos) and the text predictor's. */
  imageEmbedding?: Float32Array;
  textEmbedding?: Float32Array;
  /** The fused index's query vector (photos + text). */
  fused?: Float32Array;
  timings: Record<string, number>;
}

export interface SimilarResult {
  id: string;
  title: string;
  price: number | null;
  category: string;
  score: number;
  /** For photo queries: the listing's photo that matched best. */
  photo_id?: string;
}

interface LoadedIndex {
  name: IndexName;
  index: UsearchIndex;
  rows: IndexRows;
}

/** Backbone views per photo each photo route reads (the featuriser runs up to `most`). */
export interface RouteViews {
  'image+text': number;
  image: number;
  most: number;
}

/**
 * Views per photo by route: photo + text queries are answered by the fusion predictor and the fused
 * index alone; photo-only queries by the image predictor and the photo index (which averages
 * `descriptorViews` views when it holds whitened backbone features), and the fusion predictor's
 * early network only when its combination or the fused query (`earlyEmbedding`) reads it. Computing the mirrored view
 * for a route that does not read it would double the backbone's work for nothing.
 */
export function viewsPerRoute(fusion: Pick<FusionPredictor, 'viewsPerPhoto'>, image: Pick<ImagePredictor, 'spec'>, search: SearchIndex | null, earlyEmbedding: boolean): RouteViews {
  const both = fusion.viewsPerPhoto({ earlyEmbedding });
  const photoOnly = Math.max(image.spec.views, search ? descriptorViews(search) : 1);
  return { 'image+text': both, image: photoOnly, most: Math.max(both, photoOnly) };
}

/** The route a listing takes: photos + text, photos only, or text only (trimmed text). */
function routeOf(photoCount: number, title: string, description: string): QueryKind {
  const hasText = title.length > 0 || description.length > 0;
  return photoCount && hasText ? 'image+text' : photoCount ? 'image' : 'text';
}

/** Whether the fused index's query vector is the fusion predictor's (early-network) embedding. */
function readsEarlyEmbedding(manifest: ServingManifest): boolean {
  return manifest.fusedQuery.kind === 'fusion_embedding';
}

export const MAX_K = 50;
/** Neighbours a re-ranked listing query looks at (notebook 07 re-ranks its ranked lists of this depth). */
const RERANK_DEPTH = 50;

export class SearchService {
  private constructor(
    readonly dir: string,
    readonly manifest: ServingManifest,
    private readonly photos: PhotoFeaturizer,
    readonly fusion: FusionPredictor,
    readonly image: ImagePredictor,
    readonly text: TextPredictor,
    private readonly indexes: Record<IndexName, LoadedIndex>,
    private readonly listings: Map<string, ServingListing>,
    private readonly search: SearchIndex | null,
    readonly loadSeconds: number,
    readonly views: RouteViews,
  ) {}

  /** Loads the bundle in `dir`; throws a MissingArtefactError naming the file when something is missing. */
  static async load(dir: string, options: { workers?: number } = {}): Promise<SearchService> {
    const t0 = performance.now();
    const manifest = readManifest(dir);
    await initTf();
    const listingRows = readJson<ServingListing[]>(dir, manifest.listings);
    const listings = new Map(listingRows.map((l) => [l.id, l]));
    const indexes = {} as Record<IndexName, LoadedIndex>;
    for (const name of Object.keys(manifest.indexes) as IndexName[]) {
      const e = manifest.indexes[name];
      const rows = readJson<IndexRows>(dir, e.rows);
      const index = UsearchIndex.load(path.resolve(dir, e.file), e.dim, e.options);
      if (index.size !== rows.ids.length || rows.ids.length !== e.count) {
        throw new Error(`index ${name}: ${index.size} vectors, ${rows.ids.length} row ids, manifest says ${e.count}: re-run notebook 07`);
      }
      for (const id of rows.listingIds) if (!listings.has(id)) throw new Error(`index ${name} names listing ${id}, which is not in ${manifest.listings}`);
      indexes[name] = { name, index, rows };
    }
    const image = await ImagePredictor.load(path.resolve(dir, manifest.predictors.image));
    const text = await TextPredictor.load(path.resolve(dir, manifest.predictors.text));
    const fusion = await FusionPredictor.load(path.resolve(dir, manifest.predictors.fusion));
    for (const p of [image, text, fusion]) {
      if (p.classes.join('|') !== manifest.classes.join('|')) throw new Error(`the bundle's ${p.kind} predictor has other classes than the manifest: re-run notebook 07`);
    }
    const search = manifest.searchIndex ? readSearchIndex(path.resolve(dir, manifest.searchIndex)) : null;
    const views = viewsPerRoute(fusion, image, search, readsEarlyEmbedding(manifest));
    const photos = await PhotoFeaturizer.create(manifest, dir, views.most, options);
    return new SearchService(dir, manifest, photos, fusion, image, text, indexes, listings, search, (performance.now() - t0) / 1000, views);
  }

  async close(): Promise<void> {
    await this.photos.release();
    for (const p of [this.image, this.text, this.fusion]) p.dispose();
  }

  /** What /healthcheck reports (no machine paths). */
  info(): Record<string, unknown> {
    const q = this.manifest.fusedQuery;
    return {
      profile: this.manifest.profile,
      created: this.manifest.created,
      listings: this.listings.size,
      classes: this.manifest.classes.length,
      max_photos: MAX_PHOTOS,
      models: { image: this.image.label, text: this.text.label, 'image+text': this.fusion.label },
      backbone: this.photos.describe(),
      views_per_photo: { 'image+text': this.views['image+text'], image: this.views.image },
      indexes: Object.fromEntries(Object.values(this.indexes).map((i) => [i.name, { rows: i.index.size, dim: i.index.dim, unit: this.manifest.indexes[i.name].unit, embedding: this.manifest.indexes[i.name].embedding }])),
      fused_query: q.kind === 'fusion_embedding' ? 'notebook 05 fusion model (fused_embedding layer)' :
        `concatenation of the normalised image and text embeddings (weights ${q.imageWeight.toFixed(2)} / ${q.textWeight.toFixed(2)})`,
      load_seconds: Math.round(this.loadSeconds * 100) / 100,
    };
  }

  /** Runs the query's predictor; 400 when it holds neither a photo nor any text. */
  async encode(query: Query): Promise<EncodedQuery> {
    const timings: Record<string, number> = {};
    const listing = await this.listingOf(query, timings);
    return this.run(listing, timings);
  }

  /**
   * Checks, decodes and featurises a query's photos: the listing as the predictors read it, with the
   * views its route reads (`views` overrides: up to `this.views.most`, e.g. to answer every route from one pass).
   */
  async listingOf(query: Query, timings: Record<string, number> = {}, views?: number): Promise<ListingInput> {
    const title = (query.title ?? '').trim();
    const description = (query.description ?? '').trim();
    const images = query.images ?? [];
    if (images.length === 0 && !title && !description) {
      throw new InputError(400, 'missing fields: send one or more image files (field "image") and/or a "title" / "description"');
    }
    if (images.length > MAX_PHOTOS) throw new InputError(400, `too many photos: ${images.length} (at most ${MAX_PHOTOS} per listing)`);
    const perPhoto = views ?? (routeOf(images.length, title, description) === 'image+text' ? this.views['image+text'] : this.views.image);
    let t = performance.now();
    const pixels = await Promise.all(images.map((bytes) => decodePhoto(bytes, this.photos.size)));
    if (images.length) timings.decode_ms = performance.now() - t;
    t = performance.now();
    const photos = await Promise.all(pixels.map((rgb) => this.photos.features(rgb, perPhoto)));
    if (images.length) timings.backbone_ms = performance.now() - t;
    return { photos, title, description };
  }

  /** The route a listing takes (photos, text, both) and its predictor's answer. */
  run(listing: ListingInput, timings: Record<string, number> = {}): EncodedQuery {
    const kind = routeOf(listing.photos.length, listing.title, listing.description);
    const t = performance.now();
    const out: EncodedQuery = { kind, listing, predictor: this.fusion, probabilities: new Float32Array(0), timings };
    if (kind === 'text') {
      const [p] = this.text.predict([listing]);
      out.predictor = this.text;
      out.probabilities = p.probabilities;
      out.textEmbedding = p.embedding;
    } else {
      // One pass of the image heads gives the listing's answer and each photo's embedding.
      const [pi] = this.image.predict([listing]);
      out.photoEmbeddings = pi!.photoEmbeddings;
      out.imageEmbedding = pi!.embedding;
      if (kind === 'image') {
        const search = this.search;
        out.photoQueries = search?.whitening ? listing.photos.map((views) => whitenedPhotoQuery(search, views)) : out.photoEmbeddings;
        out.predictor = this.image;
        out.probabilities = pi!.probabilities;
      } else {
        const [pf] = this.fusion.predict([listing], { earlyEmbedding: readsEarlyEmbedding(this.manifest) });
        out.probabilities = pf.probabilities;
        out.textEmbedding = this.text.predict([listing])[0].embedding;
        out.fused = this.fusedVector(out.photoEmbeddings, out.textEmbedding, pf.embedding);
      }
    }
    timings.predictor_ms = performance.now() - t;
    return out;
  }

  /** The fused index's query vector, made as notebook 07 made the gallery's. */
  private fusedVector(photoEmbeddings: Float32Array[], textEmbedding: Float32Array, fusionEmbedding: Float32Array): Float32Array {
    const q = this.manifest.fusedQuery;
    if (q.kind === 'fusion_embedding') return fusionEmbedding;
    // 07's listing image vector: the mean of its photos' embeddings, each normalised first.
    const dim = photoEmbeddings[0].length;
    const image = new Float32Array(dim);
    for (const e of photoEmbeddings) {
      const norm = Math.hypot(...e) || 1;
      for (let j = 0; j < dim; j++) image[j] += e[j] / norm / photoEmbeddings.length;
    }
    return concatVectors([{ vector: image, weight: q.imageWeight }, { vector: textEmbedding, weight: q.textWeight }]);
  }

  /** Class probabilities of the query's predictor, named as in REPORT.md. */
  category(q: EncodedQuery): { model: string; route: QueryKind; probabilities: Record<string, number>; predicted: string } {
    const classes = this.manifest.classes;
    return {
      model: q.predictor.label, route: q.kind, predicted: classes[argmax(q.probabilities)],
      probabilities: Object.fromEntries(classes.map((c, i) => [c, Math.round(q.probabilities[i] * 1e6) / 1e6])),
    };
  }

  /** Top-k listings (distinct), best first. */
  similar(q: EncodedQuery, k: number): { index: IndexName; results: SimilarResult[]; index_ms: number } {
    if (!Number.isInteger(k) || k < 1 || k > MAX_K) throw new InputError(400, `k must be an integer from 1 to ${MAX_K}`);
    const name: IndexName = q.fused ? 'fused' : q.kind === 'image' ? 'image' : 'text';
    const index = this.indexes[name];
    const perPhoto = this.manifest.indexes[name].unit === 'photo';
    const vectors = q.fused ? [q.fused] : q.kind === 'image' ? (q.photoQueries as Float32Array[]) : [q.textEmbedding as Float32Array];
    const choice = this.search?.choice;
    const beta = (name === 'fused' ? choice?.listing.rerankWeight : name === 'image' ? choice?.photo.rerankWeight : 0) ?? 0;
    const t = performance.now();
    // Photo rows: fetch more so k distinct listings remain after keeping each listing's best photo
    // (re-ranked: the nearest PHOTO_SEARCH_DEPTH photos, as 07 re-ranked them); re-ranked listing
    // queries: the 50 nearest, as 07 re-ranked them.
    const depth = perPhoto ? Math.max(k * 4 + 8, beta > 0 ? PHOTO_SEARCH_DEPTH : 0) : beta > 0 ? Math.max(k, RERANK_DEPTH) : k;
    const found = vectors.map((v) => index.index.search(v, Math.min(index.index.size, depth)));
    let rows = found.flatMap((f) => Array.from(f.rows));
    let scores = found.flatMap((f) => Array.from(f.scores));
    let order = rows.map((_, i) => i).sort((a, b) => scores[b] - scores[a]);
    if (beta > 0) {
      // 07's choice: sim + β · p_query(neighbour's category), p from the query's predictor (fusion, or image for photos).
      const classOf = (r: number) => this.manifest.classes.indexOf((this.listings.get(index.rows.listingIds[r]) as ServingListing).category);
      order = rerankByCategory(scores, rows.map(classOf), q.probabilities, beta);
    }
    rows = order.map((i) => rows[i]);
    scores = order.map((i) => scores[i]);
    const kept = dedupeByGroup(rows, scores, (r) => index.rows.listingIds[r], k);
    const indexMs = performance.now() - t;
    const results = kept.rows.map((row, i) => {
      const listing = this.listings.get(index.rows.listingIds[row]) as ServingListing;
      const r: SimilarResult = { id: listing.id, title: listing.title, price: listing.price, category: listing.category, score: Math.round(kept.scores[i] * 1e6) / 1e6 };
      if (perPhoto) r.photo_id = index.rows.ids[row];
      return r;
    });
    return { index: name, results, index_ms: indexMs };
  }
}
