/**
 * The service's inputs, checked and turned into what the predictors read:
 *
 * - `decodePhoto`: bytes → sharp decode with the training cache's recipe (toRgbSquare:
 *   auto-orient, flatten, fit 'contain' at the top left on black, lanczos3, 224 px RGB);
 * - `PhotoFeaturizer`: those pixels → ResNet-50 avg_pool features per view, as the feature
 *   cache holds them (int8 when notebook 03 chose it: src/backbone/int8.ts servingBackbone;
 *   concurrent requests' views micro-batched into one backbone call) (the predictors in src/predictors/ do the rest, text included).
 *
 * Bad input is reported with an `InputError` (status 4xx and a reason), never a crash.
 */
import * as path from 'path';
import sharp, { Metadata } from 'sharp';
import { toRgbSquare } from '../data/images';
import { caffePreprocess } from '../backbone/resnet_tfjs';
import { OnnxBackbone } from '../backbone/onnx_backbone';
import { servingBackbone, ServingBackbone } from '../backbone/int8';
import { MicroBatcher, QueueFullError } from './micro_batcher';
import type { ServingManifest } from './bundle';
import { checkPhotoHeader, decodeGuard } from './photo_limits';
import { InputError } from './input_error';


/** Image formats sharp decodes that a listing photo may come in. */
const IMAGE_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif']);
/** Decompression-bomb guard: refuse photos above this many pixels before decoding them. */
export const MAX_IMAGE_PIXELS = 40_000_000;

/**
 * Checks that `bytes` are a decodable photo and returns its size×size RGB pixels (the training
 * cache's recipe). 415 when it is not an image at all, 413 when its header declares too many
 * pixels, too long a side or too elongated a shape (photo_limits.ts: checked before decoding),
 * 400 when it is damaged.
 */
export async function decodePhoto(bytes: Buffer, size: number): Promise<Buffer> {
  const meta = await checkPhotoHeader(bytes);
  try {
    return await toRgbSquare(bytes, size, decodeGuard());
  } catch (err) {
    throw new InputError(400, `corrupt image: the ${meta.format} data cannot be decoded (${(err as Error).message.split(': ').pop()})`);
  }
}

/** One view of a photo waiting for the backbone: its decoded pixels, plain or mirrored. */
interface PhotoView {
  rgb: Uint8Array;
  mirrored: boolean;
}

/** Views per backbone call (micro-batch). */
export const PHOTO_BATCH = 16;
/**
 * Views that may wait for the backbone: at least the server's photo concurrency × MAX_PHOTOS × 2
 * views (test/serve.test.ts checks it), so the batcher never refuses what the work queue admitted.
 */
export const PHOTO_BATCH_QUEUE = 96;

/**
 * Photo bytes → backbone features, exactly as the feature cache was filled: decoded pixels →
 * Keras "caffe" preprocessing, plain (and mirrored when the predictors read two views) →
 * ResNet-50 avg_pool on onnxruntime (worker threads, so the request loop stays free; the views
 * of concurrent requests share one backbone call).
 */
export class PhotoFeaturizer {
  private constructor(
    private readonly backbone: OnnxBackbone,
    private readonly m: ServingManifest['backbone'],
    readonly views: number,
    private readonly choice: ServingBackbone,
    private readonly batcher: MicroBatcher<PhotoView, Float32Array>,
  ) {}

  /**
   * Starts the backbone: by default ONE worker thread whose session uses every core, so a
   * micro-batch runs on both cores at once (on 2 cores, int8: about 14 ms for 2 views against 23 ms
   * on a one-thread worker, the same throughput at full load), then runs one full
   * batch of blank views so onnxruntime sizes its memory arena at start, not under load.
   */
  static async create(manifest: ServingManifest, dir: string, views: number, options: { workers?: number } = {}): Promise<PhotoFeaturizer> {
    const m = manifest.backbone;
    const choice = servingBackbone(path.resolve(dir, m.onnx), views === 2);
    const backbone = await OnnxBackbone.fromModelFile({
      file: choice.file, inputName: m.inputName, outputNames: [m.output], inputShape: ['N', m.size, m.size, 3],
    }, { workers: options.workers ?? 1 });
    const s = m.size;
    const per = s * s * 3;
    // One blank batch per worker at once (each goes to the least busy worker, so every one warms up).
    await Promise.all(Array.from({ length: Math.max(1, backbone.workers) }, () => backbone.runReusing(PHOTO_BATCH, PHOTO_BATCH, () => undefined)));
    const batcher = new MicroBatcher<PhotoView, Float32Array>({
      windowMs: 3, maxBatch: PHOTO_BATCH, maxConcurrent: Math.max(1, backbone.workers), maxQueue: PHOTO_BATCH_QUEUE,
      run: async (views) => {
        // Each view's caffe floats are written straight into the batch's (reused) input buffer.
        const out = (await backbone.runReusing(views.length, PHOTO_BATCH,
          (x) => views.forEach((v, i) => caffePreprocess(v.rgb, 1, s, x.subarray(i * per, (i + 1) * per), v.mirrored))))[m.output].data;
        return views.map((_, i) => out.slice(i * m.featureDim, (i + 1) * m.featureDim));
      },
    });
    return new PhotoFeaturizer(backbone, m, views, choice, batcher);
  }

  get size(): number {
    return this.m.size;
  }

  describe(): string {
    return `ResNet-50 ${this.m.output}, ${this.choice.precision} (${this.choice.reason.split(',')[0]}), up to ${this.views} view(s) per photo, ` +
      `micro-batches of up to ${this.batcher.maxBatch} views; ${this.backbone.describe()}`;
  }

  /**
   * Feature vectors of one photo (its pixels from decodePhoto): [plain] or [plain, mirrored] — the
   * first `views` of them (at most the featuriser's). 503 when the backbone queue is full.
   */
  async features(rgb: Uint8Array, views: number = this.views): Promise<Float32Array[]> {
    if (!Number.isInteger(views) || views < 1 || views > this.views) throw new Error(`features: ${views} views asked, this featuriser runs 1 to ${this.views}`);
    return Promise.all(Array.from({ length: views }, (_, v) => this.batcher.submit({ rgb, mirrored: v === 1 })))
      .catch((err: unknown) => {
        throw err instanceof QueueFullError ? new InputError(503, err.message) : err;
      });
  }

  async release(): Promise<void> {
    await this.backbone.release();
  }
}
