/**
 * Image cleaning, step 1: check every image file against Images.csv and decode it, and
 * the one conversion every later stage relies on (any file → S×S×3 RGB, black padding).
 *
 * Every file is fully decoded, not just its header: a truncated JPEG has a valid header
 * and only fails when its pixels are read (sharp's `metadata()` says it is fine).
 * With `cacheFile`, decode results are remembered by the file's CONTENT (an md5 of its bytes),
 * so a re-run (or a run after an interruption) decodes only what it has not seen, and a photo
 * overwritten in place (same size and time) is inspected again. The same md5 and a perceptual
 * dHash (photo_hash.ts) are what cross-post families use to join products sharing a photo.
 *
 * Every entry of the folder is accounted for: image files (symlinks to files included),
 * dangling links, unreadable files and non-files under a named status, and entries that are
 * not `<id>.jpg` at all counted by kind.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import type { OutputInfo } from 'sharp';
import type { ImageRow } from './types';
import { dHashFromGrey, DHASH_HEIGHT, DHASH_WIDTH, HashedPhoto } from './photo_hash';

/** Why an image can or cannot be used; when several apply, the first listed after 'ok' wins. */
export type ImageStatus =
  | 'ok'
  /** A row in Images.csv whose file is not in the image folder. */
  | 'missing_file'
  /** `<id>.jpg` is a symbolic link to nothing. */
  | 'dangling_link'
  /** `<id>.jpg` (or what it links to) is a folder, a pipe, a device… not a regular file. */
  | 'not_a_file'
  /** `<id>.jpg` is a file that cannot be read (permissions, I/O error); `error` says why. */
  | 'unreadable'
  /** A second row with an image id seen before (only the first is kept). */
  | 'duplicate_row'
  /** A file in the image folder with no row in Images.csv. */
  | 'orphan_file'
  /** A row whose product is not a kept listing (quarantined or absent from Products.csv). */
  | 'unknown_product'
  /** The file cannot be decoded (empty, truncated, not an image…); `error` has sharp's message. */
  | 'corrupt'
  /** Decodes, but its shorter side is below `minSide`: upscaled, it would be a flat blur. */
  | 'too_small';

export const IMAGE_STATUSES: ImageStatus[] = [
  'ok', 'missing_file', 'dangling_link', 'not_a_file', 'unreadable', 'duplicate_row', 'orphan_file', 'unknown_product', 'corrupt', 'too_small',
];

/** Entries of the image folder that are not `<id>.jpg` candidates, by kind. */
export type FolderEntryKind = 'other_file_name' | 'other_folder' | 'other_link' | 'other_special';

/** What the conversion to S×S×3 RGB has to fix in a usable file. */
export type ImageNote =
  /** One channel (or gray + alpha): replicated to RGB. */
  | 'grayscale'
  /** CMYK JPEG: converted to sRGB. */
  | 'cmyk'
  /** Has an alpha channel: flattened onto black. */
  | 'alpha'
  /** Not square: padded with black to a square. */
  | 'odd_size'
  /** More than HUGE_PIXELS pixels: works, but slow to decode. */
  | 'huge'
  /** Named .jpg but another format (PNG, WebP…). */
  | 'not_jpeg'
  /** A symbolic link to a file (read through the link). */
  | 'symlink';

export const IMAGE_NOTES: ImageNote[] = ['grayscale', 'cmyk', 'alpha', 'odd_size', 'huge', 'not_jpeg', 'symlink'];

/** 16 megapixels: anything above is far bigger than any photo the published set holds (256×256). */
export const HUGE_PIXELS = 16_000_000;

export interface ImageCheck {
  /** Image id (file name without .jpg). */
  id: string;
  /** Product from Images.csv; null for an orphan file. */
  productId: string | null;
  status: ImageStatus;
  notes: ImageNote[];
  /** Absolute path of the file; null when it is missing. */
  file: string | null;
  bytes?: number;
  /** md5 of the file's bytes (hex): the inspection cache's key and the exact-duplicate test. */
  md5?: string;
  /** 64-bit difference hash of a 9×8 grey thumbnail (16 hex digits): near-duplicate photos differ in few bits. */
  dHash?: string;
  format?: string;
  width?: number;
  height?: number;
  channels?: number;
  /** libvips colour space: 'srgb', 'b-w', 'cmyk'… */
  space?: string;
  /** sharp's message when the file does not decode. */
  error?: string;
}

export interface ImageInspection {
  dir: string;
  /** One check per row of Images.csv (in row order), then one per orphan file (sorted). */
  checks: ImageCheck[];
  counts: Record<ImageStatus, number>;
  /** How many USABLE images needed each conversion. */
  notes: Record<ImageNote, number>;
  rows: number;
  /** `<id>.jpg` entries of the folder (files, links, anything so named). */
  files: number;
  /** Every entry of the folder: the `<id>.jpg` ones above plus the others, by kind. */
  folder: { entries: number; imageNames: number; other: Record<FolderEntryKind, number> };
  /** Files decoded by this call (the rest came from the inspection cache). */
  decoded: number;
  seconds: number;
}

export interface InspectOptions {
  /** Files decoded at once. sharp runs each on libuv's pool (4 threads), so 2 cores stay busy at ~4. */
  concurrency?: number;
  /** Shorter side, in pixels, below which an image is 'too_small' (default 16). */
  minSide?: number;
  /**
   * JSON file remembering decode results by the md5 of the file's bytes, so a re-run decodes
   * only new or changed files (and an interrupted run keeps what it had done).
   */
  cacheFile?: string;
  onProgress?: (done: number, total: number) => void;
}

const IMAGE_EXTENSION = '.jpg';
const INSPECTION_CACHE_VERSION = 4;
/** Decode results written to the cache file after this many new decodes (and at the end). */
const INSPECTION_SAVE_EVERY = 2000;

/**
 * Checks Images.csv rows against the files in `dir` (`<id>.jpg`) and decodes every file.
 * `productIds` are the kept listings: rows pointing elsewhere are 'unknown_product'.
 */
export async function inspectImages(
  dir: string,
  rows: ImageRow[],
  productIds: Set<string>,
  options: InspectOptions = {},
): Promise<ImageInspection> {
  const started = Date.now();
  useSharpForBulkWork();
  const minSide = options.minSide ?? 16;
  const absDir = path.resolve(dir);
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(absDir, { withFileTypes: true });
  } catch (err) {
    throw new Error(`image folder ${absDir} cannot be read: ${(err as Error).message}`);
  }
  const other: Record<FolderEntryKind, number> = { other_file_name: 0, other_folder: 0, other_link: 0, other_special: 0 };
  const fileIds = new Set<string>();
  for (const entry of entries) {
    if (entry.name.endsWith(IMAGE_EXTENSION)) fileIds.add(entry.name.slice(0, -IMAGE_EXTENSION.length));
    else if (entry.isFile()) other.other_file_name++;
    else if (entry.isDirectory()) other.other_folder++;
    else if (entry.isSymbolicLink()) other.other_link++;
    else other.other_special++;
  }

  const checks: ImageCheck[] = [];
  const seenRowIds = new Set<string>();
  for (const row of rows) {
    const check: ImageCheck = {
      id: row.id, productId: row.productId, status: 'ok', notes: [],
      file: fileIds.has(row.id) ? path.join(absDir, row.id + IMAGE_EXTENSION) : null,
    };
    if (check.file === null) check.status = 'missing_file';
    else if (seenRowIds.has(row.id)) check.status = 'duplicate_row';
    else if (!productIds.has(row.productId)) check.status = 'unknown_product';
    seenRowIds.add(row.id);
    checks.push(check);
  }
  const orphans = [...fileIds].filter((id) => !seenRowIds.has(id)).sort();
  for (const id of orphans) {
    checks.push({
      id, productId: null, status: 'orphan_file', notes: [], file: path.join(absDir, id + IMAGE_EXTENSION),
    });
  }

  // Decode every file once, rows that lost to an earlier check included, so the report
  // also says whether an orphan or an unknown product's photo would have been readable.
  const toDecode = checks.filter((c) => c.file !== null && c.status !== 'duplicate_row');
  const linkStatus = new Map(toDecode.map((c) => [c, c.status]));
  const apply = (check: ImageCheck, result: DecodeResult): void => {
    Object.assign(check, result.facts);
    check.notes = [...(check.notes.includes('symlink') ? ['symlink' as const] : []), ...result.notes];
    const linked = linkStatus.get(check) as ImageStatus;
    check.status = linked === 'ok' && result.problem ? result.problem : linked;
  };

  const cache = new InspectionCache(options.cacheFile, minSide);
  let decoded = 0;
  let sinceSave = 0;
  const failed: Array<{ check: ImageCheck; bytes: Buffer }> = [];
  const inFlight = new Map<string, Promise<DecodeResult>>();
  await mapWithConcurrency(toDecode, options.concurrency ?? 4, async (check) => {
    const opened = await readImageFile(check.file as string);
    if (opened.link) check.notes = ['symlink'];
    if ('problem' in opened) {
      // The entry itself is unusable: that outranks how the row is linked (an orphan folder is not an orphan file).
      check.status = opened.problem;
      check.error = opened.error;
      return;
    }
    const md5 = crypto.createHash('md5').update(opened.bytes).digest('hex');
    let result = cache.lookup(md5);
    if (!result) {
      // Identical files (the same photo under two names) are decoded once.
      let pending = inFlight.get(md5);
      if (!pending) {
        pending = decodeCheck(opened.bytes, md5, minSide);
        inFlight.set(md5, pending);
        decoded++;
      }
      result = await pending;
      // Failures are redone one at a time below before they are remembered.
      if (result.problem === 'corrupt') failed.push({ check, bytes: opened.bytes });
      else cache.remember(md5, result);
      if (++sinceSave >= INSPECTION_SAVE_EVERY) {
        sinceSave = 0;
        cache.save();
      }
    }
    apply(check, result);
  }, options.onProgress);
  // libvips keeps one error buffer for all threads, so a failure decoded beside others can
  // lose its message (sharp then says only "Warning treated as error…"). Failures are rare:
  // decode them again one at a time for the real reason.
  for (const { check, bytes } of failed) {
    const again = await decodeCheck(bytes, check.md5 as string, minSide);
    if (again.facts.error === undefined) delete check.error;
    apply(check, again);
    cache.remember(check.md5 as string, again);
  }
  cache.save();

  const counts = Object.fromEntries(IMAGE_STATUSES.map((s) => [s, 0])) as Record<ImageStatus, number>;
  const notes = Object.fromEntries(IMAGE_NOTES.map((n) => [n, 0])) as Record<ImageNote, number>;
  for (const c of checks) {
    counts[c.status] += 1;
    if (c.status === 'ok') for (const n of c.notes) notes[n] += 1;
  }
  return {
    dir: absDir, checks, counts, notes, rows: rows.length, files: fileIds.size,
    folder: { entries: entries.length, imageNames: fileIds.size, other },
    decoded, seconds: (Date.now() - started) / 1000,
  };
}

interface DecodeResult {
  facts: Partial<ImageCheck>;
  notes: ImageNote[];
  problem: 'corrupt' | 'too_small' | null;
}

type OpenedFile =
  | { bytes: Buffer; link: boolean }
  | { problem: 'dangling_link' | 'not_a_file' | 'unreadable'; error: string; link: boolean };

/**
 * Reads `<id>.jpg` without ever following it blindly: a dangling link, a folder or a pipe (which
 * would block a read forever) and an unreadable file each come back as a named problem.
 */
async function readImageFile(file: string): Promise<OpenedFile> {
  let link = false;
  try {
    link = (await fs.promises.lstat(file)).isSymbolicLink();
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(file);
    } catch (err) {
      if (link && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        return { problem: 'dangling_link', error: `link to ${await fs.promises.readlink(file)}, which does not exist`, link };
      }
      throw err;
    }
    if (!stat.isFile()) return { problem: 'not_a_file', error: `a ${fileKind(stat)}, not a file`, link };
    return { bytes: await fs.promises.readFile(file), link };
  } catch (err) {
    return { problem: 'unreadable', error: oneLine((err as Error).message), link };
  }
}

function fileKind(stat: fs.Stats): string {
  if (stat.isDirectory()) return 'folder';
  if (stat.isFIFO()) return 'named pipe';
  if (stat.isSocket()) return 'socket';
  if (stat.isBlockDevice() || stat.isCharacterDevice()) return 'device';
  return 'special file';
}

async function decodeCheck(input: Buffer, md5: string, minSide: number): Promise<DecodeResult> {
  const facts: Partial<ImageCheck> = { bytes: input.length, md5 };
  try {
    const meta = await sharp(input).metadata();
    // Full decode, shrunk on load: JPEG shrink-on-load still reads every scan, so truncation
    // shows. The same decode gives the grey thumbnail of the perceptual hash.
    const grey = await dHashThumbnail(input);
    Object.assign(facts, {
      format: meta.format, width: meta.width, height: meta.height, channels: meta.channels, space: meta.space,
      dHash: dHashFromGrey(grey),
    });
    const width = meta.width ?? 0;
    const height = meta.height ?? 0;
    const notes: ImageNote[] = [];
    if (meta.space === 'b-w' || meta.space === 'grey16' || (meta.channels ?? 3) <= 2) notes.push('grayscale');
    if (meta.space === 'cmyk') notes.push('cmyk');
    if (meta.hasAlpha) notes.push('alpha');
    if (width !== height) notes.push('odd_size');
    if (width * height > HUGE_PIXELS) notes.push('huge');
    if (meta.format !== 'jpeg') notes.push('not_jpeg');
    return { facts, notes, problem: Math.min(width, height) < minSide ? 'too_small' : null };
  } catch (err) {
    facts.error = oneLine((err as Error).message);
    return { facts, notes: [], problem: 'corrupt' };
  }
}

/**
 * The 9×8 grey thumbnail of the dHash, from a full decode (failing on any warning). The black
 * padding is trimmed first: many published photos are a small picture in a large black band,
 * and with the band in, unrelated photos got near-identical thumbnails (on the real data, 75% of
 * the pairs 1 bit apart were in different main categories; trimmed, those pairs moved to 8+ bits
 * while true copies stayed within 2). A picture that is all black is hashed as it is.
 */
async function dHashThumbnail(input: Buffer): Promise<Buffer> {
  // The full decode, shrunk on load to ≤ 64 px (as cheap as the plain check); trimming the
  // band on that small grey copy costs next to nothing, where trimming the full image doubled the time.
  const { data, info } = await sharp(input, { failOn: 'warning' })
    .rotate()
    .resize(64, 64, { fit: 'inside' })
    .flatten({ background: '#000000' })
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const small = () => sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
  const thumbnail = (image: ReturnType<typeof sharp>) => image.resize(DHASH_WIDTH, DHASH_HEIGHT, { fit: 'fill' }).extractChannel(0).raw().toBuffer();
  try {
    return await thumbnail(small().trim({ background: '#000000', threshold: 10 }));
  } catch {
    return thumbnail(small()); // all black: nothing left once trimmed
  }
}

/** Decode results by the md5 of the file's bytes (and minSide): a changed file is a new key. */
class InspectionCache {
  private entries: Record<string, DecodeResult> = {};

  constructor(private readonly file: string | undefined, private readonly minSide: number) {
    if (!file || !fs.existsSync(file)) return;
    try {
      const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
      if (saved.version === INSPECTION_CACHE_VERSION && saved.minSide === minSide) this.entries = saved.entries;
    } catch {
      // An unreadable cache is only lost time: everything is decoded again and it is rewritten.
    }
  }

  lookup(md5: string): DecodeResult | null {
    return this.entries[md5] ?? null;
  }

  remember(md5: string, result: DecodeResult): void {
    this.entries[md5] = result;
  }

  save(): void {
    if (!this.file) return;
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ version: INSPECTION_CACHE_VERSION, minSide: this.minSide, entries: this.entries }));
    fs.renameSync(tmp, this.file);
  }
}

/**
 * libvips' operation cache only helps when the same image is processed again; here every
 * file is seen once, so it just holds memory (and measured ~15% slower). Process-wide.
 */
export function useSharpForBulkWork(): void {
  sharp.cache(false);
}

/** libvips repeats its warnings; keep each distinct line once. */
function oneLine(message: string): string {
  return [...new Set(message.split('\n').map((l) => l.trim()).filter(Boolean))].join(' | ');
}

/** Usable image ids per product (fills Listing.imageIds), in Images.csv order. */
export function usableImagesByProduct(inspection: ImageInspection): Map<string, string[]> {
  const byProduct = new Map<string, string[]>();
  for (const c of inspection.checks) {
    if (c.status !== 'ok' || c.productId === null) continue;
    const list = byProduct.get(c.productId);
    if (list) list.push(c.id);
    else byProduct.set(c.productId, [c.id]);
  }
  return byProduct;
}

/** Ids of usable images, sorted (the order the caches store them in). */
export function usableImageIds(inspection: ImageInspection): string[] {
  return inspection.checks.filter((c) => c.status === 'ok').map((c) => c.id).sort();
}

/** Rows for a report table: one per status and one per conversion note. */
export function inspectionSummary(inspection: ImageInspection): Array<{ kind: string; name: string; count: number }> {
  return [
    ...IMAGE_STATUSES.map((s) => ({ kind: 'status', name: s, count: inspection.counts[s] })),
    ...IMAGE_NOTES.map((n) => ({ kind: 'conversion', name: n, count: inspection.notes[n] })),
    ...(Object.entries(inspection.folder.other) as Array<[FolderEntryKind, number]>).map(([name, count]) => ({ kind: 'folder entry, not <id>.jpg', name, count })),
  ];
}

// ---------------------------------------------------------------------------------------
// Conversion

/**
 * How a file becomes an S×S×3 image. Caches store the recipe and are rebuilt when it changes.
 *
 * Position 'left top': the published photos were squared by padding bottom/right, so a
 * non-square file cleaned here gets its black band in the same place as every other photo
 * rather than a new, centred pattern the models would have to learn as well. (The
 * published files are all square, so for them this only scales.)
 */
export interface ImageRecipe {
  version: 1;
  size: number;
  fit: 'contain';
  position: 'left top';
  /** Padding and alpha-flattening colour. */
  background: [number, number, number];
  kernel: 'lanczos3';
  /** EXIF orientation applied before resizing. */
  autoOrient: true;
}

export function imageRecipe(size: number): ImageRecipe {
  if (!Number.isInteger(size) || size < 8 || size > 4096) {
    throw new Error(`image size ${size} is not an integer between 8 and 4096`);
  }
  return { version: 1, size, fit: 'contain', position: 'left top', background: [0, 0, 0], kernel: 'lanczos3', autoOrient: true };
}

/** Limits for untrusted input (the service): they never change the output, only refuse or stop. */
export interface DecodeGuard {
  /** sharp refuses images with more pixels than this (checked from the header). */
  limitInputPixels?: number;
  /** sharp stops a conversion that runs longer than this. */
  timeoutSeconds?: number;
}

/**
 * Decodes `input` (a path or the file's bytes) and returns size·size·3 bytes, RGB, row-major.
 * Grayscale is replicated, CMYK converted to sRGB, alpha flattened onto black, and
 * non-square images scaled to fit and padded with black (recipe above).
 */
export async function toRgbSquare(input: string | Buffer, size: number, guard: DecodeGuard = {}): Promise<Buffer> {
  const recipe = imageRecipe(size);
  const [r, g, b] = recipe.background;
  const where = typeof input === 'string' ? input : 'image buffer';
  let out: { data: Buffer; info: OutputInfo };
  try {
    // Reading the file in Node and handing sharp the bytes measured faster than sharp opening it.
    const bytes = typeof input === 'string' ? await fs.promises.readFile(input) : input;
    let image = sharp(bytes, { failOn: 'warning', ...(guard.limitInputPixels ? { limitInputPixels: guard.limitInputPixels } : {}) });
    if (guard.timeoutSeconds) image = image.timeout({ seconds: guard.timeoutSeconds });
    out = await image
      .rotate()
      .flatten({ background: { r, g, b } })
      .resize(size, size, { fit: recipe.fit, position: recipe.position, background: { r, g, b, alpha: 1 }, kernel: recipe.kernel })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new Error(`${where}: cannot convert to ${size}×${size} RGB: ${oneLine((err as Error).message)}`);
  }
  const { width, height, channels } = out.info;
  if (width !== size || height !== size || channels !== 3) {
    throw new Error(`${where}: conversion gave ${width}×${height}×${channels}, expected ${size}×${size}×3`);
  }
  return out.data;
}

// ---------------------------------------------------------------------------------------

/**
 * Runs `fn` over `items` with at most `limit` in flight; results in input order.
 * A failure stops new work and rejects with the first error.
 */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  onProgress?: (done: number, total: number) => void,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let done = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (err) {
        failed = true;
        throw err;
      }
      done += 1;
      onProgress?.(done, items.length);
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker);
  await Promise.all(workers);
  return results;
}

/** Usable photos of products, with their content hashes (the input of the photo family rules). */
export function hashedPhotos(inspection: ImageInspection): HashedPhoto[] {
  return inspection.checks
    .filter((c) => c.status === 'ok' && c.productId !== null && c.md5 && c.dHash)
    .map((c) => ({ id: c.id, productId: c.productId as string, md5: c.md5 as string, dHash: c.dHash as string }));
}
