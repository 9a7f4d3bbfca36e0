/**
 * Image cleaning, step 2: the cleaned pixels, cached once per size.
 *
 * One packed file per size and image list: `images_<S>px_<key>.u8` holds N×S×S×3 bytes
 * (RGB, row-major, images in `ids` order), described by `images_<S>px_<key>.json` (recipe,
 * ids, each source file's size and md5). `key` hashes the recipe and the id list, so a
 * recipe change or a different image set gets its own file, and smoke and full caches
 * live side by side. Sources are identified by content, not modification time: a copied or
 * re-provisioned data set reuses its cache, and a photo overwritten in place is converted again.
 *
 * Resuming: the .u8 file is only ever appended to, whole batches in id order, so its
 * length is the progress marker: an interrupted build keeps every complete image and a
 * re-run carries on from there. A fully cached re-run only hashes the sources (~160 MB: about a second).
 *
 * Reading is random access by id (`readInto`), so a 224 px cache (1.9 GB for the full
 * set) never has to sit in one Buffer; the loader copies out just the split it needs.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { contentKey } from '../artifacts/content_key';
import { ARTIFACTS } from '../artifacts/registry';
import { ImageRecipe, imageRecipe, mapWithConcurrency, toRgbSquare, useSharpForBulkWork } from './images';

const FORMAT = 'marketplace-image-cache';
/** The registry's version. v2: sources identified by [bytes, md5] (v1: [bytes, mtime]); a v1 cache is rebuilt once. */
const FORMAT_VERSION = ARTIFACTS.image_cache.version;
const IMAGE_EXTENSION = '.jpg';

export interface ImageCacheIndex {
  format: typeof FORMAT;
  formatVersion: number;
  recipe: ImageRecipe;
  key: string;
  bytesPerImage: number;
  /** Image ids in the order their pixels are stored. */
  ids: string[];
  /** [bytes, md5 hex] of each source file when it was converted (same order as ids). */
  sources: SourceStamp[];
  /** Where the sources were read from (informative: a moved raw folder does not invalidate). */
  sourceDir: string;
}

export interface EnsureImageCacheOptions {
  /** Folder for the cache files (data/clean in the project). */
  cacheDir: string;
  /** Folder with `<id>.jpg`. */
  sourceDir: string;
  size: number;
  /** Usable image ids (from inspectImages); stored in this order. */
  ids: string[];
  /** Images converted at once (default 4: libuv's pool size, enough for 2 cores). */
  concurrency?: number;
  /** Images per append (default 256): at most this much work is lost on interruption. */
  appendEvery?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface EnsureImageCacheResult {
  cache: ImageCache;
  /** Images converted by this call (0 when everything was cached). */
  converted: number;
  /** Images found already converted (a resumed build, or a complete cache). */
  reused: number;
  /** 'built' (new or resumed), 'cached' (this list's own cache, complete), 'superset' (a complete cache of more images). */
  source: 'built' | 'cached' | 'superset';
  seconds: number;
}

/** Opens the cache for `ids` at `size`, converting whatever is not cached yet. */
export async function ensureImageCache(options: EnsureImageCacheOptions): Promise<EnsureImageCacheResult> {
  const started = Date.now();
  const { cacheDir, sourceDir, size, ids } = options;
  const recipe = imageRecipe(size);
  if (ids.length === 0) throw new Error(`no image ids given for the ${size} px cache in ${cacheDir}`);
  assertUniqueIds(ids);
  const sources = hashSources(sourceDir, ids);
  const key = cacheKey(recipe, ids);
  const base = path.join(cacheDir, `images_${size}px_${key}`);
  const indexFile = base + '.json';
  const dataFile = base + '.u8';
  const bytesPerImage = size * size * 3;
  fs.mkdirSync(cacheDir, { recursive: true });

  let done = 0;
  if (fs.existsSync(indexFile)) {
    const index = tryReadIndex(indexFile);
    if (index && indexMatches(index, recipe, ids, sources) && fs.existsSync(dataFile)) {
      done = Math.min(ids.length, Math.floor(fs.statSync(dataFile).size / bytesPerImage));
    } else {
      // Same recipe and ids but changed sources (or a damaged or older-format index): start this one again.
      fs.rmSync(indexFile, { force: true });
      fs.rmSync(dataFile, { force: true });
    }
  }
  if (done === ids.length) {
    options.onProgress?.(done, ids.length);
    return { cache: new ImageCache(indexFile), converted: 0, reused: done, source: 'cached', seconds: secondsSince(started) };
  }
  if (done === 0) {
    const superset = findSupersetCache(cacheDir, recipe, ids, sources);
    if (superset) {
      options.onProgress?.(ids.length, ids.length);
      return { cache: superset, converted: 0, reused: ids.length, source: 'superset', seconds: secondsSince(started) };
    }
  }

  if (!fs.existsSync(indexFile)) {
    const index: ImageCacheIndex = {
      format: FORMAT, formatVersion: FORMAT_VERSION, recipe, key, bytesPerImage, ids, sources,
      sourceDir: path.resolve(sourceDir),
    };
    writeFileAtomic(indexFile, JSON.stringify(index));
  }
  // Drop a partly written image at the end (a kill mid-append), then append from `done`.
  fs.writeFileSync(dataFile, '', { flag: 'a' });
  fs.truncateSync(dataFile, done * bytesPerImage);

  useSharpForBulkWork();
  const reused = done;
  const appendEvery = Math.max(1, options.appendEvery ?? 256);
  const fd = fs.openSync(dataFile, 'a');
  try {
    options.onProgress?.(done, ids.length);
    while (done < ids.length) {
      const batch = ids.slice(done, done + appendEvery);
      const pixels = await mapWithConcurrency(batch, options.concurrency ?? 4, (id) =>
        toRgbSquare(path.join(sourceDir, id + IMAGE_EXTENSION), size));
      fs.writeSync(fd, Buffer.concat(pixels, batch.length * bytesPerImage));
      done += batch.length;
      options.onProgress?.(done, ids.length);
    }
  } finally {
    fs.closeSync(fd);
  }
  return { cache: new ImageCache(indexFile), converted: done - reused, reused, source: 'built', seconds: secondsSince(started) };
}

/**
 * A complete cache: pixels of each id, read on demand from the packed file.
 * Open one with `ensureImageCache` (or directly from its .json if you know it is complete).
 */
export class ImageCache {
  readonly size: number;
  readonly bytesPerImage: number;
  readonly ids: readonly string[];
  readonly recipe: ImageRecipe;
  readonly indexFile: string;
  readonly dataFile: string;
  private readonly position = new Map<string, number>();
  private fd: number | null = null;

  constructor(indexFile: string) {
    const index = readIndex(indexFile);
    this.indexFile = indexFile;
    this.dataFile = indexFile.replace(/\.json$/, '.u8');
    this.size = index.recipe.size;
    this.bytesPerImage = index.bytesPerImage;
    this.ids = index.ids;
    this.recipe = index.recipe;
    index.ids.forEach((id, i) => this.position.set(id, i));
    const expected = index.ids.length * index.bytesPerImage;
    const actual = fs.existsSync(this.dataFile) ? fs.statSync(this.dataFile).size : -1;
    if (actual !== expected) {
      throw new Error(`${this.dataFile}: ${actual < 0 ? 'missing' : `${actual} bytes`}, expected ${expected} `
        + `(${index.ids.length} images): the cache is incomplete, run ensureImageCache to finish it`);
    }
  }

  has(id: string): boolean {
    return this.position.has(id);
  }

  /** Copies the S×S×3 pixels of `id` into `target` at byte `offset`. */
  readInto(id: string, target: Uint8Array, offset = 0): void {
    const i = this.position.get(id);
    if (i === undefined) throw new Error(`image ${id} is not in ${this.dataFile}`);
    if (this.fd === null) this.fd = fs.openSync(this.dataFile, 'r');
    const read = fs.readSync(this.fd, target, offset, this.bytesPerImage, i * this.bytesPerImage);
    if (read !== this.bytesPerImage) throw new Error(`${this.dataFile}: short read for image ${id} (${read} bytes)`);
  }

  read(id: string): Uint8Array {
    const out = new Uint8Array(this.bytesPerImage);
    this.readInto(id, out);
    return out;
  }

  /** Pixels of `ids`, packed in that order (N×S×S×3). */
  readMany(ids: readonly string[]): Uint8Array {
    const out = new Uint8Array(ids.length * this.bytesPerImage);
    ids.forEach((id, k) => this.readInto(id, out, k * this.bytesPerImage));
    return out;
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

// ---------------------------------------------------------------------------------------

function cacheKey(recipe: ImageRecipe, ids: readonly string[]): string {
  // The bytes of the recipe and the id list (the form caches were first keyed on, so they stay valid).
  return contentKey(Buffer.from(`${JSON.stringify(recipe)}\n${ids.join('\n')}`));
}

function assertUniqueIds(ids: readonly string[]): void {
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) throw new Error(`image id ${id} is listed twice: pass each image once`);
    seen.add(id);
  }
}

/** [bytes, md5 hex] of a source file. */
type SourceStamp = [number, string];

function hashSources(sourceDir: string, ids: readonly string[]): SourceStamp[] {
  return ids.map((id) => {
    const file = path.join(sourceDir, id + IMAGE_EXTENSION);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch {
      throw new Error(`${file}: source image not found (was it marked usable by inspectImages?)`);
    }
    return [bytes.length, crypto.createHash('md5').update(bytes).digest('hex')];
  });
}

function readIndex(indexFile: string): ImageCacheIndex {
  let index: ImageCacheIndex;
  try {
    index = JSON.parse(fs.readFileSync(indexFile, 'utf8')) as ImageCacheIndex;
  } catch (err) {
    throw new Error(`${indexFile}: cannot read image cache index: ${(err as Error).message}`);
  }
  if (index.format !== FORMAT || index.formatVersion !== FORMAT_VERSION) {
    throw new Error(`${indexFile}: not a ${FORMAT} v${FORMAT_VERSION} index`);
  }
  return index;
}

function sameRecipe(a: ImageRecipe, b: ImageRecipe): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The index, or null when it is unreadable or of another format (the caller rebuilds). */
function tryReadIndex(indexFile: string): ImageCacheIndex | null {
  try {
    return readIndex(indexFile);
  } catch {
    return null;
  }
}

function indexMatches(index: ImageCacheIndex, recipe: ImageRecipe, ids: readonly string[], sources: SourceStamp[]): boolean {
  if (!sameRecipe(index.recipe, recipe) || index.ids.length !== ids.length) return false;
  for (let i = 0; i < ids.length; i++) {
    if (index.ids[i] !== ids[i]) return false;
    if (index.sources[i][0] !== sources[i][0] || index.sources[i][1] !== sources[i][1]) return false;
  }
  return true;
}

/** A complete cache of the same recipe that holds every requested id from unchanged sources. */
function findSupersetCache(cacheDir: string, recipe: ImageRecipe, ids: readonly string[], sources: SourceStamp[]): ImageCache | null {
  const prefix = `images_${recipe.size}px_`;
  for (const name of fs.readdirSync(cacheDir).sort()) {
    if (!name.startsWith(prefix) || !name.endsWith('.json')) continue;
    const indexFile = path.join(cacheDir, name);
    let index: ImageCacheIndex;
    try {
      index = readIndex(indexFile);
    } catch {
      continue;
    }
    if (!sameRecipe(index.recipe, recipe) || index.ids.length < ids.length) continue;
    const dataFile = indexFile.replace(/\.json$/, '.u8');
    if (!fs.existsSync(dataFile) || fs.statSync(dataFile).size !== index.ids.length * index.bytesPerImage) continue;
    const at = new Map<string, number>();
    index.ids.forEach((id, i) => at.set(id, i));
    const covers = ids.every((id, k) => {
      const i = at.get(id);
      return i !== undefined && index.sources[i][0] === sources[k][0] && index.sources[i][1] === sources[k][1];
    });
    if (covers) return new ImageCache(indexFile);
  }
  return null;
}

function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

function secondsSince(started: number): number {
  return (Date.now() - started) / 1000;
}
