/**
 * Late fusion as a product of experts (a log-linear pool):
 *
 *   p(k | listing) = softmax_k( Σ_m a_m · log p_m(k | listing) + b_k )
 *
 * one weight a_m per model (an inverse temperature: a_m > 1 sharpens an underconfident model,
 * a_m → 0 ignores it) and one bias per class. Unlike the linear pool w·p_img + (1 − w)·p_txt,
 * a flat, weaker expert does not drag the true class's probability down: it multiplies in its
 * evidence, scaled by how much validation says to trust it. A listing without a model's input
 * (no photos for the image model) simply has no term for it — the other experts decide alone.
 *
 * The parameters minimise mean log-loss (+ a small ridge) on labelled rows. The loss is convex in
 * (a, b) — a multinomial logistic regression whose features are the experts' log-probabilities —
 * so a damped Newton method finds the optimum in a few steps; there are only M + K parameters.
 * `crossValidateLogLinear` refits on k − 1 folds and scores the held-out fold, to check that the
 * fit generalises within validation.
 */
import { accuracy, logLoss, predictionsFromProbs } from '../eval/metrics';
import { foldRows, kFoldOfGroups } from '../eval/folds';

/** One model's class probabilities per row; null where the model has no input for the row. */
export interface Expert {
  name: string;
  probs: ReadonlyArray<ArrayLike<number> | null>;
}

/** A fitted log-linear pool: what is saved in a fusion predictor. */
export interface LogLinearPool<Name extends string = string> {
  /** Expert names, in the order of `weights`. */
  experts: Name[];
  /** a_m per expert. */
  weights: number[];
  /** b_k per class. */
  bias: number[];
}

export interface LogLinearFitOptions {
  /** Ridge on weights and biases (default 1e-4): keeps the biases identifiable. */
  l2?: number;
  maxIterations?: number;
  /** Floor of a probability before its log (default 1e-7). */
  eps?: number;
}

export interface LogLinearFit extends LogLinearPool {
  logLoss: number;
  accuracy: number;
  iterations: number;
}

const DEFAULT_EPS = 1e-7;

/** The pool's probabilities for one row: `probs[m]` is expert m's row, or null (no term). */
export function logLinearRow(pool: LogLinearPool, probs: ReadonlyArray<ArrayLike<number> | null>, eps = DEFAULT_EPS): Float32Array {
  if (probs.length !== pool.weights.length) throw new Error(`log-linear pool of ${pool.experts.join(', ')}: got ${probs.length} expert rows, expected ${pool.weights.length}`);
  const k = pool.bias.length;
  const z = Float64Array.from(pool.bias);
  probs.forEach((row, m) => {
    if (!row) return;
    if (row.length !== k) throw new Error(`log-linear pool: expert '${pool.experts[m]}' gives ${row.length} classes, expected ${k}`);
    for (let c = 0; c < k; c++) z[c] += pool.weights[m] * Math.log(Math.max(row[c], eps));
  });
  return Float32Array.from(softmax(z));
}

/** The pool's probabilities for every row of the experts (given in the pool's order). */
export function logLinearProbs(pool: LogLinearPool, experts: readonly Expert[], eps = DEFAULT_EPS): number[][] {
  const n = checkExperts(experts);
  experts.forEach((e, m) => {
    if (e.name !== pool.experts[m]) throw new Error(`log-linear pool: expert ${m} is '${e.name}', the pool was fitted with '${pool.experts[m]}'`);
  });
  return Array.from({ length: n }, (_, i) => Array.from(logLinearRow(pool, experts.map((e) => e.probs[i]), eps)));
}

/** Fits weights and biases on labelled rows by damped Newton steps on the (convex) mean log-loss. */
export function fitLogLinear(experts: readonly Expert[], labels: ArrayLike<number>, options: LogLinearFitOptions = {}): LogLinearFit {
  const n = checkExperts(experts);
  if (labels.length !== n) throw new Error(`fitLogLinear: ${labels.length} labels for ${n} rows`);
  if (n === 0) throw new Error('fitLogLinear: no rows');
  const l2 = options.l2 ?? 1e-4;
  const eps = options.eps ?? DEFAULT_EPS;
  const M = experts.length;
  const first = experts.flatMap((e) => e.probs.filter((p) => p !== null)).find((p) => p !== null);
  if (!first) throw new Error('fitLogLinear: no expert has any row');
  const K = first.length;
  for (let i = 0; i < n; i++) {
    if (!(Number.isInteger(labels[i]) && labels[i] >= 0 && labels[i] < K)) throw new Error(`fitLogLinear: label of row ${i} is ${labels[i]}, classes are 0..${K - 1}`);
  }
  // Log-probabilities, row-major [n, M, K]; absent experts are zeros (no term) with a mask.
  const logp = new Float64Array(n * M * K);
  experts.forEach((e, m) => e.probs.forEach((row, i) => {
    if (!row) return;
    if (row.length !== K) throw new Error(`fitLogLinear: expert '${e.name}' row ${i} has ${row.length} classes, expected ${K}`);
    for (let c = 0; c < K; c++) logp[(i * M + m) * K + c] = Math.log(Math.max(row[c], eps));
  }));
  const P = M + K;
  const theta = new Float64Array(P);
  theta.fill(1, 0, M); // start from the plain product of experts
  const lossAt = (t: Float64Array): number => objective(t, logp, labels, n, M, K, l2).loss;
  let iterations = 0;
  const maxIterations = options.maxIterations ?? 50;
  for (; iterations < maxIterations; iterations++) {
    const { loss, grad, hess } = objective(theta, logp, labels, n, M, K, l2, true);
    const step = solveSymmetric(hess as Float64Array, grad, P);
    // Backtracking line search on the Newton direction.
    let t = 1;
    let next = theta.map((v, j) => v - t * step[j]);
    while (lossAt(next) > loss - 1e-4 * t * dot(grad, step) && t > 1e-6) {
      t /= 2;
      next = theta.map((v, j) => v - t * step[j]);
    }
    const moved = Math.max(...Array.from(step, (s) => Math.abs(t * s)));
    theta.set(next);
    if (moved < 1e-7) break;
  }
  const pool: LogLinearPool = { experts: experts.map((e) => e.name), weights: Array.from(theta.subarray(0, M)), bias: Array.from(theta.subarray(M)) };
  const probs = logLinearProbs(pool, experts, eps);
  return { ...pool, logLoss: logLoss(labels, probs), accuracy: accuracy(labels, predictionsFromProbs(probs)), iterations };
}

export interface LogLinearCrossValidation {
  folds: number;
  /** Out-of-fold probabilities of every row (each from a pool fitted without its fold). */
  probs: number[][];
  logLoss: number;
  accuracy: number;
  /** The fitted weights of each fold (their spread says how stable the fit is). */
  foldWeights: number[][];
}

/** k-fold cross-validation of the fit within the given rows (folds stratified by label; `groups` keeps rows of one group together). */
export function crossValidateLogLinear(
  experts: readonly Expert[],
  labels: ArrayLike<number>,
  options: LogLinearFitOptions & { folds?: number; seed: number; groups?: readonly string[] },
): LogLinearCrossValidation {
  const n = checkExperts(experts);
  const k = options.folds ?? 5;
  const fold = kFoldOfGroups(options.groups ?? Array.from({ length: n }, (_, i) => String(i)), labels, k, options.seed);
  const probs: number[][] = new Array(n);
  const foldWeights: number[][] = [];
  for (const { fit: inFit, held } of foldRows(fold, k)) {
    const pick = (rows: number[]) => experts.map((e) => ({ name: e.name, probs: rows.map((i) => e.probs[i]) }));
    const fit = fitLogLinear(pick(inFit), inFit.map((i) => labels[i]), options);
    foldWeights.push(fit.weights);
    logLinearProbs(fit, pick(held), options.eps).forEach((p, j) => (probs[held[j]] = p));
  }
  return { folds: k, probs, logLoss: logLoss(labels, probs), accuracy: accuracy(labels, predictionsFromProbs(probs)), foldWeights };
}

// ---------------------------------------------------------------------------------------

function checkExperts(experts: readonly Expert[]): number {
  if (experts.length === 0) throw new Error('log-linear pool: no experts');
  const n = experts[0].probs.length;
  for (const e of experts) if (e.probs.length !== n) throw new Error(`log-linear pool: expert '${e.name}' has ${e.probs.length} rows, '${experts[0].name}' ${n}`);
  return n;
}

function softmax(z: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let c = 0; c < z.length; c++) max = Math.max(max, z[c]);
  const out = new Float64Array(z.length);
  let sum = 0;
  for (let c = 0; c < z.length; c++) sum += (out[c] = Math.exp(z[c] - max));
  for (let c = 0; c < z.length; c++) out[c] /= sum;
  return out;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j] * b[j];
  return s;
}

/**
 * Mean log-loss + l2/2·|θ|² with θ = [a_1..a_M, b_1..b_K]; with `second`, its gradient and Hessian.
 * Per row, the feature vector of class c is φ_c = [log p_1(c) .. log p_M(c), e_c].
 */
function objective(theta: Float64Array, logp: Float64Array, labels: ArrayLike<number>, n: number, M: number, K: number, l2: number, second = false): { loss: number; grad: Float64Array; hess: Float64Array | null } {
  const P = M + K;
  const grad = new Float64Array(P);
  const hess = second ? new Float64Array(P * P) : null;
  let loss = 0;
  const z = new Float64Array(K);
  const phiMean = new Float64Array(P);
  for (let i = 0; i < n; i++) {
    const base = i * M * K;
    for (let c = 0; c < K; c++) {
      let v = theta[M + c];
      for (let m = 0; m < M; m++) v += theta[m] * logp[base + m * K + c];
      z[c] = v;
    }
    const q = softmax(z);
    const y = labels[i];
    loss -= Math.log(Math.max(q[y], 1e-300));
    // E_q[φ] and the gradient φ_y − E_q[φ] (negated).
    phiMean.fill(0);
    for (let c = 0; c < K; c++) {
      for (let m = 0; m < M; m++) phiMean[m] += q[c] * logp[base + m * K + c];
      phiMean[M + c] = q[c];
    }
    for (let m = 0; m < M; m++) grad[m] += phiMean[m] - logp[base + m * K + y];
    for (let c = 0; c < K; c++) grad[M + c] += phiMean[M + c] - (c === y ? 1 : 0);
    if (hess) {
      // Cov_q[φ] = E_q[φ φᵀ] − E_q[φ] E_q[φ]ᵀ
      for (let c = 0; c < K; c++) {
        const w = q[c];
        if (w < 1e-12) continue;
        for (let a = 0; a < M; a++) {
          const fa = logp[base + a * K + c];
          for (let b = 0; b < M; b++) hess[a * P + b] += w * fa * logp[base + b * K + c];
          hess[a * P + M + c] += w * fa;
          hess[(M + c) * P + a] += w * fa;
        }
        hess[(M + c) * P + M + c] += w;
      }
      for (let a = 0; a < P; a++) for (let b = 0; b < P; b++) hess[a * P + b] -= phiMean[a] * phiMean[b];
    }
  }
  loss /= n;
  for (let j = 0; j < P; j++) {
    grad[j] = grad[j] / n + l2 * theta[j];
    loss += (l2 / 2) * theta[j] * theta[j];
  }
  if (hess) {
    for (let j = 0; j < P * P; j++) hess[j] /= n;
    for (let j = 0; j < P; j++) hess[j * P + j] += l2 + 1e-9;
  }
  return { loss, grad, hess };
}

/** Solves H x = g for a symmetric positive-definite H (Gaussian elimination with partial pivoting). */
function solveSymmetric(h: Float64Array, g: ArrayLike<number>, p: number): Float64Array {
  const a = Float64Array.from(h);
  const x = Float64Array.from(g as ArrayLike<number>);
  for (let col = 0; col < p; col++) {
    let pivot = col;
    for (let r = col + 1; r < p; r++) if (Math.abs(a[r * p + col]) > Math.abs(a[pivot * p + col])) pivot = r;
    if (pivot !== col) {
      for (let j = 0; j < p; j++) [a[col * p + j], a[pivot * p + j]] = [a[pivot * p + j], a[col * p + j]];
      [x[col], x[pivot]] = [x[pivot], x[col]];
    }
    const d = a[col * p + col];
    if (Math.abs(d) < 1e-300) throw new Error('fitLogLinear: singular Hessian');
    for (let r = col + 1; r < p; r++) {
      const f = a[r * p + col] / d;
      if (f === 0) continue;
      for (let j = col; j < p; j++) a[r * p + j] -= f * a[col * p + j];
      x[r] -= f * x[col];
    }
  }
  for (let r = p - 1; r >= 0; r--) {
    let s = x[r];
    for (let j = r + 1; j < p; j++) s -= a[r * p + j] * x[j];
    x[r] = s / a[r * p + r];
  }
  return x;
}
