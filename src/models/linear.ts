/**
 * Linear regression models: OLS, ridge, lasso and elastic net, plus a validation-set grid search.
 *
 * ml-regression has no ridge or lasso, so they are written here. Objectives match
 * scikit-learn's so alphas carry over from the original exercise:
 *   Ridge:       ||y - Xw - b||² + alpha·||w||²
 *   ElasticNet:  (1/(2n))·||y - Xw - b||² + alpha·l1Ratio·||w||₁ + ½·alpha·(1 - l1Ratio)·||w||²
 *   Lasso:       ElasticNet with l1Ratio = 1
 * The intercept b is never penalised: X and y are centred, the model is fitted without an
 * intercept, and b = mean(y) - mean(X)·w.
 *
 * OLS is ml-regression's MultivariateLinearRegression wherever the design has full column rank
 * (with the intercept). On a collinear design (a full one-hot block beside the intercept,
 * sub-categories nested in main categories) the coefficients are not identified: fitOLS then
 * returns our minimum-norm least-squares solution, or, with `solver: 'ml-regression'`, drops the
 * aliased columns (as R's lm does) and fits ml-regression on the rest. Both give the same fitted
 * values; the tests check that.
 */
import { SingularValueDecomposition } from 'ml-matrix';

/** ml-regression ships no type declarations; its MultivariateLinearRegression is this package's class. */
type MultivariateLinearRegressionClass = typeof import('ml-regression-multivariate-linear');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { MultivariateLinearRegression } = require('ml-regression') as { MultivariateLinearRegression: MultivariateLinearRegressionClass };

/** Rows of features (number[][] or an array of typed arrays). */
export type DesignMatrix = ArrayLike<ArrayLike<number>>;

export interface LinearModel {
  /** 'ols' | 'ridge' | 'lasso' | 'elastic_net'. */
  kind: string;
  coef: number[];
  intercept: number;
  predict(X: DesignMatrix): number[];
  /** How the fit went (iterations, duality gap, whether a pseudo-inverse was needed …). */
  info: Record<string, number | boolean | string>;
}

export interface InterceptOption {
  /** Fit an unpenalised intercept (default true). */
  fitIntercept?: boolean;
}

/** A model from stored coefficients (e.g. loaded from JSON). */
export function linearModel(
  kind: string,
  coef: ArrayLike<number>,
  intercept: number,
  info: Record<string, number | boolean | string> = {},
): LinearModel {
  const w = Array.from(coef);
  return {
    kind,
    coef: w,
    intercept,
    info,
    predict(X: DesignMatrix): number[] {
      const out = new Array<number>(X.length);
      for (let i = 0; i < X.length; i++) {
        const row = X[i];
        if (row.length !== w.length) {
          throw new Error(`row ${i} has ${row.length} features but the model was fitted on ${w.length}`);
        }
        let s = intercept;
        for (let j = 0; j < w.length; j++) s += w[j] * row[j];
        out[i] = s;
      }
      return out;
    },
  };
}

// ---------------------------------------------------------------------------
// Centred, column-major design (shared by every solver)
// ---------------------------------------------------------------------------

interface CentredDesign {
  n: number;
  p: number;
  /** Column j occupies cols[j*n .. (j+1)*n): contiguous columns keep coordinate descent cache-friendly. */
  cols: Float64Array;
  /** Non-zero entries of the raw X (one-hot and TF-IDF blocks are mostly zeros). */
  nonZeros: number;
  xMean: Float64Array;
  y: Float64Array;
  yMean: number;
}

function centredDesign(X: DesignMatrix, yIn: ArrayLike<number>, fitIntercept: boolean): CentredDesign {
  const n = X.length;
  if (n === 0) throw new Error('cannot fit a linear model on zero rows');
  if (yIn.length !== n) throw new Error(`X and y differ in length: ${n} rows vs ${yIn.length} targets`);
  const p = X[0].length;
  const cols = new Float64Array(n * p);
  const xMean = new Float64Array(p);
  let nonZeros = 0;
  for (let i = 0; i < n; i++) {
    const row = X[i];
    if (row.length !== p) throw new Error(`row ${i} has ${row.length} features, row 0 has ${p}`);
    for (let j = 0; j < p; j++) {
      const v = row[j];
      if (v === 0) continue;
      if (!Number.isFinite(v)) throw new Error(`X[${i}][${j}] is not finite: ${v}`);
      cols[j * n + i] = v;
      xMean[j] += v;
      nonZeros++;
    }
  }
  const y = new Float64Array(n);
  let yMean = 0;
  for (let i = 0; i < n; i++) {
    const v = yIn[i];
    if (!Number.isFinite(v)) throw new Error(`y[${i}] is not finite: ${v}`);
    y[i] = v;
    yMean += v;
  }
  if (fitIntercept) {
    yMean /= n;
    for (let i = 0; i < n; i++) y[i] -= yMean;
    for (let j = 0; j < p; j++) {
      const m = xMean[j] / n;
      xMean[j] = m;
      const off = j * n;
      for (let i = 0; i < n; i++) cols[off + i] -= m;
    }
  } else {
    yMean = 0;
    xMean.fill(0);
  }
  return { n, p, cols, nonZeros, xMean, y, yMean };
}

function interceptFor(d: CentredDesign, w: ArrayLike<number>): number {
  let b = d.yMean;
  for (let j = 0; j < d.p; j++) b -= d.xMean[j] * w[j];
  return b;
}

/**
 * XcᵀXc (row-major p×p). Mostly-zero designs take the sparse route: accumulate XᵀX from each
 * row's non-zeros, then centre with XcᵀXc = XᵀX - n·x̄x̄ᵀ (≈50× faster on one-hot + TF-IDF).
 */
function gram(d: CentredDesign, X: DesignMatrix): Float64Array {
  return d.nonZeros < 0.25 * d.n * d.p ? gramSparse(d, X) : gramDense(d);
}

function gramDense(d: CentredDesign): Float64Array {
  const { n, p, cols } = d;
  const g = new Float64Array(p * p);
  for (let a = 0; a < p; a++) {
    const oa = a * n;
    let b = a;
    // Four dot products per pass over column a: about 2× faster than one at a time.
    for (; b + 3 < p; b += 4) {
      const o0 = b * n;
      const o1 = o0 + n;
      const o2 = o1 + n;
      const o3 = o2 + n;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let i = 0; i < n; i++) {
        const v = cols[oa + i];
        s0 += v * cols[o0 + i];
        s1 += v * cols[o1 + i];
        s2 += v * cols[o2 + i];
        s3 += v * cols[o3 + i];
      }
      g[a * p + b] = g[b * p + a] = s0;
      g[a * p + b + 1] = g[(b + 1) * p + a] = s1;
      g[a * p + b + 2] = g[(b + 2) * p + a] = s2;
      g[a * p + b + 3] = g[(b + 3) * p + a] = s3;
    }
    for (; b < p; b++) {
      const ob = b * n;
      let s = 0;
      for (let i = 0; i < n; i++) s += cols[oa + i] * cols[ob + i];
      g[a * p + b] = g[b * p + a] = s;
    }
  }
  return g;
}

function gramSparse(d: CentredDesign, X: DesignMatrix): Float64Array {
  const { n, p, xMean } = d;
  const g = new Float64Array(p * p);
  const idx = new Int32Array(p);
  const val = new Float64Array(p);
  for (let i = 0; i < n; i++) {
    const row = X[i];
    let nnz = 0;
    for (let j = 0; j < p; j++) {
      const v = row[j];
      if (v !== 0) {
        idx[nnz] = j;
        val[nnz++] = v;
      }
    }
    for (let a = 0; a < nnz; a++) {
      const base = idx[a] * p;
      const va = val[a];
      for (let b = a; b < nnz; b++) g[base + idx[b]] += va * val[b];
    }
  }
  for (let a = 0; a < p; a++) {
    for (let b = a; b < p; b++) {
      const s = g[a * p + b] - n * xMean[a] * xMean[b];
      g[a * p + b] = s;
      g[b * p + a] = s;
    }
  }
  return g;
}

function xty(d: CentredDesign): Float64Array {
  const { n, p, cols, y } = d;
  const out = new Float64Array(p);
  for (let j = 0; j < p; j++) {
    const o = j * n;
    let s = 0;
    for (let i = 0; i < n; i++) s += cols[o + i] * y[i];
    out[j] = s;
  }
  return out;
}

/**
 * Solves A x = b for symmetric positive semi-definite A (row-major p×p).
 * Cholesky when A is safely positive definite; otherwise (collinear columns, e.g. a full
 * one-hot block with an intercept) the minimum-norm solution through a pseudo-inverse.
 */
function solveSymmetric(a: Float64Array, b: Float64Array, p: number): { x: Float64Array; pseudoInverse: boolean } {
  const x = choleskySolve(a, b, p);
  if (x) return { x, pseudoInverse: false };
  const rows: number[][] = [];
  for (let i = 0; i < p; i++) rows.push(Array.from(a.subarray(i * p, (i + 1) * p)));
  const svd = new SingularValueDecomposition(rows, { autoTranspose: true });
  const s = svd.diagonal;
  const U = svd.leftSingularVectors;
  const V = svd.rightSingularVectors;
  const cutoff = Math.max(...s) * 1e-10;
  const out = new Float64Array(p);
  for (let k = 0; k < s.length; k++) {
    if (s[k] <= cutoff) continue;
    let utb = 0;
    for (let i = 0; i < p; i++) utb += U.get(i, k) * b[i];
    const scale = utb / s[k];
    for (let i = 0; i < p; i++) out[i] += V.get(i, k) * scale;
  }
  return { x: out, pseudoInverse: true };
}

/** Returns null when a pivot is not clearly positive (matrix singular to working precision). */
function choleskySolve(a: Float64Array, b: Float64Array, p: number): Float64Array | null {
  let maxDiag = 0;
  for (let i = 0; i < p; i++) maxDiag = Math.max(maxDiag, a[i * p + i]);
  const floor = maxDiag * 1e-10;
  const L = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * p + j];
      for (let k = 0; k < j; k++) s -= L[i * p + k] * L[j * p + k];
      if (i === j) {
        if (!(s > floor)) return null;
        L[i * p + i] = Math.sqrt(s);
      } else {
        L[i * p + j] = s / L[j * p + j];
      }
    }
  }
  const z = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= L[i * p + k] * z[k];
    z[i] = s / L[i * p + i];
  }
  const x = new Float64Array(p);
  for (let i = p - 1; i >= 0; i--) {
    let s = z[i];
    for (let k = i + 1; k < p; k++) s -= L[k * p + i] * x[k];
    x[i] = s / L[i * p + i];
  }
  return x;
}

// ---------------------------------------------------------------------------
// Closed-form fits
// ---------------------------------------------------------------------------

/**
 * Ridge regression (sklearn's Ridge objective) by the normal equations
 * (XcᵀXc + alpha·I) w = Xcᵀyc on centred data, so the intercept is not shrunk.
 */
export function fitRidge(X: DesignMatrix, y: ArrayLike<number>, alpha: number, options: InterceptOption = {}): LinearModel {
  if (!(alpha >= 0) || !Number.isFinite(alpha)) throw new Error(`ridge alpha must be a finite number >= 0, got ${alpha}`);
  return closedForm(alpha === 0 ? 'ols' : 'ridge', X, y, alpha, options.fitIntercept ?? true);
}

export interface OLSOptions extends InterceptOption {
  /**
   * - 'auto' (default): ml-regression's MultivariateLinearRegression when the design has full
   *   column rank; otherwise the minimum-norm least-squares solution (info.pseudoInverse true).
   * - 'ml-regression': always ml-regression; aliased columns (exact linear combinations of
   *   earlier ones, found by a pivoted Cholesky of the centred Gram matrix) are left out and
   *   get coefficient 0 (info.aliased counts them), as R's lm does.
   * - 'normal-equations': our solver only (Cholesky, or the pseudo-inverse when collinear).
   */
  solver?: 'auto' | 'ml-regression' | 'normal-equations';
}

/**
 * Ordinary least squares with an intercept. Collinear columns do not fail: see OLSOptions.solver.
 * info.solver says which path ran ('ml-regression' or 'normal-equations').
 */
export function fitOLS(X: DesignMatrix, y: ArrayLike<number>, options: OLSOptions = {}): LinearModel {
  const fitIntercept = options.fitIntercept ?? true;
  const solver = options.solver ?? 'auto';
  if (solver === 'normal-equations') return closedForm('ols', X, y, 0, fitIntercept);
  const d = centredDesign(X, y, fitIntercept);
  const keep = independentColumns(gram(d, X), d.p);
  if (keep.length < d.p && solver === 'auto') return closedForm('ols', X, y, 0, fitIntercept);
  return fitMultivariateLinear(X, y, keep, d.p, fitIntercept);
}

/**
 * Indices of a maximal set of linearly independent columns, earliest first: a pivoted
 * Cholesky of the (centred) Gram matrix in column order, where a column whose residual
 * squared norm falls below 1e-9 of its own is a combination of the ones kept before it.
 */
export function independentColumns(gramMatrix: Float64Array, p: number, relTol = 1e-9): number[] {
  const keep: number[] = [];
  // L rows for the kept columns: L[k] holds column keep[k]'s coordinates in the orthogonal basis.
  const basis: Float64Array[] = [];
  for (let j = 0; j < p; j++) {
    const gjj = gramMatrix[j * p + j];
    if (!(gjj > 0)) continue; // constant column (zero after centring)
    const coords = new Float64Array(keep.length + 1);
    let rest = gjj;
    for (let k = 0; k < keep.length; k++) {
      const lk = basis[k];
      let s = gramMatrix[keep[k] * p + j];
      for (let m = 0; m < k; m++) s -= lk[m] * coords[m];
      coords[k] = s / lk[k];
      rest -= coords[k] * coords[k];
    }
    if (rest > relTol * gjj) {
      coords[keep.length] = Math.sqrt(rest);
      keep.push(j);
      basis.push(coords);
    }
  }
  return keep;
}

function fitMultivariateLinear(X: DesignMatrix, y: ArrayLike<number>, keep: number[], p: number, fitIntercept: boolean): LinearModel {
  const xs: number[][] = [];
  const ys: number[][] = [];
  for (let i = 0; i < X.length; i++) {
    const row = X[i];
    const r = new Array<number>(keep.length);
    for (let k = 0; k < keep.length; k++) r[k] = row[keep[k]];
    xs.push(r);
    ys.push([y[i]]);
  }
  const coef = new Array<number>(p).fill(0);
  let intercept = 0;
  if (keep.length === 0) {
    // Nothing but the intercept (every column constant): predict the mean.
    intercept = fitIntercept ? ys.reduce((s, v) => s + v[0], 0) / ys.length : 0;
  } else {
    const mlr = new MultivariateLinearRegression(xs, ys, { intercept: fitIntercept, statistics: false });
    keep.forEach((j, k) => (coef[j] = mlr.weights[k][0]));
    intercept = fitIntercept ? mlr.weights[keep.length][0] : 0;
  }
  return linearModel('ols', coef, intercept, { alpha: 0, pseudoInverse: false, solver: 'ml-regression', aliased: p - keep.length });
}

function closedForm(kind: string, X: DesignMatrix, y: ArrayLike<number>, alpha: number, fitIntercept: boolean): LinearModel {
  const d = centredDesign(X, y, fitIntercept);
  const a = gram(d, X);
  for (let j = 0; j < d.p; j++) a[j * d.p + j] += alpha;
  const { x: w, pseudoInverse } = solveSymmetric(a, xty(d), d.p);
  return linearModel(kind, w, interceptFor(d, w), { alpha, pseudoInverse, solver: 'normal-equations' });
}

// ---------------------------------------------------------------------------
// Coordinate descent: lasso and elastic net
// ---------------------------------------------------------------------------

export interface ElasticNetOptions extends InterceptOption {
  alpha: number;
  /** Share of the penalty that is L1 (1 = lasso, 0 = ridge). Default 0.5, as sklearn. */
  l1Ratio?: number;
  /** Full passes over the features (default 1000). */
  maxIter?: number;
  /** Stop when the duality gap < tol·||y - mean(y)||² (sklearn's criterion; default 1e-4). */
  tol?: number;
  /** Starting coefficients (e.g. the previous alpha's fit along a path). */
  warmStart?: ArrayLike<number>;
  /** Warn on the console when maxIter ends before convergence (default true). */
  warnIfNotConverged?: boolean;
  /** Descend on the Gram matrix XᵀX: 'auto' (default) when rows outnumber features, as sklearn. */
  precompute?: boolean | 'auto';
}

/**
 * Elastic net by cyclic coordinate descent, following sklearn's enet_coordinate_descent
 * (and its _gram variant): a duality-gap check runs once the largest coefficient update is
 * small relative to the largest coefficient.
 */
export function fitElasticNet(X: DesignMatrix, yIn: ArrayLike<number>, options: ElasticNetOptions): LinearModel {
  const alpha = options.alpha;
  const l1Ratio = options.l1Ratio ?? 0.5;
  const maxIter = options.maxIter ?? 1000;
  const tol = options.tol ?? 1e-4;
  if (!(alpha >= 0) || !Number.isFinite(alpha)) throw new Error(`elastic net alpha must be a finite number >= 0, got ${alpha}`);
  if (!(l1Ratio >= 0 && l1Ratio <= 1)) throw new Error(`l1Ratio must lie in [0, 1], got ${l1Ratio}`);
  if (!Number.isInteger(maxIter) || maxIter < 1) throw new Error(`maxIter must be a positive integer, got ${maxIter}`);

  const d = centredDesign(X, yIn, options.fitIntercept ?? true);
  const { n, p, y } = d;
  const kind = l1Ratio === 1 ? 'lasso' : 'elastic_net';
  const w = new Float64Array(p);
  if (options.warmStart) {
    if (options.warmStart.length !== p) throw new Error(`warmStart has ${options.warmStart.length} coefficients, X has ${p} features`);
    for (let j = 0; j < p; j++) w[j] = options.warmStart[j];
  }
  let yNormSq = 0;
  for (let i = 0; i < n; i++) yNormSq += y[i] * y[i];
  if (yNormSq === 0) {
    // Constant target: the intercept explains everything and every coefficient is 0.
    w.fill(0);
    return linearModel(kind, w, interceptFor(d, w), { alpha, l1Ratio, iterations: 0, dualGap: 0, converged: true, solver: 'none' });
  }
  const precompute = options.precompute ?? 'auto';
  const useGram = precompute === true || (precompute === 'auto' && n > p);
  const problem: CdProblem = {
    // sklearn multiplies the objective by n: ½||r||² + l1Reg·||w||₁ + ½·l2Reg·||w||².
    l1Reg: alpha * l1Ratio * n,
    l2Reg: alpha * (1 - l1Ratio) * n,
    maxIter,
    tol,
    gapTol: tol * yNormSq,
    yNormSq,
  };
  const run = useGram ? cdGram(d, X, w, problem) : cdResidual(d, w, problem);
  const dualGap = run.gap / n; // on the scale of sklearn's reported objective
  if (!run.converged && (options.warnIfNotConverged ?? true)) {
    console.warn(
      `${kind} (alpha=${alpha}, l1Ratio=${l1Ratio}) did not converge in ${maxIter} iterations: ` +
        `duality gap ${dualGap.toExponential(2)} > tolerance ${(problem.gapTol / n).toExponential(2)}; raise maxIter or scale the features`,
    );
  }
  return linearModel(kind, w, interceptFor(d, w), {
    alpha,
    l1Ratio,
    iterations: run.iterations,
    dualGap,
    converged: run.converged,
    solver: useGram ? 'gram' : 'residual',
  });
}

interface CdProblem {
  l1Reg: number;
  l2Reg: number;
  maxIter: number;
  tol: number;
  gapTol: number;
  yNormSq: number;
}

interface CdRun {
  iterations: number;
  gap: number;
  converged: boolean;
}

/** Soft-thresholded coordinate update: argmin over w_j with the other coefficients fixed. */
function coordinateUpdate(tmp: number, normSq: number, l1Reg: number, l2Reg: number): number {
  const shrunk = Math.abs(tmp) - l1Reg;
  return shrunk > 0 ? (Math.sign(tmp) * shrunk) / (normSq + l2Reg) : 0;
}

/** Residual-updating descent (cost 2n per coordinate): best when p >= n. Updates w in place. */
function cdResidual(d: CentredDesign, w: Float64Array, pr: CdProblem): CdRun {
  const { n, p, cols, y } = d;
  const normSq = new Float64Array(p);
  for (let j = 0; j < p; j++) {
    const o = j * n;
    let s = 0;
    for (let i = 0; i < n; i++) s += cols[o + i] * cols[o + i];
    normSq[j] = s;
  }
  const r = Float64Array.from(y); // r = y - Xw
  for (let j = 0; j < p; j++) {
    if (w[j] === 0) continue;
    const o = j * n;
    for (let i = 0; i < n; i++) r[i] -= w[j] * cols[o + i];
  }
  const xtr = new Float64Array(p);
  const gapNow = (): number => {
    for (let j = 0; j < p; j++) {
      const o = j * n;
      let s = 0;
      for (let i = 0; i < n; i++) s += cols[o + i] * r[i];
      xtr[j] = s;
    }
    let rNormSq = 0;
    let ry = 0;
    for (let i = 0; i < n; i++) {
      rNormSq += r[i] * r[i];
      ry += r[i] * y[i];
    }
    return dualityGap(w, xtr, rNormSq, ry, pr.l1Reg, pr.l2Reg);
  };
  let gap = Infinity;
  for (let iter = 0; iter < pr.maxIter; iter++) {
    let wMax = 0;
    let dwMax = 0;
    for (let j = 0; j < p; j++) {
      if (normSq[j] === 0) continue; // a constant column carries no information
      const o = j * n;
      const wOld = w[j];
      // Correlation of column j with the partial residual (r with w_j's share added back).
      let dot = 0;
      for (let i = 0; i < n; i++) dot += cols[o + i] * r[i];
      const wNew = coordinateUpdate(dot + normSq[j] * wOld, normSq[j], pr.l1Reg, pr.l2Reg);
      if (wNew !== wOld) {
        const delta = wOld - wNew;
        for (let i = 0; i < n; i++) r[i] += delta * cols[o + i];
        w[j] = wNew;
      }
      dwMax = Math.max(dwMax, Math.abs(wNew - wOld));
      wMax = Math.max(wMax, Math.abs(wNew));
    }
    if (wMax === 0 || dwMax / wMax < pr.tol || iter === pr.maxIter - 1) {
      gap = gapNow();
      if (gap < pr.gapTol) return { iterations: iter + 1, gap, converged: true };
    }
  }
  return { iterations: pr.maxIter, gap, converged: false };
}

/**
 * Covariance-updating descent on the Gram matrix Q = XcᵀXc (cost p per changed coordinate
 * after one Q): best when n > p, and the only way 5,000 × 300 fits with small alphas stay fast.
 * Keeps h = Q·w, so the residual correlation is Xcᵀr = Xcᵀy - h.
 */
function cdGram(d: CentredDesign, X: DesignMatrix, w: Float64Array, pr: CdProblem): CdRun {
  const { p } = d;
  const Q = gram(d, X);
  const q = xty(d);
  const h = new Float64Array(p);
  for (let a = 0; a < p; a++) {
    if (w[a] === 0) continue;
    const base = a * p;
    for (let b = 0; b < p; b++) h[b] += w[a] * Q[base + b];
  }
  const xtr = new Float64Array(p);
  const gapNow = (): number => {
    let wq = 0;
    let wh = 0;
    for (let j = 0; j < p; j++) {
      xtr[j] = q[j] - h[j];
      wq += w[j] * q[j];
      wh += w[j] * h[j];
    }
    // ||y - Xw||² = yᵀy - 2wᵀXᵀy + wᵀQw and rᵀy = yᵀy - wᵀXᵀy, without touching the n rows.
    const rNormSq = Math.max(0, pr.yNormSq - 2 * wq + wh);
    return dualityGap(w, xtr, rNormSq, pr.yNormSq - wq, pr.l1Reg, pr.l2Reg);
  };
  let gap = Infinity;
  for (let iter = 0; iter < pr.maxIter; iter++) {
    let wMax = 0;
    let dwMax = 0;
    for (let j = 0; j < p; j++) {
      const normSq = Q[j * p + j];
      if (normSq <= 0) continue;
      const wOld = w[j];
      const wNew = coordinateUpdate(q[j] - h[j] + normSq * wOld, normSq, pr.l1Reg, pr.l2Reg);
      if (wNew !== wOld) {
        const delta = wNew - wOld;
        const base = j * p;
        for (let b = 0; b < p; b++) h[b] += delta * Q[base + b];
        w[j] = wNew;
      }
      dwMax = Math.max(dwMax, Math.abs(wNew - wOld));
      wMax = Math.max(wMax, Math.abs(wNew));
    }
    if (wMax === 0 || dwMax / wMax < pr.tol || iter === pr.maxIter - 1) {
      gap = gapNow();
      if (gap < pr.gapTol) return { iterations: iter + 1, gap, converged: true };
    }
  }
  return { iterations: pr.maxIter, gap, converged: false };
}

/**
 * Duality gap of ½||r||² + l1Reg·||w||₁ + ½·l2Reg·||w||² (sklearn's formula), given Xcᵀr, ||r||²
 * and rᵀy. The dual point is the residual scaled to satisfy the L1 box constraint; with no L1
 * part (pure ridge) the dual is unconstrained and the scale is 1, so the gap is 0 at the
 * ridge solution (sklearn scales by 0 there and never converges).
 */
function dualityGap(w: Float64Array, xtr: Float64Array, rNormSq: number, ry: number, l1Reg: number, l2Reg: number): number {
  let dualNorm = 0;
  let wNormSq = 0;
  let l1Norm = 0;
  for (let j = 0; j < w.length; j++) {
    dualNorm = Math.max(dualNorm, Math.abs(xtr[j] - l2Reg * w[j]));
    wNormSq += w[j] * w[j];
    l1Norm += Math.abs(w[j]);
  }
  let scale = 1;
  let gap = rNormSq;
  if (l1Reg > 0 && dualNorm > l1Reg) {
    scale = l1Reg / dualNorm;
    gap = 0.5 * (rNormSq + rNormSq * scale * scale);
  }
  return gap + l1Reg * l1Norm - scale * ry + 0.5 * l2Reg * (1 + scale * scale) * wNormSq;
}

/** Lasso: elastic net with l1Ratio = 1 (sklearn's Lasso objective). */
export function fitLasso(X: DesignMatrix, y: ArrayLike<number>, options: Omit<ElasticNetOptions, 'l1Ratio'>): LinearModel {
  return fitElasticNet(X, y, { ...options, l1Ratio: 1 });
}

// ---------------------------------------------------------------------------
// Model selection on a validation split
// ---------------------------------------------------------------------------

export interface GridResult<P> {
  params: P;
  score: number;
  fitSeconds: number;
  model: LinearModel;
}

export interface GridSearchResult<P> {
  /** One entry per grid point, in grid order (ready to plot as a validation curve). */
  results: GridResult<P>[];
  best: GridResult<P>;
}

export interface GridSearchOptions {
  /** True (default) for scores like R², false for errors like RMSE. */
  greaterIsBetter?: boolean;
}

/**
 * Fits one model per grid point on the training split and scores it on the validation split.
 * Non-finite scores are kept in `results` but never chosen as best.
 */
export function gridSearch<P>(
  fitFn: (X: DesignMatrix, y: ArrayLike<number>, params: P) => LinearModel,
  grid: P[],
  Xtrain: DesignMatrix,
  ytrain: ArrayLike<number>,
  Xval: DesignMatrix,
  yval: ArrayLike<number>,
  score: (yTrue: ArrayLike<number>, yPred: number[]) => number,
  options: GridSearchOptions = {},
): GridSearchResult<P> {
  if (grid.length === 0) throw new Error('gridSearch needs at least one grid point');
  const greater = options.greaterIsBetter ?? true;
  const results: GridResult<P>[] = [];
  let best: GridResult<P> | undefined;
  for (const params of grid) {
    const t0 = performance.now();
    const model = fitFn(Xtrain, ytrain, params);
    const fitSeconds = (performance.now() - t0) / 1000;
    const s = score(yval, model.predict(Xval));
    const result: GridResult<P> = { params, score: s, fitSeconds, model };
    results.push(result);
    if (Number.isFinite(s) && (!best || (greater ? s > best.score : s < best.score))) best = result;
  }
  if (!best) throw new Error('gridSearch: no grid point produced a finite validation score');
  return { results, best };
}

/** Every combination of the listed values, e.g. paramGrid({alpha: [0.1, 1], l1Ratio: [0.5, 1]}) → 4 points. */
export function paramGrid<T extends Record<string, unknown>>(axes: { [K in keyof T]: T[K][] }): T[] {
  let points: Partial<T>[] = [{}];
  for (const key of Object.keys(axes) as (keyof T)[]) {
    const values = axes[key];
    if (values.length === 0) throw new Error(`paramGrid: no values for ${String(key)}`);
    const next: Partial<T>[] = [];
    for (const point of points) for (const v of values) next.push({ ...point, [key]: v } as Partial<T>);
    points = next;
  }
  return points as T[];
}

/** num values evenly spaced in log10 from 10^start to 10^stop (numpy.logspace). */
export function logspace(start: number, stop: number, num: number): number[] {
  if (!Number.isInteger(num) || num < 1) throw new Error(`logspace needs num >= 1, got ${num}`);
  if (num === 1) return [10 ** start];
  const out: number[] = [];
  for (let i = 0; i < num; i++) out.push(10 ** (start + ((stop - start) * i) / (num - 1)));
  return out;
}
