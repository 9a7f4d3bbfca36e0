/**
 * Notebooks side by side: the pipeline runner starts each notebook once every stage it waits for
 * (its dependencies and `runsAfter`, src/artifacts/registry.ts) has passed, at most `jobs` at once.
 * On 2 cores most of a notebook's work runs on one thread (TensorFlow.js wasm, plain JavaScript),
 * so two at a time use the machine that one leaves half idle.
 *
 * Among the notebooks ready to start, the one heading the longest chain of expected wall times
 * (itself plus the longest chain of what waits for it: the critical path) starts first, so the
 * slowest chain never waits behind a short one. With one job, notebooks run in their numeric order.
 * A failure starts nothing new (later notebooks read its outputs); running ones finish.
 */
import * as os from 'os';

/** `--jobs N` (or PIPELINE_JOBS): notebooks at a time; default 2, or 1 on a one-core machine. */
export function parseJobs(args: string[], env: NodeJS.ProcessEnv = process.env, cores = os.cpus().length): { jobs: number; rest: string[] } {
  const i = args.indexOf('--jobs');
  const raw = i >= 0 ? args[i + 1] ?? '' : env.PIPELINE_JOBS || undefined;
  const jobs = raw === undefined ? Math.min(2, Math.max(1, cores)) : raw === '' ? NaN : Number(raw);
  if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`--jobs (or PIPELINE_JOBS) must be a whole number ≥ 1, got ${JSON.stringify(raw)}`);
  return { jobs, rest: i >= 0 ? [...args.slice(0, i), ...args.slice(i + 2)] : args };
}

export interface ScheduleOptions {
  /** Notebooks to run, in numeric order. */
  order: readonly string[];
  /** Per notebook, the notebooks that must pass first (ids outside `order` count as done). */
  startAfter: Readonly<Record<string, readonly string[]>>;
  /** Notebooks at once (≥ 1). */
  jobs: number;
  /** Expected wall seconds of a notebook (e.g. its last recorded time), for the critical path. */
  expectedSeconds(id: string): number;
  /** Runs one notebook; resolves true when it passed. */
  run(id: string): Promise<boolean>;
}

export interface ScheduleResult {
  passed: string[];
  failed: string[];
  /** Never started: after a failure, or waiting for one that failed. */
  skipped: string[];
}

export function runScheduled(options: ScheduleOptions): Promise<ScheduleResult> {
  const { order, jobs } = options;
  if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`jobs must be a whole number ≥ 1, got ${jobs}`);
  const inRun = new Set(order);
  const waitsFor = (id: string) => (options.startAfter[id] ?? []).filter((d) => d !== id && inRun.has(d));
  const chainMemo = new Map<string, number>();
  const chain = (id: string): number => {
    let v = chainMemo.get(id);
    if (v === undefined) {
      const next = order.filter((o) => waitsFor(o).includes(id)).map(chain);
      v = Math.max(0, options.expectedSeconds(id)) + Math.max(0, ...next);
      chainMemo.set(id, v);
    }
    return v;
  };
  const priority = (a: string, b: string) => (jobs > 1 ? chain(b) - chain(a) : 0) || order.indexOf(a) - order.indexOf(b);

  const passed: string[] = [];
  const failed: string[] = [];
  const running = new Set<string>();
  return new Promise((resolve) => {
    const pump = () => {
      if (failed.length === 0) {
        const ready = order
          .filter((id) => !running.has(id) && !passed.includes(id) && waitsFor(id).every((d) => passed.includes(d)))
          .sort(priority);
        for (const id of ready.slice(0, jobs - running.size)) start(id);
      }
      if (running.size === 0) resolve({ passed, failed, skipped: order.filter((id) => !passed.includes(id) && !failed.includes(id)) });
    };
    const start = (id: string) => {
      running.add(id);
      options.run(id)
        .catch(() => false)
        .then((ok) => {
          running.delete(id);
          (ok ? passed : failed).push(id);
          pump();
        });
    };
    pump();
  });
}
