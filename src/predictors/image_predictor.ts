/**
 * Notebook 03's selected image model as a predictor: one or more heads on ResNet-50 features
 * (an ensemble averages their probabilities), views per photo (1 = plain, 2 = plain + mirrored:
 * flip TTA, probabilities averaged), and how a listing's photos combine (the mean of their
 * probabilities, as 03 scores products, or of their log-probabilities).
 *
 * The embedding is the `embedding` layer of one designated head (03 uses its flip-augmented MLP
 * head, also when a linear head or an ensemble is selected), averaged over views and photos —
 * the vectors 03 saves per photo for search.
 *
 * Optional levers of 03 (issue 16), all part of the saved predictor:
 * - `normalization`: every view vector is normalised first (models/feature_norm.ts), for every
 *   head, product heads and the embedder alike (they were all trained on normalised features);
 * - product heads: heads trained on a product's mean (normalised) photo features, one view at a
 *   time; a listing's probabilities are (1 − w) · its photos' aggregate + w · the product heads'
 *   (views and product heads averaged), w = `productHeadWeight`.
 */
import * as path from 'path';
import { tf } from '../tf/runtime';
import { loadModel, saveModel } from '../train/model_io';
import { EMBEDDING_LAYER } from '../models/head';
import { applyFeatureNorm, FeatureNorm } from '../models/feature_norm';
import { artifactHeader } from '../artifacts/registry';
import { ListingInput, ListingPrediction, Predictor, PredictorHeader, readPredictorJson, writePredictorJson } from './predictor';

export type PhotoAggregation = 'mean_probability' | 'mean_log_probability';

export interface ImagePredictorSpec {
  label: string;
  classes: string[];
  featureDim: number;
  /** Backbone views per photo the heads see and average: 1 (plain) or 2 (plain + mirrored). */
  views: 1 | 2;
  aggregate: PhotoAggregation;
  /** Free text: which backbone features (FeatureStore spec) the heads were trained on. */
  features: string;
  /** Normalisation of each view vector before any head (default none). */
  normalization?: FeatureNorm;
  /** Weight of the product heads in the listing's probabilities (needs product heads; default 0.5). */
  productHeadWeight?: number;
}

interface ImageHeader extends PredictorHeader, ImagePredictorSpec {
  kind: 'image';
  heads: string[];
  embedder: string;
  productHeads?: string[];
}

export interface PhotoOutputs {
  /** Per photo: probabilities (views and heads averaged), row-major [photos, classes]. */
  probs: Float32Array;
  /** Per photo: the embedder's embedding (views averaged), row-major [photos, width]. */
  embeddings: Float32Array;
  embeddingWidth: number;
}

export interface ImageListingPrediction extends ListingPrediction {
  photoEmbeddings: Float32Array[];
}

export class ImagePredictor implements Predictor {
  readonly kind = 'image' as const;
  private readonly embeddingRunner: tf.LayersModel;

  /**
   * `heads` give the photos' probabilities (their mean); `embedder`'s `embedding` layer gives the
   * embedding; `productHeads` (optional) read a listing's mean photo features.
   */
  constructor(
    readonly spec: ImagePredictorSpec,
    private readonly heads: tf.LayersModel[],
    private readonly embedder: tf.LayersModel,
    private readonly productHeads: tf.LayersModel[] = [],
  ) {
    if (heads.length === 0) throw new Error('ImagePredictor needs at least one head');
    const w = spec.productHeadWeight ?? 0.5;
    if (productHeads.length > 0 && !(w >= 0 && w <= 1)) throw new Error(`productHeadWeight must lie in [0, 1], got ${w}`);
    this.embeddingRunner = tf.model({ inputs: embedder.inputs, outputs: embedder.getLayer(EMBEDDING_LAYER).output as tf.SymbolicTensor });
  }

  get label(): string {
    return this.spec.label;
  }

  get classes(): readonly string[] {
    return this.spec.classes;
  }

  /** Outputs per photo for photos given as views (each view a featureDim vector; `views` of them per photo). */
  photoOutputs(photos: ReadonlyArray<ReadonlyArray<Float32Array>>): PhotoOutputs {
    return this.outputsOfRows(this.rowsOf(photos), photos.length);
  }

  /** The photos' view vectors as rows [photo × view, featureDim], normalised. */
  private rowsOf(photos: ReadonlyArray<ReadonlyArray<Float32Array>>): Float32Array {
    const d = this.spec.featureDim;
    const v = this.spec.views;
    const x = new Float32Array(photos.length * v * d);
    photos.forEach((views, i) => {
      if (views.length < v) throw new Error(`photo ${i}: ${views.length} view(s), this image model reads ${v}`);
      for (let j = 0; j < v; j++) {
        if (views[j].length !== d) throw new Error(`photo ${i} view ${j}: ${views[j].length} features, expected ${d}`);
        x.set(views[j], (i * v + j) * d);
      }
    });
    return applyFeatureNorm(this.spec.normalization ?? { kind: 'none' }, x, d);
  }

  /** photoOutputs on rows already laid out [photo × view, featureDim] and normalised. */
  private outputsOfRows(x: Float32Array, photoCount: number): PhotoOutputs {
    const d = this.spec.featureDim;
    const v = this.spec.views;
    const k = this.spec.classes.length;
    const probs = new Float32Array(photoCount * k);
    for (const head of this.heads) {
      const p = meanGroups(runRows(head, x, d, true), v, k);
      for (let i = 0; i < probs.length; i++) probs[i] += p[i] / this.heads.length;
    }
    const emb = runRows(this.embeddingRunner, x, d, false);
    const embeddingWidth = emb.length / (photoCount * v);
    return { probs, embeddings: meanGroups(emb, v, embeddingWidth), embeddingWidth };
  }

  /** Per listing: probabilities, embedding, and each photo's embedding (what the per-photo index holds). */
  predict(listings: readonly ListingInput[]): Array<ImageListingPrediction | null> {
    const photos = listings.flatMap((l) => l.photos);
    if (photos.length === 0) return listings.map(() => null);
    const x = this.rowsOf(photos);
    const out = this.outputsOfRows(x, photos.length);
    const counts = listings.map((l) => l.photos.length).filter((n) => n > 0);
    const product = this.productHeads.length > 0 ? this.productProbs(x, counts) : null;
    const w = this.spec.productHeadWeight ?? 0.5;
    const k = this.spec.classes.length;
    let at = 0;
    let listing = 0;
    return listings.map((l) => {
      const n = l.photos.length;
      if (n === 0) return null;
      const probabilities = aggregatePhotos(out.probs.subarray(at * k, (at + n) * k), n, k, this.spec.aggregate);
      if (product) {
        for (let c = 0; c < k; c++) probabilities[c] = (1 - w) * probabilities[c] + w * product[listing * k + c];
      }
      listing++;
      const rows = out.embeddings.subarray(at * out.embeddingWidth, (at + n) * out.embeddingWidth);
      const photoEmbeddings = Array.from({ length: n }, (_, i) => rows.slice(i * out.embeddingWidth, (i + 1) * out.embeddingWidth));
      at += n;
      return { probabilities, embedding: meanGroups(rows, n, out.embeddingWidth), photoEmbeddings };
    });
  }

  /** Product heads' probabilities per listing (`counts` photos each, consecutive in `x`): views and heads averaged. */
  private productProbs(x: Float32Array, counts: readonly number[]): Float32Array {
    const d = this.spec.featureDim;
    const v = this.spec.views;
    const k = this.spec.classes.length;
    // Row (listing, view): the mean of that view over the listing's photos.
    const means = new Float32Array(counts.length * v * d);
    let photo = 0;
    counts.forEach((n, li) => {
      for (let p = 0; p < n; p++, photo++) {
        for (let j = 0; j < v; j++) {
          const src = (photo * v + j) * d;
          const dst = (li * v + j) * d;
          for (let q = 0; q < d; q++) means[dst + q] += x[src + q] / n;
        }
      }
    });
    const probs = new Float32Array(counts.length * k);
    for (const head of this.productHeads) {
      const p = meanGroups(runRows(head, means, d, true), v, k);
      for (let i = 0; i < probs.length; i++) probs[i] += p[i] / this.productHeads.length;
    }
    return probs;
  }

  async save(dir: string): Promise<void> {
    const heads = this.heads.map((_, i) => `head_${i}`);
    for (let i = 0; i < this.heads.length; i++) await saveModel(this.heads[i], path.join(dir, heads[i]));
    const same = this.heads.indexOf(this.embedder);
    const embedder = same >= 0 ? heads[same] : 'embedder';
    if (same < 0) await saveModel(this.embedder, path.join(dir, embedder));
    const productHeads = this.productHeads.map((_, i) => `product_head_${i}`);
    for (let i = 0; i < this.productHeads.length; i++) await saveModel(this.productHeads[i], path.join(dir, productHeads[i]));
    const header: ImageHeader = { ...artifactHeader('image_predictor'), kind: 'image', ...this.spec, heads, embedder, ...(productHeads.length ? { productHeads } : {}) };
    writePredictorJson(dir, { ...header });
  }

  static async load(dir: string): Promise<ImagePredictor> {
    const h = readPredictorJson<ImageHeader>(dir, 'image');
    const heads = await Promise.all(h.heads.map((name) => loadModel(path.join(dir, name))));
    const at = h.heads.indexOf(h.embedder);
    const embedder = at >= 0 ? heads[at] : await loadModel(path.join(dir, h.embedder));
    const productHeads = await Promise.all((h.productHeads ?? []).map((name) => loadModel(path.join(dir, name))));
    const { label, classes, featureDim, views, aggregate, features, normalization, productHeadWeight } = h;
    return new ImagePredictor({ label, classes, featureDim, views, aggregate, features, normalization, productHeadWeight }, heads, embedder, productHeads);
  }

  dispose(): void {
    for (const h of new Set([...this.heads, this.embedder, ...this.productHeads])) h.dispose();
  }
}

/** Rows of `x` (width d) through `model`: softmax of its (logits) output when `softmax`, else its output. Row-major. */
function runRows(model: tf.LayersModel, x: Float32Array, d: number, softmax: boolean, batchSize = 512): Float32Array {
  const n = x.length / d;
  const parts: Float32Array[] = [];
  for (let start = 0; start < n; start += batchSize) {
    const m = Math.min(batchSize, n - start);
    const out = tf.tidy(() => {
      const y = model.apply(tf.tensor2d(x.subarray(start * d, (start + m) * d), [m, d]), { training: false }) as tf.Tensor;
      return softmax ? tf.softmax(y) : y;
    });
    parts.push(out.dataSync() as Float32Array);
    out.dispose();
  }
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** Mean of each group of `group` consecutive rows of width `w`. */
export function meanGroups(values: Float32Array, group: number, w: number): Float32Array {
  const rows = values.length / w / group;
  const out = new Float32Array(rows * w);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < group; g++) {
      const base = (r * group + g) * w;
      for (let j = 0; j < w; j++) out[r * w + j] += values[base + j] / group;
    }
  }
  return out;
}

/** One listing's class probabilities from its n photos' rows: mean of probabilities, or softmax of the mean log-probability. */
export function aggregatePhotos(probs: Float32Array, n: number, k: number, how: PhotoAggregation): Float32Array {
  if (how === 'mean_probability') return meanGroups(probs, n, k);
  const logMean = new Float32Array(k);
  for (let i = 0; i < n; i++) for (let c = 0; c < k; c++) logMean[c] += Math.log(Math.max(probs[i * k + c], 1e-12)) / n;
  let max = -Infinity;
  for (const v of logMean) max = Math.max(max, v);
  let sum = 0;
  const out = new Float32Array(k);
  for (let c = 0; c < k; c++) sum += (out[c] = Math.exp(logMean[c] - max));
  for (let c = 0; c < k; c++) out[c] /= sum;
  return out;
}
