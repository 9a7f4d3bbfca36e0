/**
 * The search service's logic, without HTTP: load a serving bundle (src/serve/bundle.ts), encode a
 * query listing (a photo, a text, or both), predict its category, and rank similar listings.
 *
 * Which index answers a query:
 *   photo + text → `fused` (one row per listing: normalised image ⊕ text embedding, weighted);
 *   photo only   → `image` (one row per photo; a listing is ranked by its best-matching photo);
 *   text only    → `text`  (one row per listing).
 * /predict/category: the image head's probabilities, the text CNN's, or their mean for both.
 */
import * as path from 'path';
import { initTf } from '../tf/runtime';
import { concatVectors } from '../search/embedding_set';
import { UsearchIndex } from '../search/usearch_index';
import { dedupeByGroup } from '../search/retrieval';
import { IndexName, IndexRows, readJson, readManifest, ServingListing, ServingManifest } from './bundle';
import { decodePhoto, Encoded, EncodedPhoto, ImageEncoder, InputError, TextEncoder } from './encoders';
import { loadModel } from '../train/model_io';
import { FusionManifest, FusionPredictor } from '../models/fusion';

export interface Query {
  /** 0 to MAX_PHOTOS photos of the listing (server.ts). */
  images: Buffer[];
  title?: string;
  description?: string;
}

export interface EncodedQuery {
  kind: 'image' | 'text' | 'image+text';
  image?: EncodedPhoto;
  text?: Encoded;
  /** The fused embedding (both parts only). */
  fused?: Float32Array;
  /** The fusion model's probabilities (both parts, when the bundle has notebook 05's model). */
  fusedProbabilities?: Float32Array;
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

export const MAX_K = 50;

export class SearchService {
  private constructor(
    readonly dir: string,
    readonly manifest: ServingManifest,
    private readonly image: ImageEncoder,
    private readonly text: TextEncoder,
    private readonly indexes: Record<IndexName, LoadedIndex>,
    private readonly listings: Map<string, ServingListing>,
    private readonly fusionModel: FusionPredictor | null,
    readonly loadSeconds: number,
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
    const image = await ImageEncoder.create(manifest, dir, options);
    let text: TextEncoder;
    try {
      text = await TextEncoder.create(manifest, dir);
    } catch (err) {
      await image.release();
      throw err;
    }
    let fusionModel: FusionPredictor | null = null;
    if (manifest.fusion.kind === 'model') {
      fusionModel = FusionPredictor.fromModel(await loadModel(path.resolve(dir, manifest.fusion.model)), readJson<FusionManifest>(dir, manifest.fusion.manifest));
    }
    return new SearchService(dir, manifest, image, text, indexes, listings, fusionModel, (performance.now() - t0) / 1000);
  }

  async close(): Promise<void> {
    await this.image.release();
    this.text.dispose();
    this.fusionModel?.model.dispose();
  }

  /** What /healthcheck reports. */
  info(): Record<string, unknown> {
    return {
      profile: this.manifest.profile,
      bundle: this.dir,
      created: this.manifest.created,
      listings: this.listings.size,
      classes: this.manifest.classes.length,
      indexes: Object.fromEntries(Object.values(this.indexes).map((i) => [i.name, { rows: i.index.size, dim: i.index.dim, unit: this.manifest.indexes[i.name].unit, embedding: this.manifest.indexes[i.name].embedding }])),
      fusion: this.manifest.fusion.kind === 'model' ? 'notebook 05 early-fusion model (fused_embedding layer)' :
        `concatenation of the normalised image and text embeddings (weights ${this.manifest.fusion.imageWeight.toFixed(2)} / ${this.manifest.fusion.textWeight.toFixed(2)})`,
      image_model: this.image.describe(),
      text_model: this.text.describe(),
      load_seconds: Math.round(this.loadSeconds * 100) / 100,
    };
  }

  /** Encodes whatever the query holds; 400 when it holds neither a photo nor any text. */
  async encode(query: Query): Promise<EncodedQuery> {
    const title = (query.title ?? '').trim();
    const description = (query.description ?? '').trim();
    const hasText = title.length > 0 || description.length > 0;
    const image = query.images[0]; // (one photo for now: multi-photo aggregation comes with the service rewrite)
    if (!image && !hasText) {
      throw new InputError(400, 'missing fields: send an image file (field "image") and/or a "title" / "description"');
    }
    const timings: Record<string, number> = {};
    const out: EncodedQuery = { kind: image && hasText ? 'image+text' : image ? 'image' : 'text', timings };
    if (image) {
      let t = performance.now();
      const rgb = await decodePhoto(image, this.manifest.image.size);
      timings.decode_ms = performance.now() - t;
      t = performance.now();
      out.image = await this.image.encode(rgb);
      timings.image_model_ms = performance.now() - t;
    }
    if (hasText) {
      const t = performance.now();
      out.text = this.text.encode(title, description);
      timings.text_model_ms = performance.now() - t;
    }
    if (out.image && out.text) {
      const fusion = this.manifest.fusion;
      if (fusion.kind === 'model' && this.fusionModel) {
        const t = performance.now();
        const [p] = this.fusionModel.predict([{ imageFeatures: out.image.views, textEmbedding: out.text.embedding }]);
        out.fused = p.embedding;
        out.fusedProbabilities = Float32Array.from(p.probs);
        timings.fusion_model_ms = performance.now() - t;
      } else if (fusion.kind === 'concat') {
        out.fused = concatVectors([
          { vector: out.image.embedding, weight: fusion.imageWeight },
          { vector: out.text.embedding, weight: fusion.textWeight },
        ]);
      }
    }
    return out;
  }

  /** Class probabilities: image head, text CNN, or their mean. */
  category(q: EncodedQuery): { source: string; probabilities: Record<string, number>; predicted: string } {
    let probs: Float32Array;
    let source: string;
    if (q.fusedProbabilities) {
      probs = q.fusedProbabilities;
      source = 'fusion model (notebook 05)';
    } else if (q.image && q.text) {
      probs = q.image.probabilities.map((p, i) => (p + (q.text as Encoded).probabilities[i]) / 2);
      source = 'mean of the image head and text CNN probabilities';
    } else if (q.image) {
      probs = q.image.probabilities;
      source = 'image head (ResNet-50 features, flip TTA)';
    } else {
      probs = (q.text as Encoded).probabilities;
      source = 'text CNN';
    }
    let best = 0;
    for (let i = 1; i < probs.length; i++) if (probs[i] > probs[best]) best = i;
    const classes = this.manifest.classes;
    return { source, predicted: classes[best], probabilities: Object.fromEntries(classes.map((c, i) => [c, Math.round(probs[i] * 1e6) / 1e6])) };
  }

  /** The index that answers a query of this kind, and the vector to search with. */
  private route(q: EncodedQuery): { index: LoadedIndex; vector: Float32Array } {
    if (q.fused) return { index: this.indexes.fused, vector: q.fused };
    if (q.image) return { index: this.indexes.image, vector: q.image.embedding };
    return { index: this.indexes.text, vector: (q.text as Encoded).embedding };
  }

  /** Top-k listings (distinct), best first. */
  similar(q: EncodedQuery, k: number): { index: IndexName; results: SimilarResult[]; index_ms: number } {
    if (!Number.isInteger(k) || k < 1 || k > MAX_K) throw new InputError(400, `k must be an integer from 1 to ${MAX_K}`);
    const { index, vector } = this.route(q);
    const perListing = this.manifest.indexes[index.name].unit === 'photo';
    const t = performance.now();
    // Photo rows: fetch more so k distinct listings remain after keeping each listing's best photo.
    const found = index.index.search(vector, Math.min(index.index.size, perListing ? k * 4 + 8 : k));
    const kept = dedupeByGroup(found.rows, found.scores, (r) => index.rows.listingIds[r], k);
    const indexMs = performance.now() - t;
    const results = kept.rows.map((row, i) => {
      const listing = this.listings.get(index.rows.listingIds[row]) as ServingListing;
      const r: SimilarResult = { id: listing.id, title: listing.title, price: listing.price, category: listing.category, score: Math.round(kept.scores[i] * 1e6) / 1e6 };
      if (perListing) r.photo_id = index.rows.ids[row];
      return r;
    });
    return { index: index.name, results, index_ms: indexMs };
  }
}
