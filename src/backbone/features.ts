/**
 * Backbone features per image, computed once and cached on disk.
 *
 * A `FeatureStore` holds one vector per image id for one *spec*: backbone + weights hash +
 * layer, input size, preprocessing, pixel recipe, horizontal flip, storage dtype. The spec's
 * hash names the files, so a different backbone/size/preprocessing/flip gets its own store,
 * and every subset of images (smoke, full, a later notebook) shares it: a vector computed
 * once is reused everywhere.
 *
 * Files under data/clean/features/ (git-ignored):
 *   <name>_<key>.json  the spec (what produced the vectors)
 *   <name>_<key>.bin   fixed-size records (dim × float32 or float16), in append order
 *   <name>_<key>.ids   one image id per line, same order
 * Appends write the records first and the ids second; on open, both are cut back to the
 * number of complete (record, id) pairs, so an interrupted extraction resumes where it
 * stopped and never reads a half-written vector.
 *
 * `extractFeatures` fills a store for a list of ids from a uint8 pixel source (the 224 px
 * image cache) through a `FeatureEngine` (onnxruntime-node or tfjs), with progress; only the
 * missing ids are computed.
 *
 * Per-image *embeddings* for later notebooks (e.g. a trained head's penultimate layer) are
 * written with `writeImageEmbeddings` and read back with `readImageEmbeddings`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { PATHS } from '../config';
import { contentKey } from '../artifacts/content_key';
import { imageRecipe } from '../data/images';
import { ImagePixelSource } from '../data/loader';
import type { Int8Quantization } from './onnx_export';
import { caffePreprocess, CAFFE_BGR_MEANS, FEATURE_LAYER, RESNET_FEATURE_DIM, RESNET_INPUT_SIZE } from './resnet_tfjs';
import { processAlive } from '../artifacts/file_lock';

export type FeatureDtype = 'float32' | 'float16';

export interface FeatureSpec {
  /** Architecture + weights, e.g. 'resnet50_keras_imagenet'. */
  backbone: string;
  /** Hash of the weights (readResnetArtifacts().hash). */
  weights: string;
  /** Layer the vector is read from (e.g. 'avg_pool'). */
  layer: string;
  /** Input side in pixels. */
  size: number;
  /** Pixel → float recipe, e.g. 'caffe_bgr_mean' (Keras ResNet). */
  preprocessing: string;
  /** How the uint8 pixels were made from the photos (resize recipe), so a new recipe gets new features. */
  pixels: unknown;
  /** Features of the mirrored image (test-time augmentation / training augmentation). */
  flip: boolean;
  dim: number;
  dtype: FeatureDtype;
  /** Only for features of an int8 backbone (onnx_export.ts ensureInt8OnnxModels): what was quantised how. fp32 specs have no such field. */
  quantization?: Int8Quantization;
}

export const FEATURES_DIR = path.join(PATHS.clean, 'features');
const FORMAT_VERSION = 1;

/** The spec of ResNet-50 avg_pool features on the project's 224 px image cache. */
export function resnetFeatureSpec(weightsHash: string, options: { flip?: boolean; size?: number; dtype?: FeatureDtype } = {}): FeatureSpec {
  const size = options.size ?? RESNET_INPUT_SIZE;
  return {
    backbone: 'resnet50_keras_imagenet',
    weights: weightsHash,
    layer: FEATURE_LAYER,
    size,
    preprocessing: `caffe_bgr_minus_${CAFFE_BGR_MEANS.join('_')}`,
    pixels: imageRecipe(size),
    flip: options.flip ?? false,
    dim: RESNET_FEATURE_DIM,
    dtype: options.dtype ?? 'float32',
  };
}

/** The spec of the same features computed by an int8 model: the fp32 spec plus its `quantization` (so its own key and files). */
export function int8FeatureSpec(fp32: FeatureSpec, quantization: Int8Quantization): FeatureSpec {
  return { ...fp32, quantization };
}

/** Stable hash of a spec (key order does not matter). */
export function featureKey(spec: FeatureSpec): string {
  return contentKey({ v: FORMAT_VERSION, ...spec });
}

// ---------------------------------------------------------------------------------------
// float16 <-> float32 (Node 20 has no Float16Array)

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Round-to-nearest-even float32 → IEEE half bits. */
export function toHalf(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow → ±0
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++; // may carry into the exponent: still correct
  if (half >= 0x7c00) return sign | 0x7c00;
  return sign | half;
}

const HALF_TABLE = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) t[h] = sign * mant * 2 ** -24;
    else if (exp === 0x1f) t[h] = mant ? NaN : sign * Infinity;
    else t[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return t;
})();

export function fromHalf(bits: number): number {
  return HALF_TABLE[bits & 0xffff];
}

export function encodeHalf(values: Float32Array, out: Uint16Array = new Uint16Array(values.length)): Uint16Array {
  for (let i = 0; i < values.length; i++) out[i] = toHalf(values[i]);
  return out;
}

export function decodeHalf(bits: Uint16Array, out: Float32Array = new Float32Array(bits.length), outOffset = 0): Float32Array {
  for (let i = 0; i < bits.length; i++) out[outOffset + i] = HALF_TABLE[bits[i]];
  return out;
}

// ---------------------------------------------------------------------------------------

/** An append-only, resumable store of one vector per image id. */
export class FeatureStore {
  readonly key: string;
  readonly dataFile: string;
  readonly idsFile: string;
  readonly specFile: string;
  readonly recordBytes: number;
  private readonly position = new Map<string, number>();
  private readonly order: string[] = [];
  private fd: number | null = null;

  /** Opens (or creates) the store for `spec` in `dir`; repairs a torn tail left by an interruption. */
  constructor(readonly spec: FeatureSpec, readonly dir: string = FEATURES_DIR, name = `${spec.backbone}_${spec.layer}_${spec.size}${spec.flip ? '_flip' : ''}${spec.quantization ? '_int8' : ''}`) {
    if (!Number.isInteger(spec.dim) || spec.dim <= 0) throw new Error(`feature dim must be a positive integer, got ${spec.dim}`);
    this.key = featureKey(spec);
    const base = path.join(dir, `${name}_${this.key}`);
    this.dataFile = `${base}.bin`;
    this.idsFile = `${base}.ids`;
    this.specFile = `${base}.json`;
    this.recordBytes = spec.dim * (spec.dtype === 'float16' ? 2 : 4);
    fs.mkdirSync(dir, { recursive: true });
    if (!fs.existsSync(this.specFile)) {
      fs.writeFileSync(this.specFile, JSON.stringify({ format: 'marketplace-feature-store', version: FORMAT_VERSION, key: this.key, spec }, null, 2) + '\n');
    }
    this.load(false);
  }

  /**
   * (Re)reads the index: the first min(complete id lines, complete records) pairs. With `repair`
   * (only under the lock: another process may be appending) a torn tail is cut off the files.
   */
  private load(repair: boolean): void {
    const idsText = fs.existsSync(this.idsFile) ? fs.readFileSync(this.idsFile, 'utf8') : '';
    const lines = idsText.split('\n');
    lines.pop(); // text after the last newline is an incomplete line (or '')
    const dataBytes = fs.existsSync(this.dataFile) ? fs.statSync(this.dataFile).size : 0;
    const n = Math.min(Math.floor(dataBytes / this.recordBytes), lines.length);
    if (repair) {
      if (n !== lines.length || idsText.length !== lines.reduce((sum, l) => sum + l.length + 1, 0)) {
        fs.writeFileSync(this.idsFile, lines.slice(0, n).map((l) => l + '\n').join(''));
      }
      if (dataBytes !== n * this.recordBytes && fs.existsSync(this.dataFile)) fs.truncateSync(this.dataFile, n * this.recordBytes);
    }
    this.position.clear();
    this.order.length = 0;
    for (let i = 0; i < n; i++) {
      const id = lines[i];
      if (!this.position.has(id)) this.position.set(id, i); // first copy wins; duplicates are harmless
      this.order.push(id);
    }
  }

  get dim(): number {
    return this.spec.dim;
  }

  /** Number of distinct ids stored. */
  get count(): number {
    return this.position.size;
  }

  has(id: string): boolean {
    return this.position.has(id);
  }

  /** The ids of `ids` not stored yet (order kept, duplicates dropped). */
  missing(ids: readonly string[]): string[] {
    const seen = new Set<string>();
    return ids.filter((id) => {
      if (this.position.has(id) || seen.has(id)) return false;
      seen.add(id);
      return true;
    });
  }

  /** Appends n = ids.length vectors (row-major n × dim). Records first, then ids: a crash in between is repaired on open. */
  append(ids: readonly string[], vectors: Float32Array): void {
    if (vectors.length !== ids.length * this.dim) throw new Error(`append: ${vectors.length} values for ${ids.length} ids × ${this.dim}`);
    if (ids.length === 0) return;
    const payload = this.spec.dtype === 'float16' ? encodeHalf(vectors) : vectors;
    fs.appendFileSync(this.dataFile, new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength));
    fs.appendFileSync(this.idsFile, ids.map((id) => id + '\n').join(''));
    for (const id of ids) {
      if (!this.position.has(id)) this.position.set(id, this.order.length);
      this.order.push(id);
    }
  }

  /** Copies the vector of `id` into `out` at `offset` (floats). */
  readInto(id: string, out: Float32Array, offset = 0): void {
    const i = this.position.get(id);
    if (i === undefined) throw new Error(`no ${this.spec.layer} features for image ${id} in ${this.dataFile}: run extractFeatures first`);
    if (this.fd === null) this.fd = fs.openSync(this.dataFile, 'r');
    const buf = Buffer.allocUnsafe(this.recordBytes);
    const read = fs.readSync(this.fd, buf, 0, this.recordBytes, i * this.recordBytes);
    if (read !== this.recordBytes) throw new Error(`${this.dataFile}: short read for image ${id}`);
    if (this.spec.dtype === 'float16') {
      decodeHalf(new Uint16Array(buf.buffer, buf.byteOffset, this.dim), out, offset);
    } else {
      out.set(new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + this.recordBytes)), offset);
    }
  }

  get(id: string): Float32Array {
    const out = new Float32Array(this.dim);
    this.readInto(id, out);
    return out;
  }

  /** Vectors of `ids`, packed row-major (ids.length × dim). */
  matrix(ids: readonly string[]): Float32Array {
    const out = new Float32Array(ids.length * this.dim);
    ids.forEach((id, k) => this.readInto(id, out, k * this.dim));
    return out;
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  /**
   * Claims the store for appending (a `.lock` file holding this pid): two processes appending at
   * once would interleave records. A lock left by a process that no longer runs is taken over.
   * Re-reads the index (and repairs a torn tail) once held. Returns the release function.
   */
  lock(): () => void {
    const lockFile = this.dataFile.replace(/\.bin$/, '.lock');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
        this.load(true); // see what others appended; cut a torn tail left by a dead writer
        return () => fs.rmSync(lockFile, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const owner = Number(fs.readFileSync(lockFile, 'utf8').trim());
        if (owner && owner !== process.pid && processAlive(owner)) {
          throw new Error(`${this.dataFile} is being extracted by process ${owner}: wait for it to finish (or remove ${lockFile} if that process is not extracting)`);
        }
        fs.rmSync(lockFile, { force: true }); // stale (or our own): take it over
      }
    }
    throw new Error(`could not lock ${lockFile}`);
  }
}


// ---------------------------------------------------------------------------------------

/** Something that turns a batch of preprocessed images into feature vectors. */
export interface FeatureEngine {
  /** e.g. "onnxruntime-node, 2 workers". */
  describe(): string;
  /** Batches to keep in flight (1 for a synchronous engine). */
  concurrency: number;
  /** x: n × S × S × 3 floats (NHWC, preprocessed). Returns n × dim. May take ownership of x. */
  features(x: Float32Array, n: number): Promise<Float32Array>;
}

export interface ExtractOptions {
  ids: readonly string[];
  /** uint8 RGB pixels by id (the image cache at spec.size). */
  pixels: ImagePixelSource;
  store: FeatureStore;
  engine: FeatureEngine;
  batchSize?: number;
  /** Called after every stored batch: (done, total) over the ids that were missing. */
  onProgress?: (done: number, total: number) => void;
  /** Stop after this many new images (tests: simulate an interruption). */
  limit?: number;
}

export interface ExtractResult {
  /** Newly computed vectors. */
  computed: number;
  /** Vectors found in the store. */
  reused: number;
  seconds: number;
  /** Images per second over the computed ones (NaN when none). */
  imagesPerSecond: number;
}

/**
 * Computes the features of the ids not yet in `store`, in batches, keeping `engine.concurrency`
 * batches in flight and appending finished batches in order.
 */
export async function extractFeatures(options: ExtractOptions): Promise<ExtractResult> {
  const { store, engine, pixels } = options;
  const spec = store.spec;
  if (pixels.size !== spec.size) throw new Error(`pixel source is ${pixels.size} px, the feature spec wants ${spec.size} px`);
  if (spec.preprocessing.startsWith('caffe') === false) throw new Error(`preprocessing ${spec.preprocessing} is not implemented`);
  const started = Date.now();
  const reusedAll = () => new Set(options.ids).size - store.missing(options.ids).length;
  if (store.missing(options.ids).length === 0) {
    options.onProgress?.(0, 0);
    return { computed: 0, reused: reusedAll(), seconds: (Date.now() - started) / 1000, imagesPerSecond: NaN };
  }
  const unlock = store.lock();
  const todoAll = store.missing(options.ids);
  const todo = options.limit !== undefined ? todoAll.slice(0, options.limit) : todoAll;
  const reused = new Set(options.ids).size - todoAll.length;
  const batchSize = options.batchSize ?? 8;
  const bytesPerImage = spec.size * spec.size * 3;
  const scratch = new Uint8Array(batchSize * bytesPerImage);
  const inFlight: Array<{ ids: string[]; result: Promise<Float32Array> }> = [];
  let done = 0;
  options.onProgress?.(0, todo.length);

  const drainOne = async () => {
    const batch = inFlight.shift() as { ids: string[]; result: Promise<Float32Array> };
    const vectors = await batch.result;
    store.append(batch.ids, vectors);
    done += batch.ids.length;
    options.onProgress?.(done, todo.length);
  };

  try {
    for (let start = 0; start < todo.length; start += batchSize) {
      const ids = todo.slice(start, start + batchSize);
      ids.forEach((id, k) => pixels.readInto(id, scratch, k * bytesPerImage));
      const x = caffePreprocess(scratch, ids.length, spec.size, new Float32Array(ids.length * bytesPerImage), spec.flip);
      const result = engine.features(x, ids.length);
      result.catch(() => undefined); // handled when drained; avoid an unhandled rejection meanwhile
      inFlight.push({ ids, result });
      if (inFlight.length >= Math.max(1, engine.concurrency)) await drainOne();
    }
    while (inFlight.length) await drainOne();
  } finally {
    // On failure, wait for what is running so no worker writes after we return.
    await Promise.allSettled(inFlight.map((b) => b.result));
    unlock();
  }
  const seconds = (Date.now() - started) / 1000;
  return { computed: done, reused, seconds, imagesPerSecond: done > 0 ? done / seconds : NaN };
}

/** Adapter: an OnnxBackbone-like object with a named output → FeatureEngine. */
export function onnxFeatureEngine(
  backbone: { run(x: Float32Array, n: number): Promise<Record<string, { data: Float32Array }>>; describe(): string; concurrency: number },
  output: string = FEATURE_LAYER,
): FeatureEngine {
  return {
    describe: () => backbone.describe(),
    concurrency: backbone.concurrency,
    features: async (x, n) => {
      const out = await backbone.run(x, n);
      const t = out[output];
      if (!t) throw new Error(`the ONNX backbone has no output ${output} (outputs: ${Object.keys(out).join(', ')})`);
      return t.data;
    },
  };
}

// ---------------------------------------------------------------------------------------
// Per-image embeddings for later notebooks (05 fusion, 07 similar listings)

export interface ImageEmbeddings {
  /** Image ids, row order. */
  ids: string[];
  /** Product id of each row. */
  productIds: string[];
  dim: number;
  /** Row-major ids.length × dim float32. */
  vectors: Float32Array;
  /** What produced them (free-form, e.g. {model: 'resnet50 + mlp head', layer: 'penultimate', profile}). */
  meta: Record<string, unknown>;
}

/** Where `name`'s embeddings live: outputs/features/<name>.{f32,json}. */
export function embeddingsPaths(name: string, dir: string = PATHS.features): { data: string; index: string } {
  return { data: path.join(dir, `${name}.f32`), index: path.join(dir, `${name}.json`) };
}

/** Writes per-image embeddings: <name>.f32 (raw little-endian float32 rows) + <name>.json (ids, product ids, dim, meta). */
export function writeImageEmbeddings(name: string, emb: ImageEmbeddings, dir: string = PATHS.features): { data: string; index: string } {
  if (emb.vectors.length !== emb.ids.length * emb.dim) throw new Error(`embeddings: ${emb.vectors.length} values for ${emb.ids.length} × ${emb.dim}`);
  if (emb.productIds.length !== emb.ids.length) throw new Error('embeddings: productIds and ids differ in length');
  const files = embeddingsPaths(name, dir);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(files.data + '.tmp', new Uint8Array(emb.vectors.buffer, emb.vectors.byteOffset, emb.vectors.byteLength));
  fs.renameSync(files.data + '.tmp', files.data);
  fs.writeFileSync(files.index, JSON.stringify({ format: 'marketplace-image-embeddings', version: 1, dim: emb.dim, count: emb.ids.length, meta: emb.meta, ids: emb.ids, productIds: emb.productIds }) + '\n');
  return files;
}

/**
 * Reads embeddings written by writeImageEmbeddings, e.g. `readImageEmbeddings('resnet_image_embeddings_full')`.
 * Row i of `vectors` (i·dim … (i+1)·dim) belongs to image ids[i] of product productIds[i].
 */
export function readImageEmbeddings(name: string, dir: string = PATHS.features): ImageEmbeddings {
  const files = embeddingsPaths(name, dir);
  if (!fs.existsSync(files.index) || !fs.existsSync(files.data)) {
    throw new Error(`no embeddings '${name}' in ${dir}: run the notebook that writes them (03 for resnet_image_embeddings_<profile>)`);
  }
  const index = JSON.parse(fs.readFileSync(files.index, 'utf8')) as { dim: number; count: number; meta: Record<string, unknown>; ids: string[]; productIds: string[] };
  const buf = fs.readFileSync(files.data);
  if (buf.byteLength !== index.count * index.dim * 4) throw new Error(`${files.data}: ${buf.byteLength} bytes, expected ${index.count} × ${index.dim} float32`);
  const vectors = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  return { ids: index.ids, productIds: index.productIds, dim: index.dim, vectors, meta: index.meta };
}
