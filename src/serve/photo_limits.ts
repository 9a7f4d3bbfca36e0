/**
 * What the service accepts as a photo, checked from the file's HEADER before any pixel is decoded:
 * a 105 KB PNG can declare 9,000,000 × 4 pixels, under a plain pixel limit, and still take seconds
 * and hundreds of MB to decode. So width, height and aspect ratio are bounded as well as the pixel
 * count, and sharp is given the same pixel limit and a time limit for the decode itself.
 */
import sharp, { Metadata } from 'sharp';
import { InputError } from './input_error';
import type { DecodeGuard } from '../data/images';

export interface PhotoLimits {
  /** Most pixels (width × height). */
  maxPixels: number;
  /** Longest side, pixels. */
  maxSide: number;
  /** Longest side / shortest side. */
  maxAspect: number;
  /** sharp stops a decode that runs longer than this. */
  decodeTimeoutSeconds: number;
}

/** A 40 MP phone photo passes; panoramas up to 8:1 pass; a strip of pixels does not. */
export const DEFAULT_PHOTO_LIMITS: PhotoLimits = { maxPixels: 40_000_000, maxSide: 12_000, maxAspect: 8, decodeTimeoutSeconds: 5 };

/** Image formats sharp decodes that a listing photo may come in. */
export const PHOTO_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif']);

/** The header's facts, or an InputError: 415 not a photo, 400 no size, 413 too large or too elongated. */
export async function checkPhotoHeader(bytes: Buffer, limits: PhotoLimits = DEFAULT_PHOTO_LIMITS): Promise<Metadata> {
  if (bytes.length === 0) throw new InputError(400, 'the image file is empty');
  let meta: Metadata;
  try {
    meta = await sharp(bytes).metadata();
  } catch {
    throw new InputError(415, 'not an image: the upload is not a format that can be decoded (send a JPEG, PNG or WebP photo)');
  }
  if (!meta.format || !PHOTO_FORMATS.has(meta.format)) {
    throw new InputError(415, `not a photo: ${meta.format ?? 'unknown'} images are not accepted (send a JPEG, PNG or WebP photo)`);
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (!(width > 0 && height > 0)) throw new InputError(400, 'corrupt image: it has no width or height');
  const size = `${width}×${height} pixels`;
  if (width * height > limits.maxPixels) throw new InputError(413, `image too large: ${size} (limit ${limits.maxPixels / 1e6} megapixels)`);
  if (Math.max(width, height) > limits.maxSide) throw new InputError(413, `image too large: ${size} (limit ${limits.maxSide} pixels a side)`);
  if (Math.max(width, height) / Math.min(width, height) > limits.maxAspect) {
    throw new InputError(413, `image too elongated: ${size} (aspect ratio limit ${limits.maxAspect}:1)`);
  }
  return meta;
}

/** The same limits as sharp options for the decode. */
export function decodeGuard(limits: PhotoLimits = DEFAULT_PHOTO_LIMITS): DecodeGuard {
  return { limitInputPixels: limits.maxPixels, timeoutSeconds: limits.decodeTimeoutSeconds };
}
