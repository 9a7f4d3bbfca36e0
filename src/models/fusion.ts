/**
 * Image + text fusion (notebook 05): the early-fusion network, its inputs and late fusion.
 *
 * **Early fusion** (the seeds' combined model): each branch is brought to the same width and
 * the two are concatenated, then one linear classifier:
 *
 *   image features [2048] → dropout → Dense(128, ReLU) 'image_branch' ┐
 *                                                                      ├ concatenate = 'fused_embedding' [256]
 *   text embedding [128]  → dropout → Dense(128, ReLU) 'text_branch'  ┘   → dropout → Dense(13) logits
 *
 * Inputs:
 * - the image side is the frozen ResNet-50 avg_pool vector (2048-d, never fitted to this data)
 *   of the product's photos, **combined by averaging**: the mean over every photo of the product
 *   and over both views (plain and mirrored) — `combinePhotos`. The mean does not depend on the
 *   number or order of photos, and a product with one photo gets that photo's vector. A product
 *   with no photo gets the zero vector, which the model has learnt to read as "no image"
 *   (training drops the image of a fraction of products: `imageDrop`).
 * - the text side is notebook 04's 128-d text-CNN embedding of title + description.
 *
 * The text CNN was trained on the training listings, so their embeddings are more separable than
 * those of unseen listings: a fusion classifier fitted on them learns to trust text more than it
 * should. `textDrop` (modality dropout) zeroes the whole text input of a fraction of training
 * products, so the image branch has to carry those on its own; the drop rate is chosen on
 * validation, whose embeddings are honest.
 *
 * **Late fusion**: the weighted average of the image model's and the text model's class
 * probabilities (`lateFusionProbs`), the weight tuned on validation (src/text/ensemble.ts); a
 * product without photos gets the text probabilities.
 *
 * What notebook 05 selects is saved and served as a FusionPredictor (src/predictors/).
 */
import { deriveSeed, Rng } from '../rng';
import { tf } from '../tf/runtime';
import { trainModel, TrainResult } from '../train/loop';
import type { TrainSettings } from '../train/step';
import type { EpochLogs } from '../train/epoch_record';
import { FeatureDense } from './head';
import { seededDropout } from './seeded_dropout';

export const FUSION_EMBEDDING_LAYER = 'fused_embedding';
export const FUSION_INPUTS = { image: 'image_features', text: 'text_embedding' } as const;
/** How several photos (and views) of one product become one image vector, in words (for metadata). */
export const PHOTO_COMBINATION = 'mean of the ResNet-50 avg_pool vectors over all photos of the product and both views (plain, mirrored); zero vector when the product has no photo';

export interface FusionConfig {
  imageDim: number;
  textDim: number;
  numClasses: number;
  /** Width each branch is brought to (the fused embedding is 2 × this). */
  branchWidth: number;
  /** Dropout on the image features and on the text embedding (inputs). */
  imageInputDropout: number;
  textInputDropout: number;
  /** Dropout on the fused embedding, before the classifier. */
  dropout: number;
  seed: number;
}

function checkRate(name: string, v: number): void {
  if (!(v >= 0 && v < 1)) throw new Error(`fusion: ${name} must be in [0, 1), got ${v}`);
}

/** The early-fusion network (logits output). Inputs: [image [B, imageDim], text [B, textDim]]. */
export function buildFusionModel(config: FusionConfig): tf.LayersModel {
  const { imageDim, textDim, numClasses, branchWidth, seed } = config;
  if (!(imageDim > 0 && textDim > 0 && branchWidth > 0 && numClasses > 1)) {
    throw new Error(`fusion: dims ${imageDim}/${textDim}, width ${branchWidth} and classes ${numClasses} must be positive (classes ≥ 2)`);
  }
  checkRate('imageInputDropout', config.imageInputDropout);
  checkRate('textInputDropout', config.textInputDropout);
  checkRate('dropout', config.dropout);
  const image = tf.input({ shape: [imageDim], name: FUSION_INPUTS.image });
  const text = tf.input({ shape: [textDim], name: FUSION_INPUTS.text });
  const branch = (x: tf.SymbolicTensor, rate: number, name: string): tf.SymbolicTensor => {
    let h = x;
    if (rate > 0) h = seededDropout(rate, `${name}_input_dropout`, seed, 'fusion').apply(h) as tf.SymbolicTensor;
    return new FeatureDense({ units: branchWidth, activation: 'relu', init: 'he', seed: deriveSeed(seed, 'fusion', name), name }).apply(h) as tf.SymbolicTensor;
  };
  const fused = tf.layers.concatenate({ axis: -1, name: FUSION_EMBEDDING_LAYER })
    .apply([branch(image, config.imageInputDropout, 'image_branch'), branch(text, config.textInputDropout, 'text_branch')]) as tf.SymbolicTensor;
  let x = fused;
  if (config.dropout > 0) x = seededDropout(config.dropout, 'fused_dropout', seed, 'fusion').apply(x) as tf.SymbolicTensor;
  const logits = new FeatureDense({ units: numClasses, init: 'glorot', seed: deriveSeed(seed, 'fusion', 'logits'), name: 'logits' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: [image, text], outputs: logits, name: 'early_fusion' });
}

// ---------------------------------------------------------------------------------------
// Inputs

/** Anything that copies one photo's feature vector into a buffer (a FeatureStore fits). */
export interface PhotoFeatureSource {
  readonly dim: number;
  readInto(imageId: string, out: Float32Array, offset?: number): void;
}

/**
 * The product's image vector: the mean over its photos × views (`views` = [plain store] or
 * [plain, mirrored]). Written into `out` at `offset`; returns false (and writes zeros) when the
 * product has no photo.
 */
export function combinePhotos(imageIds: readonly string[], views: readonly PhotoFeatureSource[], out: Float32Array, offset = 0): boolean {
  if (views.length === 0) throw new Error('combinePhotos: no feature source');
  const dim = views[0].dim;
  if (views.some((v) => v.dim !== dim)) throw new Error('combinePhotos: the views differ in width');
  out.fill(0, offset, offset + dim);
  if (imageIds.length === 0) return false;
  const scratch = new Float32Array(dim);
  for (const id of imageIds) {
    for (const view of views) {
      view.readInto(id, scratch, 0);
      for (let j = 0; j < dim; j++) out[offset + j] += scratch[j];
    }
  }
  const n = imageIds.length * views.length;
  for (let j = 0; j < dim; j++) out[offset + j] /= n;
  return true;
}

/** Mean of vectors given directly (a service's photos: one Float32Array per photo or view). */
export function meanVector(vectors: readonly ArrayLike<number>[], dim: number): Float32Array {
  const out = new Float32Array(dim);
  if (vectors.length === 0) return out;
  for (const v of vectors) {
    if (v.length !== dim) throw new Error(`meanVector: a vector has ${v.length} values, expected ${dim}`);
    for (let j = 0; j < dim; j++) out[j] += v[j];
  }
  for (let j = 0; j < dim; j++) out[j] /= vectors.length;
  return out;
}

/** The fusion inputs of a set of products, one row each. */
export interface FusionRows {
  productIds: string[];
  labels: number[];
  imageDim: number;
  textDim: number;
  /** Inference view: mean over photos and both views (n × imageDim). */
  image: Float32Array;
  /** Training views (optional): mean over photos of the plain / the mirrored features. */
  imagePlain?: Float32Array;
  imageMirrored?: Float32Array;
  /** 1 when the product has at least one photo. */
  hasImage: Uint8Array;
  text: Float32Array;
}

export interface ProductInput {
  productId: string;
  label: number;
  imageIds: readonly string[];
}

/**
 * Fusion rows for products: image vectors from `plain` (and `mirrored`) photo features, the
 * text embedding from `textOf` (throws when a product has none: every listing has text).
 * With `trainingViews`, also keeps the per-view means used for flip augmentation.
 */
export function buildFusionRows(
  products: readonly ProductInput[],
  sources: { plain: PhotoFeatureSource; mirrored?: PhotoFeatureSource },
  textOf: (productId: string) => ArrayLike<number> | undefined,
  textDim: number,
  options: { trainingViews?: boolean } = {},
): FusionRows {
  const n = products.length;
  const imageDim = sources.plain.dim;
  const views = sources.mirrored ? [sources.plain, sources.mirrored] : [sources.plain];
  const rows: FusionRows = {
    productIds: products.map((p) => p.productId), labels: products.map((p) => p.label), imageDim, textDim,
    image: new Float32Array(n * imageDim), hasImage: new Uint8Array(n), text: new Float32Array(n * textDim),
  };
  if (options.trainingViews) {
    rows.imagePlain = new Float32Array(n * imageDim);
    rows.imageMirrored = new Float32Array(n * imageDim);
  }
  products.forEach((p, i) => {
    rows.hasImage[i] = combinePhotos(p.imageIds, views, rows.image, i * imageDim) ? 1 : 0;
    if (rows.imagePlain && rows.imageMirrored) {
      combinePhotos(p.imageIds, [sources.plain], rows.imagePlain, i * imageDim);
      combinePhotos(p.imageIds, [sources.mirrored ?? sources.plain], rows.imageMirrored, i * imageDim);
    }
    const t = textOf(p.productId);
    if (!t) throw new Error(`no text embedding for product ${p.productId}: re-run notebook 04 in this profile`);
    if (t.length !== textDim) throw new Error(`text embedding of ${p.productId} has ${t.length} values, expected ${textDim}`);
    rows.text.set(t, i * textDim);
  });
  return rows;
}

export interface FusionAugment {
  /** Draw each product's plain or mirrored image mean at random (needs rows.imagePlain/imageMirrored). */
  flip?: boolean;
  /** Probability of zeroing a training product's whole text embedding (modality dropout). */
  textDrop?: number;
  /** Probability of zeroing a training product's whole image vector (teaches "no photo"). */
  imageDrop?: number;
}

export interface FusionBatch {
  x: [tf.Tensor2D, tf.Tensor2D];
  y: tf.Tensor1D;
}

/**
 * Batches {x: [image, text], y} over the rows (the loop disposes them). With `augment`, each
 * row's image view and modality drops are drawn from a generator seeded by `seed`, so an epoch
 * is reproducible. The two modalities are never dropped together: when both draws say drop,
 * only the text is dropped.
 */
export function* fusionBatches(
  rows: FusionRows,
  options: { batchSize: number; shuffle?: boolean; seed?: number; augment?: FusionAugment },
): Generator<FusionBatch> {
  const n = rows.labels.length;
  const { imageDim, textDim } = rows;
  const aug = options.augment ?? {};
  if (aug.flip && !(rows.imagePlain && rows.imageMirrored)) throw new Error('fusionBatches: flip augmentation needs rows built with trainingViews');
  checkRate('textDrop', aug.textDrop ?? 0);
  checkRate('imageDrop', aug.imageDrop ?? 0);
  const rng = new Rng(deriveSeed(options.seed ?? 0, 'fusion-batches'));
  const order = Array.from({ length: n }, (_, i) => i);
  if (options.shuffle) rng.shuffleInPlace(order);
  for (let start = 0; start < n; start += options.batchSize) {
    const picked = order.slice(start, start + options.batchSize);
    const img = new Float32Array(picked.length * imageDim);
    const txt = new Float32Array(picked.length * textDim);
    const y = new Int32Array(picked.length);
    picked.forEach((row, k) => {
      let source = rows.image;
      if (aug.flip) source = rng.next() < 0.5 ? (rows.imagePlain as Float32Array) : (rows.imageMirrored as Float32Array);
      const dropText = (aug.textDrop ?? 0) > 0 && rng.next() < (aug.textDrop as number);
      const dropImage = !dropText && (aug.imageDrop ?? 0) > 0 && rng.next() < (aug.imageDrop as number);
      if (!dropImage) img.set(source.subarray(row * imageDim, (row + 1) * imageDim), k * imageDim);
      if (!dropText) txt.set(rows.text.subarray(row * textDim, (row + 1) * textDim), k * textDim);
      y[k] = rows.labels[row];
    });
    yield { x: [tf.tensor2d(img, [picked.length, imageDim]), tf.tensor2d(txt, [picked.length, textDim])], y: tf.tensor1d(y, 'int32') };
  }
}

/** Class probabilities and fused embeddings of every row (inference mode: no dropout, no augmentation). */
export function fusionOutputs(model: tf.LayersModel, image: Float32Array, text: Float32Array, batchSize = 512): { probs: number[][]; embeddings: Float32Array; width: number } {
  const imageDim = model.inputs[0].shape[1] as number;
  const textDim = model.inputs[1].shape[1] as number;
  const n = image.length / imageDim;
  if (!Number.isInteger(n) || text.length !== n * textDim) throw new Error(`fusionOutputs: ${image.length} image values and ${text.length} text values do not make rows of ${imageDim} + ${textDim}`);
  const both = tf.model({ inputs: model.inputs, outputs: [model.getLayer(FUSION_EMBEDDING_LAYER).output as tf.SymbolicTensor, model.outputs[0]] });
  const width = both.outputs[0].shape[1] as number;
  const embeddings = new Float32Array(n * width);
  const probs: number[][] = [];
  for (let start = 0; start < n; start += batchSize) {
    const m = Math.min(batchSize, n - start);
    const [emb, p] = tf.tidy(() => {
      const out = both.apply([
        tf.tensor2d(image.subarray(start * imageDim, (start + m) * imageDim), [m, imageDim]),
        tf.tensor2d(text.subarray(start * textDim, (start + m) * textDim), [m, textDim]),
      ], { training: false }) as tf.Tensor[];
      return [out[0], tf.softmax(out[1])];
    });
    embeddings.set(emb.dataSync() as Float32Array, start * width);
    const pd = p.dataSync() as Float32Array;
    const k = pd.length / m;
    for (let i = 0; i < m; i++) probs.push(Array.from(pd.subarray(i * k, (i + 1) * k)));
    tf.dispose([emb, p]);
  }
  return { probs, embeddings, width };
}

export interface TrainFusionOptions {
  /** Checkpoint stage name (outputs/models/<profile>/<stage>/<hash>). */
  stage: string;
  fusion: FusionConfig;
  train: FusionRows;
  val: FusionRows;
  augment: FusionAugment;
  settings: TrainSettings;
  batchSize: number;
  /** What else defines the run (feature keys, text features, subset…), hashed into the checkpoint key. */
  config?: Record<string, unknown>;
  onEpochEnd?: (epoch: number, logs: EpochLogs) => void;
  quiet?: boolean;
  modelsDir?: string;
}

/** Builds the early-fusion model and trains it with the shared loop (checkpointed: a finished run is reloaded). */
export async function trainFusion(options: TrainFusionOptions): Promise<{ model: tf.LayersModel; result: TrainResult }> {
  const { train, val, fusion, batchSize, augment } = options;
  const model = buildFusionModel(fusion);
  const result = await trainModel({
    ...options.settings,
    stage: options.stage,
    model,
    config: { fusion, augment, batchSize, n: train.labels.length, ...(options.config ?? {}) },
    trainBatches: (epoch) => fusionBatches(train, { batchSize, shuffle: true, seed: deriveSeed(fusion.seed, epoch), augment }),
    valBatches: () => fusionBatches(val, { batchSize: 1024 }),
    stepsPerEpoch: Math.ceil(train.labels.length / batchSize),
    onEpochEnd: options.onEpochEnd,
    quiet: options.quiet,
    modelsDir: options.modelsDir,
  });
  return { model, result };
}

// ---------------------------------------------------------------------------------------
// Late fusion

/**
 * Probability rows of `pred` in the order of `productIds`; null for a product `pred` does not
 * have (e.g. an image model for a product without photos).
 */
export function alignProbs(pred: { productIds: string[]; probs: number[][] }, productIds: readonly string[]): Array<number[] | null> {
  const at = new Map(pred.productIds.map((id, i) => [id, i]));
  return productIds.map((id) => {
    const i = at.get(id);
    return i === undefined ? null : pred.probs[i];
  });
}

/** w·image + (1 − w)·text per product; the text row alone where there is no image row. */
export function lateFusionProbs(image: ReadonlyArray<ArrayLike<number> | null>, text: ReadonlyArray<ArrayLike<number>>, weightImage: number): number[][] {
  if (!(weightImage >= 0 && weightImage <= 1)) throw new Error(`late fusion weight must be in [0, 1], got ${weightImage}`);
  if (image.length !== text.length) throw new Error(`lateFusionProbs: ${image.length} image rows vs ${text.length} text rows`);
  return text.map((t, i) => {
    const im = image[i];
    if (!im) return Array.from(t);
    if (im.length !== t.length) throw new Error(`lateFusionProbs: row ${i} has ${im.length} vs ${t.length} classes`);
    return Array.from(t, (v, k) => weightImage * im[k] + (1 - weightImage) * v);
  });
}
