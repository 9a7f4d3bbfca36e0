/**
 * The one call later notebooks make to get the cleaned data of this profile:
 * listings + split from data/clean (written by notebook 00) and the image caches of the
 * requested sizes, built on demand for the profile's products (a complete cache is reused
 * in a second or two; an interrupted build resumes).
 */
import * as path from 'path';
import { PATHS, PROFILE } from '../config';
import { progress, Progress } from '../progress';
import { readListings, readSplit } from './clean_store';
import { ensureImageCache, ImageCache } from './image_cache';
import { MarketplaceData } from './loader';

export interface OpenDatasetOptions {
  /** Square sizes of the image caches to open (default: none, for text/table stages). */
  imageSizes?: number[];
  /** Products per category and split; default from the profile (smoke: a few, full: all). */
  maxProductsPerCategory?: number | null;
}

/** Where the image inputs are: the data set's images/ folder. */
export const IMAGE_SOURCE_DIR = path.join(PATHS.raw, 'images');

/** Show progress with ETA for a callback-style long job; the bar appears on the first call. */
export function progressCallback(label: string): { onProgress: (done: number, total: number) => void; finish: () => void } {
  let bar: Progress | null = null;
  return {
    onProgress(done, total) {
      bar ??= progress(total, label);
      bar.tick(done - bar.count);
    },
    finish() {
      bar?.done();
    },
  };
}

/** Build (or reuse) the cache of `ids` at `size` under data/clean, with progress. */
export async function openImageCache(ids: string[], size: number): Promise<ImageCache> {
  const bar = progressCallback(`images ${size}px`);
  const result = await ensureImageCache({
    cacheDir: PATHS.clean,
    sourceDir: IMAGE_SOURCE_DIR,
    size,
    ids,
    onProgress: bar.onProgress,
  });
  bar.finish();
  return result.cache;
}

export async function openDataset(options: OpenDatasetOptions = {}): Promise<MarketplaceData> {
  const data = new MarketplaceData({
    listings: readListings(),
    split: readSplit(),
    maxProductsPerCategory: options.maxProductsPerCategory === undefined ? PROFILE.maxProductsPerCategory : options.maxProductsPerCategory,
    seed: PROFILE.seed,
  });
  const ids = data.imageIds();
  for (const size of options.imageSizes ?? []) data.attachImages(await openImageCache(ids, size));
  return data;
}
