/**
 * Independent trainings on both cores. The wasm backend computes on one thread, so k independent
 * fits (the folds of a cross-fitting) leave the second core of this 2-core machine idle.
 * `trainOnBothCores` runs them two at a time: one on this thread, one in a worker thread with a
 * TensorFlow.js instance of its own, which loads the trainer's module through tsx (as
 * src/train/parallel.ts does) and calls the named export with the job's arguments.
 *
 * The jobs only leave checkpoints behind (the shared loop writes one per run, keyed by everything
 * that defines it): the caller then runs its usual loop, which finds and loads them. The weights are
 * the ones a sequential run trains — the same code, seeds and single-threaded wasm arithmetic
 * (test/both_cores.test.ts compares them bit for bit). If the worker cannot start, every job runs
 * here, one after the other.
 */
import * as os from 'os';
import * as path from 'path';
import { isMainThread, parentPort, Worker, workerData } from 'worker_threads';
import { initTf } from '../tf/runtime';

const ROLE = 'marketplace-second-core';

/** A trainer: builds and trains (or loads) one model from plain, structured-cloneable arguments. */
export type Trainer<A> = (args: A) => Promise<{ model: { dispose(): void }; result: { status: string } }>;

export interface TrainerExport {
  /** Absolute path of the .ts module that exports the trainer: path.join(__dirname, 'head.ts'), not __filename (tslab names it .js). */
  modulePath: string;
  exportName: string;
}

/**
 * Trains every job (a thunk, so that only the jobs running hold their arguments in memory), two at
 * a time, and disposes the models: afterwards each is a checkpoint the caller's loop loads.
 * Returns how many jobs ran on each thread and what each did (trained, or found its checkpoint).
 * Arguments must be structured-cloneable (no callbacks); typed arrays are copied to the worker.
 */
export async function trainOnBothCores<A>(jobs: ReadonlyArray<() => A>, train: Trainer<A>, where: TrainerExport, options: { secondCore?: boolean } = {}): Promise<BothCoresRun> {
  const queue = jobs.map((job, index) => ({ job, index }));
  const statuses: string[] = new Array(jobs.length);
  const useWorker = (options.secondCore ?? os.cpus().length > 1) && jobs.length > 1;
  const second = useWorker ? await SecondCore.start(where).catch((err: Error) => {
    console.warn(`trainOnBothCores: the second-core thread did not start (${err.message}); training one job at a time`);
    return null;
  }) : null;
  const done = { here: 0, secondCore: 0 };
  const lane = async (thread: keyof typeof done, run: (args: A) => Promise<string>) => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      statuses[next.index] = await run(next.job());
      done[thread]++;
    }
  };
  try {
    await Promise.all([
      lane('here', async (args) => {
        const { model, result } = await train(args);
        model.dispose();
        return result.status;
      }),
      ...(second ? [lane('secondCore', (args) => second.train(args))] : []),
    ]);
  } finally {
    await second?.close();
  }
  return { ...done, statuses };
}

export interface BothCoresRun {
  /** Jobs run on this thread and in the worker. */
  here: number;
  secondCore: number;
  /** Per job, in order: what the trainer did ('trained', 'resumed' or 'loaded' a checkpoint). */
  statuses: string[];
}

/** The worker thread and its one job in flight. */
class SecondCore {
  private pending: { resolve: (status: string) => void; reject: (e: Error) => void } | null = null;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: { type: 'done'; status: string } | { type: 'error'; message: string }) => {
      const p = this.pending;
      this.pending = null;
      if (m.type === 'done') p?.resolve(m.status);
      else p?.reject(new Error(`second-core training: ${m.message}`));
    });
    const fail = (err: Error) => {
      this.pending?.reject(err);
      this.pending = null;
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`second-core thread exited with code ${code}`)));
  }

  static start(where: TrainerExport): Promise<SecondCore> {
    // Named with .ts: under tslab, __filename ends in .js (its compiled name), which does not exist.
    const file = path.join(__dirname, 'both_cores.ts');
    const worker = new Worker(`require('tsx/cjs/api').register(); require(${JSON.stringify(file)});`, {
      eval: true,
      workerData: { role: ROLE, ...where },
    });
    return new Promise((resolve, reject) => {
      const onReady = (m: { type: string; message?: string }) => {
        worker.off('message', onReady);
        if (m.type === 'ready') resolve(new SecondCore(worker));
        else reject(new Error(m.message));
      };
      worker.on('message', onReady);
      worker.once('error', reject);
    });
  }

  train(args: unknown): Promise<string> {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.postMessage({ type: 'train', args });
    });
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}

// ---------------------------------------------------------------------------------------
// The worker thread's side
// ---------------------------------------------------------------------------------------

async function secondCoreMain(): Promise<void> {
  const port = parentPort!;
  const { modulePath, exportName } = workerData as TrainerExport;
  try {
    await initTf();
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const train = require(modulePath)[exportName] as Trainer<unknown> | undefined;
    if (typeof train !== 'function') throw new Error(`${modulePath} has no export ${exportName}`);
    port.on('message', (m: { type: 'train'; args: unknown }) => {
      train({ ...(m.args as object), quiet: true }).then(
        (r) => {
          r.model.dispose();
          port.postMessage({ type: 'done', status: r.result.status });
        },
        (err: Error) => port.postMessage({ type: 'error', message: err.stack ?? err.message }),
      );
    });
    port.postMessage({ type: 'ready' });
  } catch (err) {
    port.postMessage({ type: 'error', message: (err as Error).message });
  }
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) void secondCoreMain();
