/**
 * The service's inputs, checked and turned into what the predictors read:
 *
 * - `decodePhoto`: bytes → sharp decode with the training cache's recipe (toRgbSquare:
 *   auto-orient, flatten, fit 'contain' at the top left on black, lanczos3, 224 px RGB);
 * - `PhotoFeaturizer`: those pixels → ResNet-50 avg_pool features per view, as the feature
 *   cache holds them (the predictors in src/predictors/ do the rest, text included).
 *
 * Bad input is reported with an `InputError` (status 4xx and a reason), never a crash.
 */
import * as path from 'path';
import sharp, { Metadata } from 'sharp';
import { toRgbSquare } from '../data/images';
import { caffePreprocess } from '../backbone/resnet_tfjs';
import { OnnxBackbone } from '../backbone/onnx_backbone';
import type { ServingManifest } from './bundle';

/** A client error: HTTP status + a reason for the response body. */
export class InputError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Image formats sharp decodes that a listing photo may come in. */
const IMAGE_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif']);
/** Decompression-bomb guard: refuse photos above this many pixels before decoding them. */
export const MAX_IMAGE_PIXELS = 40_000_000;

/**
 * Checks that `bytes` are a decodable photo and returns its size×size RGB pixels (the training
 * cache's recipe). 415 when it is not an image at all, 400 when it is damaged or too large.
 */
export async function decodePhoto(bytes: Buffer, size: number): Promise<Buffer> {
  if (bytes.length === 0) throw new InputError(400, 'the image file is empty');
  let meta: Metadata;
  try {
    meta = await sharp(bytes).metadata();
  } catch {
    throw new InputError(415, 'not an image: the upload is not a format that can be decoded (send a JPEG, PNG or WebP photo)');
  }
  if (!meta.format || !IMAGE_FORMATS.has(meta.format)) {
    throw new InputError(415, `not a photo: ${meta.format ?? 'unknown'} images are not accepted (send a JPEG, PNG or WebP photo)`);
  }
  const pixels = (meta.width ?? 0) * (meta.height ?? 0);
  if (!(pixels > 0)) throw new InputError(400, 'corrupt image: it has no width or height');
  if (pixels > MAX_IMAGE_PIXELS) throw new InputError(413, `image too large: ${meta.width}×${meta.height} pixels (limit ${MAX_IMAGE_PIXELS / 1e6} megapixels)`);
  try {
    return await toRgbSquare(bytes, size);
  } catch (err) {
    throw new InputError(400, `corrupt image: the ${meta.format} data cannot be decoded (${(err as Error).message.split(': ').pop()})`);
  }
}

/**
 * Photo bytes → backbone features, exactly as the feature cache was filled: decoded pixels →
 * Keras "caffe" preprocessing, plain (and mirrored when the image predictor reads two views) →
 * ResNet-50 avg_pool on onnxruntime (worker threads, so the request loop stays free).
 */
export class PhotoFeaturizer {
  private constructor(private readonly backbone: OnnxBackbone, private readonly m: ServingManifest['backbone'], readonly views: number) {}

  static async create(manifest: ServingManifest, dir: string, views: number, options: { workers?: number } = {}): Promise<PhotoFeaturizer> {
    const m = manifest.backbone;
    const backbone = await OnnxBackbone.fromModelFile({
      file: path.resolve(dir, m.onnx), inputName: m.inputName, outputNames: [m.output], inputShape: ['N', m.size, m.size, 3],
    }, { workers: options.workers });
    return new PhotoFeaturizer(backbone, m, views);
  }

  get size(): number {
    return this.m.size;
  }

  describe(): string {
    return `ResNet-50 ${this.m.output} on ${this.backbone.describe()}, ${this.views} view(s) per photo`;
  }

  /** Feature vectors of one photo (its pixels from decodePhoto): [plain] or [plain, mirrored]. */
  async features(rgb: Uint8Array): Promise<Float32Array[]> {
    const s = this.m.size;
    const per = s * s * 3;
    // One view per backbone call: with two workers the plain and mirrored passes run side by side.
    return Promise.all(Array.from({ length: this.views }, async (_, v) => {
      const x = new Float32Array(per);
      caffePreprocess(rgb, 1, s, x, v === 1);
      const out = await this.backbone.run(x, 1);
      return Float32Array.from(out[this.m.output].data);
    }));
  }

  async release(): Promise<void> {
    await this.backbone.release();
  }
}
