/**
 * ResNet-50 inference on onnxruntime-node (CPU), running the project's own ONNX export of the
 * tfjs weights (onnx_export.ts). Features match the tfjs model within ~1e-5 (test/onnx_export).
 *
 * onnxruntime-node's `session.run` is synchronous on the calling thread, so to use both cores
 * without ORT's intra-op thread synchronisation the default is a pool of worker_threads, one
 * single-threaded session each (`workers` = CPU count): batches are handed out round-robin and
 * several stay in flight while the main thread prepares the next ones. `workers: 0` runs one
 * session on the main thread with `intraOpNumThreads` threads instead. Graph optimisation
 * 'all' (on x86 this turns the convs into ORT's blocked NCHWc kernels).
 *
 * The worker code is a plain JavaScript string (eval'd worker), so it runs the same under tsx,
 * node --test and the tslab kernel, which cannot start .ts worker files.
 */
import * as os from 'os';
import { Worker } from 'worker_threads';
import type * as OrtTypes from 'onnxruntime-node';
import { ensureOnnxModel, OnnxExportOptions, OnnxModelFile } from './onnx_export';

export interface OnnxBackboneOptions extends OnnxExportOptions {
  /** Worker threads, each with its own session (default: CPU count). 0 = run on the main thread. */
  workers?: number;
  /** ORT threads of each session (default: the CPU count shared among the workers, at least 1; all CPUs when workers = 0). */
  intraOpNumThreads?: number;
  /** Where the .onnx is cached (default outputs/models/onnx). */
  modelDir?: string;
}

/** One batch's outputs, by graph output name (e.g. avg_pool → [n, 2048] row-major). */
export type BackboneOutputs = Record<string, { data: Float32Array; dims: number[] }>;

interface Pending {
  resolve: (out: BackboneOutputs, input?: Float32Array) => void;
  reject: (err: Error) => void;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('worker_threads');
const ort = require(workerData.ortPath);
let session = null;
const ready = ort.InferenceSession.create(workerData.file, {
  intraOpNumThreads: workerData.threads, interOpNumThreads: 1,
  graphOptimizationLevel: 'all', executionMode: 'sequential',
}).then((s) => { session = s; });
parentPort.on('message', async (msg) => {
  try {
    await ready;
    // A reused input buffer may hold more than this batch: the tensor views its first inputs.
    const size = msg.dims.reduce((a, b) => a * b, 1);
    const input = new ort.Tensor('float32', msg.data.length === size ? msg.data : msg.data.subarray(0, size), msg.dims);
    const out = await session.run({ [workerData.inputName]: input });
    const result = {};
    const transfer = [];
    for (const name of workerData.outputNames) {
      const t = out[name];
      const data = t.data;
      result[name] = { data, dims: t.dims.slice() };
      transfer.push(data.buffer);
    }
    // The input buffer goes back to the caller when it asked (no new buffer per batch).
    if (msg.returnInput) transfer.push(msg.data.buffer);
    parentPort.postMessage({ id: msg.id, result, input: msg.returnInput ? msg.data : undefined }, transfer);
  } catch (err) {
    parentPort.postMessage({ id: msg.id, error: String(err && err.stack || err) });
  }
});
ready.then(() => parentPort.postMessage({ ready: true }), (err) => parentPort.postMessage({ id: -1, error: String(err && err.stack || err) }));
`;

class WorkerSlot {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  inFlight = 0;
  readonly ready: Promise<void>;
  private failure: Error | null = null;

  constructor(workerData: Record<string, unknown>) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData });
    let markReady: () => void = () => undefined;
    let markFailed: (e: Error) => void = () => undefined;
    this.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      markFailed = reject;
    });
    this.worker.on('message', (msg: { ready?: boolean; id?: number; result?: BackboneOutputs; input?: Float32Array; error?: string }) => {
      if (msg.ready) {
        markReady();
        return;
      }
      if (msg.id === -1) {
        this.fail(new Error(`onnxruntime worker could not load the model: ${msg.error}`));
        markFailed(this.failure as Error);
        return;
      }
      const p = this.pending.get(msg.id as number);
      if (!p) return;
      this.pending.delete(msg.id as number);
      this.inFlight--;
      if (msg.error) p.reject(new Error(`onnxruntime worker: ${msg.error}`));
      else p.resolve(msg.result as BackboneOutputs, msg.input);
    });
    this.worker.on('error', (err) => {
      this.fail(err);
      markFailed(err);
    });
    this.worker.on('exit', (code) => {
      if (code !== 0) this.fail(new Error(`onnxruntime worker exited with code ${code}`));
    });
  }

  private fail(err: Error): void {
    this.failure = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.inFlight = 0;
  }

  post(id: number, data: Float32Array, dims: number[], returned?: (input: Float32Array) => void): Promise<BackboneOutputs> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<BackboneOutputs>((resolve, reject) => {
      this.pending.set(id, {
        resolve: (out, input) => {
          if (input && returned) returned(input);
          resolve(out);
        },
        reject,
      });
      this.inFlight++;
      this.worker.postMessage({ id, data, dims, returnInput: returned !== undefined }, [data.buffer as ArrayBuffer]);
    });
  }
}

/** A ResNet-50 (or any exported layers model) on onnxruntime-node. Call `release()` when done. */
export class OnnxBackbone {
  private slots: WorkerSlot[] = [];
  private session: OrtTypes.InferenceSession | null = null;
  private ort: typeof OrtTypes | null = null;
  private nextId = 0;
  /** Input buffers of runReusing, back from the workers. */
  private readonly pool: Float32Array[] = [];

  private constructor(
    readonly model: Omit<OnnxModelFile, 'key' | 'converted'> & Partial<OnnxModelFile>,
    readonly workers: number,
    readonly threads: number,
  ) {}

  /** Converts (or reuses) the .onnx and starts the sessions. */
  static async create(options: OnnxBackboneOptions = {}): Promise<OnnxBackbone> {
    return OnnxBackbone.fromModelFile(ensureOnnxModel(options, options.modelDir), options);
  }

  /** Starts the sessions on an .onnx that exists already (e.g. one named by the search service's bundle). */
  static async fromModelFile(model: Omit<OnnxModelFile, 'key' | 'converted'> & Partial<OnnxModelFile>, options: Pick<OnnxBackboneOptions, 'workers' | 'intraOpNumThreads'> = {}): Promise<OnnxBackbone> {
    const cpus = Math.max(1, os.cpus().length);
    const workers = options.workers ?? cpus;
    const threads = options.intraOpNumThreads ?? Math.max(1, Math.floor(cpus / Math.max(1, workers)));
    const backbone = new OnnxBackbone(model, workers, threads);
    if (workers > 0) {
      const workerData = {
        ortPath: require.resolve('onnxruntime-node'),
        file: model.file,
        threads,
        inputName: model.inputName,
        outputNames: model.outputNames,
      };
      backbone.slots = Array.from({ length: workers }, () => new WorkerSlot(workerData));
      try {
        await Promise.all(backbone.slots.map((s) => s.ready));
      } catch (err) {
        await backbone.release();
        throw err;
      }
    } else {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const ort = require('onnxruntime-node') as typeof OrtTypes;
      backbone.ort = ort;
      backbone.session = await ort.InferenceSession.create(model.file, {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
      });
    }
    return backbone;
  }

  /** How many batches to keep in flight to keep every worker busy. */
  get concurrency(): number {
    return Math.max(1, this.workers * 2);
  }

  /** One line for logs: what runs where. */
  describe(): string {
    const how = this.workers > 0 ? `${this.workers} worker thread${this.workers === 1 ? '' : 's'} × ${this.threads} ORT thread${this.threads === 1 ? '' : 's'}` : `main thread, ${this.threads} ORT threads`;
    return `onnxruntime-node (CPU, graph optimisation all), ${how}; model ${this.model.file.split('/').pop()}`;
  }

  /**
   * Runs one batch: `x` holds n inputs in the model's layout (NHWC caffe floats by default).
   * With workers, `x`'s buffer is transferred (do not reuse it). Outputs by name.
   */
  async run(x: Float32Array, n: number): Promise<BackboneOutputs> {
    const dims = this.model.inputShape.map((d) => (typeof d === 'number' ? d : n));
    const expected = dims.reduce((a, b) => a * b, 1);
    if (x.length !== expected) throw new Error(`input holds ${x.length} floats, expected ${expected} for [${dims.join(', ')}]`);
    if (this.session && this.ort) {
      const out = await this.session.run({ [this.model.inputName]: new this.ort.Tensor('float32', x, dims) });
      const result: BackboneOutputs = {};
      for (const name of this.model.outputNames) result[name] = { data: out[name].data as Float32Array, dims: out[name].dims.slice() };
      return result;
    }
    // A buffer shared with other data (a view) cannot be transferred safely: copy it.
    const own = x.byteOffset === 0 && x.byteLength === x.buffer.byteLength ? x : x.slice();
    return this.leastBusy().post(this.nextId++, own, dims);
  }

  /**
   * Runs n inputs written by `fill` into a reused buffer with room for `capacity` inputs, instead
   * of a new buffer per batch: a service batching many small requests then leaves no input garbage
   * (a 224 px float input is 0.6 MB). Buffers are pooled here and travel to a worker and back.
   */
  async runReusing(n: number, capacity: number, fill: (x: Float32Array) => void): Promise<BackboneOutputs> {
    if (!(Number.isInteger(n) && n >= 1 && n <= capacity)) throw new Error(`runReusing: ${n} inputs do not fit a buffer of ${capacity}`);
    const dims = this.model.inputShape.map((d) => (typeof d === 'number' ? d : n));
    const per = dims.reduce((a, b) => a * b, 1) / n;
    const pooled = this.pool.findIndex((b) => b.length === capacity * per);
    const x = pooled >= 0 ? this.pool.splice(pooled, 1)[0] : new Float32Array(capacity * per);
    fill(x.subarray(0, n * per));
    const giveBack = (b: Float32Array) => {
      if (this.pool.length < Math.max(1, this.workers) * 2) this.pool.push(b);
    };
    if (this.session) {
      try {
        return await this.run(x.subarray(0, n * per), n);
      } finally {
        giveBack(x);
      }
    }
    return this.leastBusy().post(this.nextId++, x, dims, giveBack);
  }

  /** The worker with the fewest batches in flight (ties: lowest index). */
  private leastBusy(): WorkerSlot {
    if (this.slots.length === 0) throw new Error('the ONNX backbone was released');
    let slot = this.slots[0];
    for (const s of this.slots) if (s.inFlight < slot.inFlight) slot = s;
    return slot;
  }

  async release(): Promise<void> {
    const slots = this.slots;
    this.slots = [];
    await Promise.all(slots.map((s) => s.worker.terminate()));
    if (this.session) {
      await this.session.release();
      this.session = null;
    }
  }
}
