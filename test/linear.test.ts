import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  fitElasticNet,
  fitLasso,
  fitOLS,
  fitRidge,
  gridSearch,
  independentColumns,
  linearModel,
  logspace,
  paramGrid,
  type DesignMatrix,
  type LinearModel,
} from '../src/models/linear';
import { r2, rmse } from '../src/eval/metrics';
import { mulberry32 } from '../src/rng';

function close(actual: number, expected: number, tol = 1e-9): void {
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);
}

function closeAll(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-9): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) close(actual[i], expected[i], tol);
}

function randomData(n: number, p: number, seed: number): { X: number[][]; y: number[] } {
  const rng = mulberry32(seed);
  const X: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = Array.from({ length: p }, () => rng() * 2 - 1);
    X.push(row);
    y.push(1 + row.reduce((s, v, j) => s + v * (j % 3 === 0 ? j + 1 : 0), 0) + (rng() - 0.5));
  }
  return { X, y };
}

/** Mostly-zero rows like the price features: a one-hot block plus sparse TF-IDF-like weights. */
function sparseData(n: number, p: number, seed: number): { X: number[][]; y: number[] } {
  const rng = mulberry32(seed);
  const trueW = Array.from({ length: p }, (_, j) => (j % 10 === 0 ? rng() * 4 - 2 : 0));
  const X: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = new Array<number>(p).fill(0);
    row[Math.floor(rng() * 13)] = 1;
    row[13 + Math.floor(rng() * 40)] = 1;
    for (let j = 53; j < p; j++) if (rng() < 0.05) row[j] = rng() * 0.5;
    X.push(row);
    y.push(3 + row.reduce((s, v, j) => s + v * trueW[j], 0) + (rng() - 0.5));
  }
  return { X, y };
}

/** Lasso optimality: (1/n)·x_jᵀr = alpha·sign(w_j) where w_j ≠ 0, |(1/n)·x_jᵀr| ≤ alpha where w_j = 0. */
function assertLassoKkt(X: DesignMatrix, y: number[], model: LinearModel, alpha: number, tol: number): void {
  const n = X.length;
  const p = model.coef.length;
  const pred = model.predict(X);
  const r = y.map((v, i) => v - pred[i]);
  const mean = new Array<number>(p).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) mean[j] += X[i][j] / n;
  for (let j = 0; j < p; j++) {
    let g = 0;
    for (let i = 0; i < n; i++) g += (X[i][j] - mean[j]) * r[i];
    g /= n;
    const w = model.coef[j];
    if (w !== 0) close(g, alpha * Math.sign(w), tol);
    else assert.ok(Math.abs(g) <= alpha + tol, `feature ${j}: |gradient| ${Math.abs(g)} > alpha ${alpha}`);
  }
  close(r.reduce((s, v) => s + v, 0), 0, 1e-8 * n); // the intercept centres the residuals
}

test('OLS recovers the generating coefficients on noiseless data', () => {
  const rng = mulberry32(11);
  const X: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < 40; i++) {
    const row = [rng(), rng() * 10, rng() - 0.5];
    X.push(row);
    y.push(2 + 3 * row[0] - 1 * row[1] + 0.5 * row[2]);
  }
  const m = fitOLS(X, y);
  closeAll(m.coef, [3, -1, 0.5], 1e-9);
  close(m.intercept, 2, 1e-9);
  assert.equal(m.kind, 'ols');
  assert.equal(m.info.pseudoInverse, false);
  closeAll(m.predict([[1, 1, 1]]), [2 + 3 - 1 + 0.5], 1e-9);
});

test('OLS with a full one-hot block gives the minimum-norm solution', () => {
  // Centred columns are c and -c: any w_a - w_b = -2 fits; the minimum-norm one is (-1, 1).
  const X = [[1, 0], [1, 0], [0, 1], [0, 1]];
  const m = fitOLS(X, [1, 1, 3, 3]);
  assert.equal(m.info.pseudoInverse, true);
  closeAll(m.coef, [-1, 1], 1e-8);
  close(m.intercept, 2, 1e-8);
  closeAll(m.predict(X), [1, 1, 3, 3], 1e-8);
});

test('full-rank OLS runs through ml-regression and matches a hand-worked line', () => {
  // x = 1..4, y = (2, 4, 5, 4): Sxy = 3.5, Sxx = 5, so slope 0.7 and intercept 3.75 - 0.7·2.5 = 2.
  const m = fitOLS([[1], [2], [3], [4]], [2, 4, 5, 4]);
  assert.equal(m.info.solver, 'ml-regression');
  assert.equal(m.info.aliased, 0);
  closeAll(m.coef, [0.7], 1e-12);
  close(m.intercept, 2, 1e-12);
});

test('ml-regression and our normal equations agree on a full-rank design', () => {
  const { X, y } = randomData(200, 8, 5);
  const a = fitOLS(X, y);
  const b = fitOLS(X, y, { solver: 'normal-equations' });
  assert.equal(a.info.solver, 'ml-regression');
  assert.equal(b.info.solver, 'normal-equations');
  closeAll(a.coef, b.coef, 1e-9);
  close(a.intercept, b.intercept, 1e-9);
  const c = fitOLS(X, y, { fitIntercept: false });
  const d = fitOLS(X, y, { fitIntercept: false, solver: 'normal-equations' });
  closeAll(c.coef, d.coef, 1e-9);
  close(c.intercept, 0);
});

test("OLS solver 'ml-regression' drops aliased columns and fits the same values as the minimum-norm solution", () => {
  // Columns 0-2 are a full one-hot block (aliased with the intercept); column 4 = column 3 + column 0.
  const rng = mulberry32(3);
  const X: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < 60; i++) {
    const oh = [0, 0, 0];
    oh[i % 3] = 1;
    const u = rng();
    X.push([...oh, u, u + oh[0], rng()]);
    y.push(1 + 2 * oh[1] - oh[2] + 3 * u + 0.5 * X[i][5] + 0.1 * (rng() - 0.5));
  }
  const dropped = fitOLS(X, y, { solver: 'ml-regression' });
  const minNorm = fitOLS(X, y); // auto: collinear, so the pseudo-inverse path
  assert.equal(dropped.info.solver, 'ml-regression');
  assert.equal(dropped.info.aliased, 2);
  assert.equal(minNorm.info.pseudoInverse, true);
  assert.equal(dropped.coef[2], 0); // the last one-hot column is the alias of the intercept
  assert.equal(dropped.coef[4], 0);
  closeAll(dropped.predict(X), minNorm.predict(X), 1e-8);
});

test('independentColumns keeps the earliest maximal independent set', () => {
  // Uncentred Gram of columns a = (1,0,0), b = (0,1,0), a + b, c = (0,0,1), 2a.
  const cols = [[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1], [2, 0, 0]];
  const p = cols.length;
  const g = new Float64Array(p * p);
  for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) g[i * p + j] = cols[i].reduce((s, v, k) => s + v * cols[j][k], 0);
  assert.deepEqual(independentColumns(g, p), [0, 1, 3]);
  assert.deepEqual(independentColumns(new Float64Array(4), 2), []);
});

test('ridge matches the closed form worked by hand', () => {
  // Centred: XᵀX = [[5, 4.5], [4.5, 4.75]], Xᵀy = [5.5, 6.25]; (XᵀX + I)w = Xᵀy.
  const X = [[1, 0], [2, 1], [3, 1], [4, 3]];
  const y = [1, 3, 2, 5];
  const m = fitRidge(X, y, 1);
  closeAll(m.coef, [14 / 57, 17 / 19], 1e-12);
  close(m.intercept, 58 / 57, 1e-12);
  assert.equal(m.kind, 'ridge');
  // One feature: w = Σxc·yc / (Σxc² + alpha) = 1 / (2 + 1).
  const one = fitRidge([[1], [2], [3]], [1, 2, 2], 1);
  closeAll(one.coef, [1 / 3], 1e-12);
  close(one.intercept, 1, 1e-12);
});

test('ridge shrinks towards zero but never the intercept', () => {
  const { X, y } = randomData(60, 4, 2);
  const huge = fitRidge(X, y, 1e12);
  closeAll(huge.coef, [0, 0, 0, 0], 1e-8);
  close(huge.intercept, y.reduce((s, v) => s + v, 0) / y.length, 1e-6);
  assert.throws(() => fitRidge(X, y, -1), /alpha must be a finite number >= 0/);
});

test('fitIntercept false fits through the origin', () => {
  const m = fitRidge([[1], [2], [3]], [2, 4, 6], 0, { fitIntercept: false });
  close(m.intercept, 0);
  closeAll(m.coef, [2], 1e-12);
});

test('lasso with an orthonormal design is the soft-thresholded least-squares solution', () => {
  // Centred orthonormal columns (Hadamard rows): w_j = S(x_jᵀy, n·alpha).
  const X = [
    [0.5, 0.5, 0.5],
    [-0.5, 0.5, -0.5],
    [0.5, -0.5, -0.5],
    [-0.5, -0.5, 0.5],
  ];
  const y = [4, 1, -2, 3]; // Xᵀy = [-1, 2, 4]
  for (const precompute of [true, false]) {
    const m = fitLasso(X, y, { alpha: 0.25, tol: 1e-12, precompute }); // threshold n·alpha = 1
    closeAll(m.coef, [0, 1, 3], 1e-10);
    close(m.intercept, 1.5, 1e-10);
    assert.equal(m.info.converged, true);
    // Elastic net: S(x_jᵀy, n·alpha·l1) / (1 + n·alpha·(1 - l1)) = S(·, 1) / 2.
    const e = fitElasticNet(X, y, { alpha: 0.5, l1Ratio: 0.5, tol: 1e-12, precompute });
    closeAll(e.coef, [0, 0.5, 1.5], 1e-10);
  }
});

test('lasso at or above alpha_max = max|Xcᵀyc|/n zeroes every coefficient', () => {
  const { X, y } = randomData(50, 6, 3);
  const n = X.length;
  const yMean = y.reduce((s, v) => s + v, 0) / n;
  let alphaMax = 0;
  for (let j = 0; j < 6; j++) {
    const xMean = X.reduce((s, row) => s + row[j], 0) / n;
    let g = 0;
    for (let i = 0; i < n; i++) g += (X[i][j] - xMean) * (y[i] - yMean);
    alphaMax = Math.max(alphaMax, Math.abs(g) / n);
  }
  const zero = fitLasso(X, y, { alpha: alphaMax * 1.001 });
  assert.deepEqual(zero.coef, [0, 0, 0, 0, 0, 0]);
  close(zero.intercept, yMean, 1e-12);
  const one = fitLasso(X, y, { alpha: alphaMax * 0.99 });
  assert.equal(one.coef.filter((w) => w !== 0).length, 1);
});

test('lasso satisfies the optimality (KKT) conditions with both solvers', () => {
  const { X, y } = randomData(80, 10, 4);
  for (const precompute of [true, false]) {
    const m = fitLasso(X, y, { alpha: 0.05, tol: 1e-10, precompute });
    assert.equal(m.info.solver, precompute ? 'gram' : 'residual');
    assert.ok(m.coef.some((w) => w === 0) && m.coef.some((w) => w !== 0), 'alpha should give a sparse but non-empty model');
    assertLassoKkt(X, y, m, 0.05, 1e-6);
  }
});

test('elastic net with l1Ratio = 0 is ridge with alpha_ridge = n · alpha', () => {
  // (1/(2n))||r||² + ½·alpha·||w||² is, times 2n, ||r||² + n·alpha·||w||².
  const { X, y } = randomData(50, 5, 5);
  const ridge = fitRidge(X, y, 50 * 0.1);
  for (const precompute of [true, false]) {
    const en = fitElasticNet(X, y, { alpha: 0.1, l1Ratio: 0, tol: 1e-12, precompute });
    assert.equal(en.info.converged, true);
    closeAll(en.coef, ridge.coef, 1e-7);
    close(en.intercept, ridge.intercept, 1e-7);
  }
});

test('sparse and dense Gram paths agree (ridge closed form vs residual coordinate descent)', () => {
  const { X, y } = sparseData(400, 80, 6);
  const ridge = fitRidge(X, y, 400 * 0.01); // sparse Gram route
  const en = fitElasticNet(X, y, { alpha: 0.01, l1Ratio: 0, tol: 1e-12, maxIter: 20000, precompute: false });
  closeAll(en.coef, ridge.coef, 1e-6);
  close(en.intercept, ridge.intercept, 1e-6);
  const lassoGram = fitLasso(X, y, { alpha: 0.002, tol: 1e-10, maxIter: 20000, precompute: true });
  const lassoResidual = fitLasso(X, y, { alpha: 0.002, tol: 1e-10, maxIter: 20000, precompute: false });
  closeAll(lassoGram.coef, lassoResidual.coef, 1e-5);
});

test('warm start from a nearby solution converges in fewer passes', () => {
  const { X, y } = randomData(100, 12, 7);
  const cold = fitLasso(X, y, { alpha: 0.01, tol: 1e-8 });
  const warm = fitLasso(X, y, { alpha: 0.01, tol: 1e-8, warmStart: fitLasso(X, y, { alpha: 0.011 }).coef });
  closeAll(warm.coef, cold.coef, 1e-5);
  assert.ok((warm.info.iterations as number) <= (cold.info.iterations as number));
  assert.throws(() => fitLasso(X, y, { alpha: 0.01, warmStart: [1, 2] }), /warmStart has 2 coefficients, X has 12 features/);
});

test('a constant target gives zero coefficients and its value as intercept', () => {
  const m = fitElasticNet([[1, 2], [3, 4], [5, 7]], [4, 4, 4], { alpha: 0.1 });
  assert.deepEqual(m.coef, [0, 0]);
  close(m.intercept, 4);
});

test('bad inputs fail with clear messages', () => {
  assert.throws(() => fitOLS([[1], [2]], [1]), /X and y differ in length: 2 rows vs 1 targets/);
  assert.throws(() => fitOLS([[1, 2], [3]], [1, 2]), /row 1 has 1 features, row 0 has 2/);
  assert.throws(() => fitOLS([[1], [NaN]], [1, 2]), /X\[1\]\[0\] is not finite/);
  assert.throws(() => fitElasticNet([[1], [2]], [1, 2], { alpha: 1, l1Ratio: 2 }), /l1Ratio must lie in \[0, 1\]/);
  const m = linearModel('ols', [1, 2], 0);
  assert.throws(() => m.predict([[1]]), /row 0 has 1 features but the model was fitted on 2/);
});

test('gridSearch scores every point on validation and picks the best in the right direction', () => {
  const train = randomData(120, 8, 8);
  const val = randomData(60, 8, 9);
  const grid = logspace(-3, 3, 7).map((alpha) => ({ alpha }));
  const byR2 = gridSearch((X, y, p) => fitRidge(X, y, p.alpha), grid, train.X, train.y, val.X, val.y, r2);
  assert.equal(byR2.results.length, 7);
  const bestR2 = Math.max(...byR2.results.map((r) => r.score));
  assert.equal(byR2.best.score, bestR2);
  const byRmse = gridSearch((X, y, p) => fitRidge(X, y, p.alpha), grid, train.X, train.y, val.X, val.y, rmse, {
    greaterIsBetter: false,
  });
  assert.equal(byRmse.best.score, Math.min(...byRmse.results.map((r) => r.score)));
  assert.ok(byRmse.results.every((r) => r.fitSeconds >= 0 && r.model.coef.length === 8));
  assert.throws(() => gridSearch((X, y) => fitOLS(X, y), [], train.X, train.y, val.X, val.y, r2), /at least one grid point/);
});

test('paramGrid and logspace build grids', () => {
  assert.deepEqual(paramGrid<{ alpha: number; l1Ratio: number }>({ alpha: [0.1, 1], l1Ratio: [0.5, 1] }), [
    { alpha: 0.1, l1Ratio: 0.5 },
    { alpha: 0.1, l1Ratio: 1 },
    { alpha: 1, l1Ratio: 0.5 },
    { alpha: 1, l1Ratio: 1 },
  ]);
  closeAll(logspace(-2, 1, 4), [0.01, 0.1, 1, 10], 1e-12);
});

test('5,000 × 300 one-hot + sparse design: lasso, ridge and OLS each fit in seconds', () => {
  const { X, y } = sparseData(5000, 300, 10);
  const t0 = performance.now();
  const lasso = fitLasso(X, y, { alpha: 1e-4 });
  const t1 = performance.now();
  const ridge = fitRidge(X, y, 1);
  const t2 = performance.now();
  const ols = fitOLS(X, y);
  const t3 = performance.now();
  assert.equal(lasso.info.converged, true);
  assert.ok(r2(y, lasso.predict(X)) > 0.8 && r2(y, ridge.predict(X)) > 0.8 && r2(y, ols.predict(X)) > 0.8);
  for (const [name, ms] of [['lasso', t1 - t0], ['ridge', t2 - t1], ['ols', t3 - t2]] as const) {
    assert.ok(ms < 10_000, `${name} took ${ms.toFixed(0)} ms`);
  }
});
