/**
 * The one TensorFlow.js runtime of the project.
 *
 * Every module imports `tf` from here, so notebooks, library and tests share a
 * single engine, and calls `await initTf()` once before training or inference.
 * initTf picks the fastest backend this machine can run:
 *
 *   1. 'tensorflow' from @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node,
 *      if the user installed one (native TensorFlow; never a dependency here,
 *      their install scripts download libtensorflow);
 *   2. 'wasm' (XNNPACK, SIMD) plus the project's gradient kernels, without
 *      which it cannot train a conv net;
 *   3. 'cpu' (plain JavaScript) only as a last resort: ~50x slower for images.
 *
 * TF_BACKEND=tensorflow|wasm|cpu forces one (tests, benchmarks); a forced
 * backend that cannot start is an error, not a silent fallback.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import * as tfWasm from '@tensorflow/tfjs-backend-wasm';
import { describeProjectKernels, registerWasmGradientKernels } from './wasm_kernels';

export { tf };

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface RuntimeInfo {
  backend: BackendName;
  /** One human line, e.g. "wasm (SIMD on, 1 thread) with project kernels: added Conv2DBackpropFilter, …". */
  description: string;
  /** Project kernels registered on this backend (empty unless wasm). */
  kernelsRegistered: string[];
  /** Why faster backends were skipped, if any were tried (for logs). */
  notes: string[];
}

export interface InitTfOptions {
  /** Force a backend. TF_BACKEND in the environment takes precedence. */
  backend?: BackendName;
}

const BACKENDS: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];

let pending: Promise<RuntimeInfo> | null = null;
let pendingRequest: BackendName | undefined;
let current: RuntimeInfo | null = null;

function requestedBackend(options: InitTfOptions): BackendName | undefined {
  const fromEnv = (process.env.TF_BACKEND ?? '').trim().toLowerCase();
  if (fromEnv !== '') {
    if (!(BACKENDS as readonly string[]).includes(fromEnv)) {
      throw new Error(`TF_BACKEND=${fromEnv} is not a backend: use one of ${BACKENDS.join(', ')} (or unset it to pick automatically)`);
    }
    return fromEnv as BackendName;
  }
  return options.backend;
}

/**
 * Initialises TensorFlow.js once and reports what it runs on. Later calls
 * return the same result; asking for a different backend after the first call
 * is an error (start a new process/kernel instead).
 */
export function initTf(options: InitTfOptions = {}): Promise<RuntimeInfo> {
  let request: BackendName | undefined;
  try {
    request = requestedBackend(options);
  } catch (err) {
    return Promise.reject(err); // report a bad TF_BACKEND like any other failure
  }
  if (pending != null) {
    if (request != null && request !== pendingRequest) {
      return pending.then((info) => {
        if (info.backend === request) return info;
        throw new Error(`TensorFlow.js already runs on '${info.backend}'; cannot switch to '${request}' in the same process (restart the kernel)`);
      });
    }
    return pending;
  }
  pendingRequest = request;
  pending = selectBackend(request).then(
    (info) => {
      current = info;
      return info;
    },
    (err: unknown) => {
      pending = null; // let a corrected setup retry
      throw err;
    },
  );
  return pending;
}

/** The runtime chosen by initTf, or null before it has finished. */
export function currentRuntime(): RuntimeInfo | null {
  return current;
}

/** One line for notebook headers and logs. */
export function describeRuntime(): string {
  const prefix = `TensorFlow.js ${tf.version.tfjs}, Node ${process.versions.node}`;
  return current == null ? `${prefix}: not initialised yet (await initTf())` : `${prefix}: ${current.description}`;
}

async function selectBackend(request: BackendName | undefined): Promise<RuntimeInfo> {
  const notes: string[] = [];
  if (request === 'tensorflow' || request == null) {
    const native = await tryNative(notes);
    if (native != null) return native;
    if (request === 'tensorflow') {
      throw new Error(`backend 'tensorflow' was requested (TF_BACKEND or initTf), but no native backend could start: ${notes.join('; ')}. ` +
        'Install @tensorflow/tfjs-node (or -gpu with CUDA) on a machine with internet access.');
    }
  }
  if (request === 'wasm' || request == null) {
    const wasm = await tryWasm(notes);
    if (wasm != null) return wasm;
    if (request === 'wasm') throw new Error(`the wasm backend could not start: ${notes.join('; ')}`);
  }
  if (!(await tf.setBackend('cpu'))) throw new Error('even the cpu backend of TensorFlow.js failed to start');
  await tf.ready();
  if (request == null) {
    console.warn(
      '\n*** TensorFlow.js is running on the plain JavaScript "cpu" backend. ***\n' +
      'It is ~50x slower than wasm for conv nets: image training will take hours.\n' +
      `Reason: ${notes.join('; ') || 'unknown'}\n` +
      'Fix: run `npm ci` so @tensorflow/tfjs-backend-wasm and its .wasm files are present, ' +
      'or install @tensorflow/tfjs-node for native speed.\n',
    );
  }
  return { backend: 'cpu', description: 'cpu (plain JavaScript; ~50x slower than wasm for conv nets)', kernelsRegistered: [], notes };
}

/** The package's own name, to tell a real binding from an npm alias of plain tfjs. */
function installedPackageName(pkg: string): string | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return (require(`${pkg}/package.json`) as { name?: string }).name ?? null;
  } catch {
    return null;
  }
}

async function tryNative(notes: string[]): Promise<RuntimeInfo | null> {
  for (const pkg of NATIVE_PACKAGES) {
    const name = installedPackageName(pkg);
    if (name == null) continue; // not installed: the usual case
    if (name !== pkg) {
      notes.push(`${pkg} is an npm alias of ${name}, not the native binding`);
      continue;
    }
    try {
      require(pkg); // registers the 'tensorflow' backend
    } catch (err) {
      notes.push(`${pkg} is installed but failed to load: ${(err as Error).message.split('\n')[0]}`);
      continue;
    }
    if (tf.findBackendFactory('tensorflow') == null) {
      notes.push(`${pkg} loaded but registered no 'tensorflow' backend with this copy of @tensorflow/tfjs (version mismatch? keep both at ${tf.version.tfjs})`);
      continue;
    }
    if (await tf.setBackend('tensorflow')) {
      await tf.ready();
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const version = (require(`${pkg}/package.json`) as { version?: string }).version ?? '?';
      return { backend: 'tensorflow', description: `tensorflow (native TensorFlow via ${pkg} ${version})`, kernelsRegistered: [], notes };
    }
    notes.push(`${pkg}: the 'tensorflow' backend failed to initialise`);
  }
  return null;
}

const PROCESS_EVENTS = ['uncaughtException', 'unhandledRejection'];

async function startWasm(): Promise<boolean> {
  // The Emscripten runtime adds process handlers that rethrow every uncaught
  // error: one stray rejected promise would then kill a Jupyter (tslab)
  // kernel instead of being reported. Remove the handlers it adds.
  const events: NodeJS.EventEmitter = process;
  const before = new Map(PROCESS_EVENTS.map((ev) => [ev, new Set(events.listeners(ev))] as const));
  try {
    return await tf.setBackend('wasm');
  } finally {
    for (const ev of PROCESS_EVENTS) {
      for (const listener of events.listeners(ev)) {
        if (!before.get(ev)!.has(listener)) events.removeListener(ev, listener as (...args: unknown[]) => void);
      }
    }
  }
}

async function tryWasm(notes: string[]): Promise<RuntimeInfo | null> {
  let started = await startWasm();
  if (!started) {
    // The package finds its .wasm files next to its own script; point at them
    // explicitly in case a bundler or loader moved the script.
    const distDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
    tfWasm.setWasmPaths(distDir + path.sep);
    started = await startWasm();
  }
  if (!started) {
    notes.push('the wasm backend failed to initialise (are the .wasm files in node_modules/@tensorflow/tfjs-backend-wasm/dist?)');
    return null;
  }
  await tf.ready();
  const kernels = registerWasmGradientKernels();
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) ? 'on' : 'off';
  const threads = tfWasm.getThreadsCount();
  const description =
    `wasm (SIMD ${simd}, ${threads} thread${threads === 1 ? '' : 's'}) with project kernels: ${describeProjectKernels()}`;
  return { backend: 'wasm', description, kernelsRegistered: kernels, notes };
}
