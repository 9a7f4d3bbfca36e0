/**
 * What later notebooks train on: image batches and product rows, by split.
 *
 * Images stay uint8 in memory (a 64 px train split is ~100 MB; float32 would be 4×) and
 * become float32 only one batch at a time, with optional seeded augmentation (horizontal
 * flip, crop-with-pad) applied during that copy. Tensors handed out belong to the caller,
 * who disposes them; nothing else is left allocated in tfjs.
 *
 * Inputs are plain data (cleaned listings, the split, opened image caches), so this module
 * does not care how notebook 00 stored them.
 */
import * as tf from '@tensorflow/tfjs';
import { PROFILE } from '../config';
import { Rng, deriveSeed } from '../rng';
import { subsetForProfile } from './split';
import { Listing, MainCategory, SplitFile, SplitName, SPLIT_NAMES } from './types';

/** Where pixels come from: anything that reads S×S×3 uint8 by image id (an ImageCache does). */
export interface ImagePixelSource {
  readonly size: number;
  has(id: string): boolean;
  readInto(id: string, target: Uint8Array, offset: number): void;
}

export interface ImageExample {
  imageId: string;
  productId: string;
  /** Index into `categories`. */
  label: number;
}

/** A listing with its class index: the row text and table models use. */
export type ProductRow = Listing & { label: number };

/**
 * How uint8 pixels become floats:
 * - 'unit': x/255, in [0, 1] (default);
 * - 'raw': 0..255 as floats;
 * - 'caffe': Keras ResNet50 preprocessing (RGB→BGR, minus ImageNet BGR means, no scaling);
 * - {mean, std}: per RGB channel in [0, 1] units, (x/255 − mean)/std (torchvision style).
 */
export type Normalization = 'unit' | 'raw' | 'caffe' | { mean: [number, number, number]; std: [number, number, number] };

export interface AugmentOptions {
  /** Mirror left-right with probability 1/2. */
  flip?: boolean;
  /** Pad by this many black pixels on every side and crop back to S at a random offset; true = S/8. */
  crop?: number | boolean;
}

export interface ImageBatchOptions {
  size: number;
  batchSize: number;
  shuffle?: boolean;
  /** Seeds the shuffle and the augmentation: pass e.g. `seed + epoch` for a new order each epoch. */
  seed?: number;
  augment?: AugmentOptions;
  normalize?: Normalization;
  /** 'int' (default): y is int32 [B]; 'onehot': y is float32 [B, classes]. */
  labels?: 'int' | 'onehot';
  /** Skip a last batch smaller than batchSize (e.g. for batch-norm training). */
  dropLast?: boolean;
  /**
   * Keep the split's uint8 pixels in memory between calls (default true). False reads each
   * batch from the source instead: for one pass over a big split (224 px features).
   */
  cacheInMemory?: boolean;
}

export interface ImageBatch {
  /** [B, S, S, 3] float32. The caller disposes it. */
  x: tf.Tensor4D;
  /** int32 [B] or one-hot float32 [B, classes]. The caller disposes it. */
  y: tf.Tensor;
  /** Class indices of the batch (plain numbers, nothing to dispose). */
  labels: Int32Array;
  imageIds: string[];
  productIds: string[];
}

export interface MarketplaceDataOptions {
  /** Cleaned listings (their `imageIds` list the usable photos). */
  listings: Listing[];
  split: SplitFile;
  /** Opened image caches, one per size (e.g. ensureImageCache(...).cache). */
  images?: ImagePixelSource[];
  /** Products kept per main category and split (subsetForProfile); default from PROFILE (smoke keeps a few, full all). */
  maxProductsPerCategory?: number | null;
  /** Seeds the smoke subset; default PROFILE.seed. */
  seed?: number;
}

const CAFFE_BGR_MEANS = [103.939, 116.779, 123.68];

export class MarketplaceData {
  /** Main categories, sorted: label i is categories[i]. Taken from all listings, so smoke and full agree. */
  readonly categories: MainCategory[];
  /** Product ids per split, after the profile's subset. */
  readonly products: Record<SplitName, string[]>;
  private readonly listingById = new Map<string, Listing>();
  private readonly labelByCategory = new Map<MainCategory, number>();
  private readonly sources = new Map<number, ImagePixelSource>();
  private readonly pixelCache = new Map<string, Uint8Array>();

  constructor(options: MarketplaceDataOptions) {
    for (const listing of options.listings) this.listingById.set(listing.id, listing);
    this.categories = [...new Set(options.listings.map((l) => l.mainCategory))].sort();
    this.categories.forEach((c, i) => this.labelByCategory.set(c, i));
    for (const source of options.images ?? []) this.sources.set(source.size, source);

    for (const split of SPLIT_NAMES) {
      const ids = options.split.products[split];
      if (!ids) throw new Error(`split file has no '${split}' list of products`);
      for (const id of ids) {
        if (!this.listingById.has(id)) throw new Error(`split '${split}' names product ${id}, which is not among the cleaned listings`);
      }
    }
    const cap = options.maxProductsPerCategory === undefined ? PROFILE.maxProductsPerCategory : options.maxProductsPerCategory;
    const subset = subsetForProfile(options.split, options.listings, cap, options.seed ?? PROFILE.seed);
    this.products = { train: subset.products.train.slice(), val: subset.products.val.slice(), test: subset.products.test.slice() };
  }

  get numClasses(): number {
    return this.categories.length;
  }

  /** Add (or replace) the pixel source for one size, e.g. a cache built after the subset was known. */
  attachImages(source: ImagePixelSource): void {
    this.sources.set(source.size, source);
    this.releasePixels(undefined, source.size);
  }

  /** Image ids of every product in the profile's subset, sorted: the list an image cache stores. */
  imageIds(): string[] {
    return SPLIT_NAMES.flatMap((s) => this.imageExamples(s).map((e) => e.imageId)).sort();
  }

  label(category: MainCategory): number {
    const label = this.labelByCategory.get(category);
    if (label === undefined) throw new Error(`unknown main category '${category}'`);
    return label;
  }

  /** Listings of a split with their label, in split order (text and table models). */
  productRows(split: SplitName): ProductRow[] {
    return this.products[split].map((id) => {
      const listing = this.listingById.get(id) as Listing;
      return { ...listing, label: this.label(listing.mainCategory) };
    });
  }

  /** One example per usable photo of each product in the split (products without photos give none). */
  imageExamples(split: SplitName): ImageExample[] {
    const examples: ImageExample[] = [];
    for (const productId of this.products[split]) {
      const listing = this.listingById.get(productId) as Listing;
      const label = this.label(listing.mainCategory);
      for (const imageId of listing.imageIds) examples.push({ imageId, productId, label });
    }
    return examples;
  }

  imageBatchCount(split: SplitName, batchSize: number, dropLast = false): number {
    const n = this.imageExamples(split).length;
    return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
  }

  /** The split's photos as packed uint8 N×S×S×3, in imageExamples order; kept until releasePixels. */
  pixels(split: SplitName, size: number): Uint8Array {
    const key = `${split}@${size}`;
    let pixels = this.pixelCache.get(key);
    if (!pixels) {
      pixels = this.readPixels(this.imageExamples(split).map((e) => e.imageId), size);
      this.pixelCache.set(key, pixels);
    }
    return pixels;
  }

  /** Frees the uint8 pixels held for a split/size (all of them when called with no arguments). */
  releasePixels(split?: SplitName, size?: number): void {
    for (const key of [...this.pixelCache.keys()]) {
      const [s, z] = key.split('@');
      if ((split === undefined || s === split) && (size === undefined || Number(z) === size)) this.pixelCache.delete(key);
    }
  }

  /**
   * Batches of the split's photos. Each yielded batch's tensors belong to the caller:
   * `for (const b of data.imageBatches('train', {...})) { ...; tf.dispose([b.x, b.y]); }`.
   */
  *imageBatches(split: SplitName, options: ImageBatchOptions): Generator<ImageBatch> {
    const { size, batchSize } = options;
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
    const examples = this.imageExamples(split);
    const bytesPerImage = size * size * 3;
    const inMemory = options.cacheInMemory ?? true;
    const all = inMemory ? this.pixels(split, size) : null;
    if (!all) this.source(size); // fail before the first batch, not inside it

    const rng = new Rng(deriveSeed(options.seed ?? PROFILE.seed, 'batches', split));
    const order = examples.map((_, i) => i);
    if (options.shuffle) rng.shuffleInPlace(order);
    const pad = cropPadding(options.augment?.crop, size);
    const flip = options.augment?.flip ?? false;
    const affine = normalization(options.normalize ?? 'unit');
    const oneHot = options.labels === 'onehot';
    const classes = this.numClasses;

    const end = options.dropLast ? order.length - (order.length % batchSize) : order.length;
    const scratch = all ? null : new Uint8Array(batchSize * bytesPerImage);
    for (let start = 0; start < end; start += batchSize) {
      const picked = order.slice(start, Math.min(start + batchSize, end));
      const n = picked.length;
      const x = new Float32Array(n * bytesPerImage);
      const labels = new Int32Array(n);
      const imageIds: string[] = [];
      const productIds: string[] = [];
      picked.forEach((exampleIndex, k) => {
        const example = examples[exampleIndex];
        let src: Uint8Array;
        let srcOffset: number;
        if (all) {
          src = all;
          srcOffset = exampleIndex * bytesPerImage;
        } else {
          src = scratch as Uint8Array;
          srcOffset = k * bytesPerImage;
          this.source(size).readInto(example.imageId, src, srcOffset);
        }
        // Draw in a fixed order per example so a seed always gives the same batch.
        const mirrored = flip && rng.next() < 0.5;
        const dx = pad > 0 ? rng.int(2 * pad + 1) - pad : 0;
        const dy = pad > 0 ? rng.int(2 * pad + 1) - pad : 0;
        writeImageFloats(src, srcOffset, size, x, k * bytesPerImage, mirrored, dx, dy, affine);
        labels[k] = example.label;
        imageIds.push(example.imageId);
        productIds.push(example.productId);
      });
      let y: tf.Tensor;
      if (oneHot) {
        const hot = new Float32Array(n * classes);
        labels.forEach((label, k) => { hot[k * classes + label] = 1; });
        y = tf.tensor2d(hot, [n, classes]);
      } else {
        y = tf.tensor1d(labels, 'int32');
      }
      yield { x: tf.tensor4d(x, [n, size, size, 3]), y, labels, imageIds, productIds };
    }
  }

  private source(size: number): ImagePixelSource {
    const source = this.sources.get(size);
    if (!source) {
      const have = [...this.sources.keys()].join(', ') || 'none';
      throw new Error(`no ${size} px image cache was given to MarketplaceData (have: ${have}); build it with ensureImageCache`);
    }
    return source;
  }

  private readPixels(imageIds: string[], size: number): Uint8Array {
    const source = this.source(size);
    const bytesPerImage = size * size * 3;
    const out = new Uint8Array(imageIds.length * bytesPerImage);
    imageIds.forEach((id, k) => {
      if (!source.has(id)) throw new Error(`image ${id} is listed in the cleaned listings but is not in the ${size} px image cache: rebuild the cache`);
      source.readInto(id, out, k * bytesPerImage);
    });
    return out;
  }
}

// ---------------------------------------------------------------------------------------

interface Affine {
  /** Output channel c reads input channel order[c] (BGR swaps 0 and 2). */
  order: [number, number, number];
  scale: [number, number, number];
  bias: [number, number, number];
}

function normalization(norm: Normalization): Affine {
  if (norm === 'unit') return { order: [0, 1, 2], scale: [1 / 255, 1 / 255, 1 / 255], bias: [0, 0, 0] };
  if (norm === 'raw') return { order: [0, 1, 2], scale: [1, 1, 1], bias: [0, 0, 0] };
  if (norm === 'caffe') {
    return { order: [2, 1, 0], scale: [1, 1, 1], bias: [-CAFFE_BGR_MEANS[0], -CAFFE_BGR_MEANS[1], -CAFFE_BGR_MEANS[2]] };
  }
  const { mean, std } = norm;
  if (std.some((s) => !(s > 0))) throw new Error(`normalisation std must be positive, got [${std.join(', ')}]`);
  return {
    order: [0, 1, 2],
    scale: [1 / (255 * std[0]), 1 / (255 * std[1]), 1 / (255 * std[2])],
    bias: [-mean[0] / std[0], -mean[1] / std[1], -mean[2] / std[2]],
  };
}

function cropPadding(crop: number | boolean | undefined, size: number): number {
  if (crop === undefined || crop === false) return 0;
  const pad = crop === true ? Math.round(size / 8) : crop;
  if (!Number.isInteger(pad) || pad < 0 || pad >= size) throw new Error(`crop padding must be an integer in [0, ${size}), got ${crop}`);
  return pad;
}

/**
 * Copies one S×S×3 uint8 image into floats: shifted by (dx, dy) with black outside the
 * image (crop-with-pad), optionally mirrored, then normalised per channel.
 */
function writeImageFloats(
  src: Uint8Array, srcOffset: number, size: number,
  out: Float32Array, outOffset: number,
  mirrored: boolean, dx: number, dy: number, affine: Affine,
): void {
  const { order, scale, bias } = affine;
  const row = size * 3;
  for (let y = 0; y < size; y++) {
    const sy = y + dy;
    const rowInside = sy >= 0 && sy < size;
    for (let x = 0; x < size; x++) {
      const sx = (mirrored ? size - 1 - x : x) + dx;
      const o = outOffset + y * row + x * 3;
      if (rowInside && sx >= 0 && sx < size) {
        const s = srcOffset + sy * row + sx * 3;
        out[o] = src[s + order[0]] * scale[0] + bias[0];
        out[o + 1] = src[s + order[1]] * scale[1] + bias[1];
        out[o + 2] = src[s + order[2]] * scale[2] + bias[2];
      } else {
        // Padding is black, normalised like a black pixel.
        out[o] = bias[0];
        out[o + 1] = bias[1];
        out[o + 2] = bias[2];
      }
    }
  }
}
