/**
 * initTf: backend choice, the TF_BACKEND override and process hygiene. Each
 * case runs in a fresh Node process, since a backend is chosen once per process.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const REPO_ROOT = path.resolve(__dirname, '..');
const RUNTIME = JSON.stringify(path.join(REPO_ROOT, 'src', 'tf', 'runtime'));

interface ChildResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a CommonJS snippet in a new Node process with TypeScript support (tsx). */
function runNode(code: string, env: Record<string, string | undefined> = {}): ChildResult {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete childEnv[key];
  const result = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], {
    cwd: REPO_ROOT,
    env: childEnv as NodeJS.ProcessEnv,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The last stdout line of a snippet that prints one JSON object last. */
function lastJson<T>(result: ChildResult): T {
  assert.equal(result.status, 0, `child failed:\n${result.stderr}`);
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as T;
}

interface Report {
  backend: string;
  description: string;
  kernelsRegistered: string[];
  activeBackend: string;
  header: string;
  listenersBefore: number[];
  listenersAfter: number[];
}

const REPORT = `
const { initTf, describeRuntime, tf } = require(${RUNTIME});
const count = () => [process.listenerCount('uncaughtException'), process.listenerCount('unhandledRejection')];
const listenersBefore = count();
initTf().then((info) => console.log(JSON.stringify({
  ...info, activeBackend: tf.getBackend(), header: describeRuntime(), listenersBefore, listenersAfter: count(),
}))).catch((err) => { console.error(err.message); process.exit(3); });
`;

function nativeBindingInstalled(): boolean {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      if ((require(`${pkg}/package.json`) as { name?: string }).name === pkg) return true;
    } catch {
      // not installed
    }
  }
  return false;
}

test('picks wasm (when no native binding is installed) and reports its kernels', { skip: nativeBindingInstalled() && 'a native binding is installed' }, () => {
  const report = lastJson<Report>(runNode(REPORT, { TF_BACKEND: undefined }));
  assert.equal(report.backend, 'wasm');
  assert.equal(report.activeBackend, 'wasm');
  for (const name of ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'UnsortedSegmentSum']) {
    assert.ok(report.kernelsRegistered.includes(name), `${name} missing from ${report.kernelsRegistered}`);
  }
  assert.match(report.description, /^wasm \(SIMD (on|off), \d+ threads?\) with project kernels: added Conv2DBackpropFilter/);
  assert.match(report.header, /^TensorFlow\.js 4\.\d+\.\d+, Node .*: wasm/);
  // The wasm runtime's process handlers rethrow every uncaught error (fatal in a Jupyter kernel): removed.
  assert.deepEqual(report.listenersAfter, report.listenersBefore);
});

test('TF_BACKEND=cpu forces the cpu backend, without the slow-backend warning', () => {
  const result = runNode(REPORT, { TF_BACKEND: 'cpu' });
  const report = lastJson<Report>(result);
  assert.equal(report.backend, 'cpu');
  assert.equal(report.activeBackend, 'cpu');
  assert.deepEqual(report.kernelsRegistered, []);
  assert.doesNotMatch(result.stderr, /50x slower/);
});

test('TF_BACKEND=wasm forces wasm', () => {
  const report = lastJson<Report>(runNode(REPORT, { TF_BACKEND: 'wasm' }));
  assert.equal(report.backend, 'wasm');
});

test('TF_BACKEND=tensorflow without a native binding fails with a way out', { skip: nativeBindingInstalled() && 'a native binding is installed' }, () => {
  const result = runNode(REPORT, { TF_BACKEND: 'tensorflow' });
  assert.equal(result.status, 3);
  assert.match(result.stderr, /backend 'tensorflow' was requested.*Install @tensorflow\/tfjs-node/s);
});

test('an unknown TF_BACKEND is an error naming the valid ones', () => {
  const result = runNode(REPORT, { TF_BACKEND: 'gpu' });
  assert.notEqual(result.status, 0);
  assert.match(result.stderr, /TF_BACKEND=gpu is not a backend: use one of tensorflow, wasm, cpu/);
});

test('initTf is idempotent and refuses to switch backends later', () => {
  const code = `
const { initTf, currentRuntime } = require(${RUNTIME});
(async () => {
  const a = await initTf({ backend: 'wasm' });
  const b = await initTf();
  let switchError = '';
  try { await initTf({ backend: 'cpu' }); } catch (err) { switchError = err.message; }
  console.log(JSON.stringify({ same: a === b && currentRuntime() === a, switchError }));
})();
`;
  const report = lastJson<{ same: boolean; switchError: string }>(runNode(code, { TF_BACKEND: undefined }));
  assert.ok(report.same, 'repeated initTf calls should return the same RuntimeInfo');
  assert.match(report.switchError, /already runs on 'wasm'; cannot switch to 'cpu'/);
});
