import { Matrix, EigenvalueDecomposition } from 'ml-matrix';
const d = Number(process.argv[2] ?? 2048);
const a = Matrix.rand(d, d);
const s = a.mmul(a.transpose());
const t = Date.now();
const e = new EigenvalueDecomposition(s, { assumeSymmetric: true });
console.log(d, 'evd s', (Date.now() - t) / 1000, e.realEigenvalues.slice(-3));
