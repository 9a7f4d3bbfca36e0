/**
 * PCA whitening of photo descriptors, for instance-level search (another photo of the same item).
 *
 * A classification head's embedding is tuned to tell categories apart, so two photos of the
 * same sofa and of any other sofa end up close. The frozen backbone's 2048-d avg_pool vector
 * keeps instance detail, but its few dominant directions (shared by most photos: lighting,
 * background, "an indoor photo") swamp a cosine similarity. Learned whitening fixes that
 * (Radenović et al., "Fine-tuning CNN image retrieval", 2018): each vector is L2-normalised,
 * centred on the training mean, projected on the top `components` principal directions of the
 * training vectors, each direction scaled by λ^−power (power 0.5 = full whitening, smaller =
 * partial), and L2-normalised again, so a cosine similarity weighs directions evenly.
 *
 * The principal directions come from a randomised eigendecomposition (Halko et al. 2011) of the
 * covariance: a few power iterations on a random subspace (matMuls in TensorFlow.js, Cholesky QR
 * between them), then an exact eigendecomposition of the small projected matrix (ml-matrix). Fitting runs once, in a
 * notebook; a service only loads `mean` and `projection` and applies them (`whitenVector`).
 */
import { CholeskyDecomposition, EigenvalueDecomposition, Matrix, QrDecomposition } from 'ml-matrix';
import * as path from 'path';
import { tf } from '../tf/runtime';
import { f32Bytes, readF32 } from '../predictors/predictor';
import { writeFilesAtomic } from '../train/model_io';
import { ArtifactName, artifactHeader, readArtifactJson } from '../artifacts/registry';
import { contentKey } from '../artifacts/content_key';
import { resultCacheDir } from '../artifacts/result_cache';
import { EmbeddingSet, normalized } from './embedding_set';

export interface WhiteningOptions {
  /** Principal directions kept (the output width). */
  components: number;
  /** Scale of direction i: λ_i^−power (0.5 = full whitening, 0 = PCA only). Default 0.5. */
  power?: number;
  seed?: number;
  /** Power iterations of the randomised eigendecomposition (default 4). */
  iterations?: number;
}

export interface Whitening {
  inputDim: number;
  outputDim: number;
  power: number;
  /** Mean of the L2-normalised training vectors (inputDim). */
  mean: Float32Array;
  /** Row-major [inputDim, outputDim]: principal directions already scaled by λ^−power. */
  projection: Float32Array;
  /** Eigenvalues of the kept directions, largest first. */
  eigenvalues: number[];
  /** Training vectors it was fitted on. */
  fittedOn: number;
}

/** Fits the whitening on row-major training vectors `x` of width `dim`. Call initTf() first. */
export function fitWhitening(x: Float32Array, dim: number, options: WhiteningOptions): Whitening {
  const n = x.length / dim;
  const r = options.components;
  const power = options.power ?? 0.5;
  if (!Number.isInteger(n) || n < 2) throw new Error(`fitWhitening: ${x.length} values are not ≥ 2 rows of ${dim}`);
  if (!(Number.isInteger(r) && r >= 1 && r <= Math.min(dim, n - 1))) throw new Error(`fitWhitening: components must be in 1..${Math.min(dim, n - 1)}, got ${r}`);
  const rows = new Float32Array(x.length);
  for (let i = 0; i < n; i++) rows.set(normalized(x.subarray(i * dim, (i + 1) * dim)), i * dim);
  const mean = new Float32Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += rows[i * dim + j] / n;
  const cov = tf.tidy(() => {
    const centred = tf.sub(tf.tensor2d(rows, [n, dim]), tf.tensor2d(mean, [1, dim]));
    // An explicit transpose: matMul with transposeA set is ~40× slower on wasm (src/models/head.ts).
    return tf.div(tf.matMul(tf.transpose(centred), centred), n) as tf.Tensor2D;
  });
  // Randomised subspace iteration: Q spans the top eigenvectors of the covariance.
  const width = Math.min(dim, r + Math.max(10, Math.ceil(r / 4)));
  let q = orthonormal(tf.randomNormal([dim, width], 0, 1, 'float32', options.seed ?? 0) as tf.Tensor2D);
  for (let it = 0; it < (options.iterations ?? 4); it++) {
    const next = orthonormal(tf.matMul(cov, q));
    q.dispose();
    q = next;
  }
  const cq = tf.matMul(cov, q);
  cov.dispose();
  const small = new Matrix(tf.tidy(() => tf.matMul(tf.transpose(q), cq)).arraySync() as number[][]);
  cq.dispose();
  const evd = new EigenvalueDecomposition(small.add(small.transpose()).div(2), { assumeSymmetric: true });
  const order = evd.realEigenvalues.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0]).slice(0, r);
  const directions = new Matrix(tf.tidy(() => tf.matMul(q, tf.tensor2d(evd.eigenvectorMatrix.to2DArray()))).arraySync() as number[][]);
  q.dispose();
  const eigenvalues = order.map(([v]) => Math.max(v, 0));
  const floor = 1e-6 * (eigenvalues[0] || 1);
  const projection = new Float32Array(dim * r);
  order.forEach(([, col], k) => {
    const scale = (eigenvalues[k] + floor) ** -power;
    for (let j = 0; j < dim; j++) projection[j * r + k] = directions.get(j, col) * scale;
  });
  return { inputDim: dim, outputDim: r, power, mean, projection, eigenvalues, fittedOn: n };
}

/**
 * `fitWhitening`, kept in the result cache (data/clean/results/whitening_<key>/, keyed by the
 * training vectors' bytes and the options), so a warm run of notebook 07 re-reads its fits
 * (about half a minute each on 2 cores) instead of repeating them.
 */
export function fitWhiteningCached(x: Float32Array, dim: number, options: WhiteningOptions, dir: string = resultCacheDir()): Whitening {
  const folder = path.join(dir, `whitening_${contentKey({ v: 1, dim, options, x: contentKey(x) })}`);
  try {
    return readWhitening(folder, 'search_index');
  } catch {
    // absent, or a write cut short (the header is written last): fit it
  }
  const w = fitWhitening(x, dim, options);
  writeWhitening(folder, w, 'search_index');
  return w;
}

/** One vector whitened: normalise, centre, project, normalise. */
export function whitenVector(w: Whitening, v: ArrayLike<number>): Float32Array {
  if (v.length !== w.inputDim) throw new Error(`whitening: a vector of ${v.length} values, expected ${w.inputDim}`);
  const u = normalized(v);
  for (let j = 0; j < u.length; j++) u[j] -= w.mean[j];
  const out = new Float32Array(w.outputDim);
  for (let j = 0; j < w.inputDim; j++) {
    const uj = u[j];
    if (uj === 0) continue;
    const base = j * w.outputDim;
    for (let k = 0; k < w.outputDim; k++) out[k] += uj * w.projection[base + k];
  }
  return normalized(out);
}

/** Every row of a set whitened (batched through TensorFlow.js). */
export function whitenSet(w: Whitening, set: EmbeddingSet, batchSize = 2048): EmbeddingSet {
  if (set.dim !== w.inputDim) throw new Error(`whitening: the set is ${set.dim}-d, expected ${w.inputDim}`);
  const n = set.ids.length;
  const out = new Float32Array(n * w.outputDim);
  const p = tf.tensor2d(w.projection, [w.inputDim, w.outputDim]);
  const m = tf.tensor2d(w.mean, [1, w.inputDim]);
  for (let start = 0; start < n; start += batchSize) {
    const rows = Math.min(batchSize, n - start);
    const y = tf.tidy(() => {
      const x = tf.tensor2d(set.vectors.subarray(start * set.dim, (start + rows) * set.dim), [rows, set.dim]);
      const u = tf.sub(tf.div(x, tf.maximum(tf.norm(x, 'euclidean', 1, true), 1e-12)), m);
      const z = tf.matMul(u, p);
      return tf.div(z, tf.maximum(tf.norm(z, 'euclidean', 1, true), 1e-12));
    });
    out.set(y.dataSync() as Float32Array, start * w.outputDim);
    y.dispose();
  }
  tf.dispose([p, m]);
  return { ids: set.ids.slice(), dim: w.outputDim, vectors: out };
}

// ---------------------------------------------------------------------------------------
// On disk: <dir>/whitening.json (header, dims, eigenvalues) + mean.f32 + projection.f32

export const WHITENING_FILES = { header: 'whitening.json', mean: 'whitening_mean.f32', projection: 'whitening_projection.f32' } as const;

interface WhiteningHeader {
  artifact: ArtifactName;
  version: number;
  inputDim: number;
  outputDim: number;
  power: number;
  eigenvalues: number[];
  fittedOn: number;
}

/** Writes the whitening into `dir` under the header of artifact `artifact` (the artifact it belongs to). */
export function writeWhitening(dir: string, w: Whitening, artifact: ArtifactName): void {
  const header: WhiteningHeader = { ...artifactHeader(artifact), inputDim: w.inputDim, outputDim: w.outputDim, power: w.power, eigenvalues: w.eigenvalues, fittedOn: w.fittedOn };
  writeFilesAtomic(dir, {
    [WHITENING_FILES.mean]: f32Bytes(w.mean),
    [WHITENING_FILES.projection]: f32Bytes(w.projection),
    [WHITENING_FILES.header]: JSON.stringify(header, null, 1) + '\n',
  });
}

export function readWhitening(dir: string, artifact: ArtifactName): Whitening {
  const h = readArtifactJson<WhiteningHeader>(artifact, path.join(dir, WHITENING_FILES.header));
  const mean = readF32(path.join(dir, WHITENING_FILES.mean));
  const projection = readF32(path.join(dir, WHITENING_FILES.projection));
  if (mean.length !== h.inputDim || projection.length !== h.inputDim * h.outputDim) {
    throw new Error(`${dir}: whitening files hold ${mean.length} + ${projection.length} values for ${h.inputDim} → ${h.outputDim}`);
  }
  return { inputDim: h.inputDim, outputDim: h.outputDim, power: h.power, mean, projection, eigenvalues: h.eigenvalues, fittedOn: h.fittedOn };
}

// ---------------------------------------------------------------------------------------

/**
 * An orthonormal basis of the columns of `y` (which it disposes), by Cholesky QR done twice (Fukaya et al.
 * 2014): R = chol(YᵀY), Q = Y·R⁻¹. The products run in TensorFlow.js, only the small Gram matrix
 * in float64 (ml-matrix): ~10× faster than ml-matrix's Householder QR on 2048 × 640. The first
 * pass leaves Q orthonormal to ~cond(Y)²·ε, the second to ~ε. Falls back to Householder QR if
 * the Gram matrix is not positive definite (nearly dependent columns).
 */
function orthonormal(y: tf.Tensor2D): tf.Tensor2D {
  let q = y;
  for (let pass = 0; pass < 2; pass++) {
    const gram = new Matrix(tf.tidy(() => tf.matMul(tf.transpose(q), q)).arraySync() as number[][]);
    const chol = new CholeskyDecomposition(gram);
    if (!chol.isPositiveDefinite()) {
      const basis = new QrDecomposition(new Matrix(q.arraySync())).orthogonalMatrix;
      q.dispose();
      return tf.tensor2d(basis.to2DArray());
    }
    const next: tf.Tensor2D = tf.tidy(() => tf.matMul(q, tf.tensor2d(inverseTransposed(chol.lowerTriangularMatrix), [gram.rows, gram.rows])));
    q.dispose();
    q = next;
  }
  return q;
}

/** (L⁻¹)ᵀ, row-major, for a lower-triangular L: forward substitution, column by column of L⁻¹. */
function inverseTransposed(l: Matrix): Float32Array {
  const n = l.rows;
  const a = l.to2DArray();
  const out = new Float32Array(n * n);
  const x = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    x.fill(0);
    for (let i = j; i < n; i++) {
      let sum = i === j ? 1 : 0;
      const row = a[i];
      for (let k = j; k < i; k++) sum -= row[k] * x[k];
      x[i] = sum / row[i];
    }
    // Column j of L⁻¹ is row j of (L⁻¹)ᵀ.
    for (let i = j; i < n; i++) out[j * n + i] = x[i];
  }
  return out;
}
