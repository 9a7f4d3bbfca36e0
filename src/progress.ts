/**
 * Progress for long loops: count, percent, rate and ETA, written where someone is looking.
 *  - In a notebook: one line (with a bar) updated in place, at most ~4 times a second.
 *  - In the pipeline log (PIPELINE_LOG=1, notebook run headless by the pipeline runner):
 *    a line every ~10 s and at the end, e.g. `[00 images] 4200/12668 33% 410/s ETA 21s`.
 *    tslab redirects `process.stderr.write` into the cell, but the kernel's fd 2 is the
 *    runner's stderr, so these go to fd 2 directly (see notebook_env.writeRealStderr).
 *  - In a plain process: stderr — redrawn in place on a terminal, a line every ~10 s otherwise.
 *
 * Usage:
 *   const p = progress(files.length, '00 images'); for (...) { ...; p.tick(); } p.done();
 *   for (const f of withProgress(files, {label: '00 images'})) { ... }
 *   for await (const b of withProgressAsync(batches, {label: 'features', total})) { ... }
 */
import { performance } from 'perf_hooks';
import { inNotebook, newDisplay, pipelineLogEnabled, writeRealStderr } from './notebook_env';

/** Milliseconds from an arbitrary origin (injectable so tests can fake time). */
export type Clock = () => number;

export interface ProgressSnapshot {
  label: string;
  count: number;
  total?: number;
  elapsedSeconds: number;
  /** Items per second since the start; undefined until there is something to measure. */
  rate?: number;
  /** count / total, capped at 1. */
  fraction?: number;
  etaSeconds?: number;
  finished: boolean;
}

/** The pure bookkeeping: counts against a clock, nothing written. */
export class ProgressMeter {
  count = 0;
  private readonly startedAt: number;

  constructor(
    readonly label: string,
    readonly total: number | undefined,
    private readonly clock: Clock,
  ) {
    this.startedAt = clock();
  }

  advance(n = 1): void {
    this.count += n;
  }

  snapshot(finished = false): ProgressSnapshot {
    const elapsedSeconds = Math.max(0, (this.clock() - this.startedAt) / 1000);
    // Average over the whole run: steadier ETAs than a short window for bursty loops.
    const rate = this.count > 0 && elapsedSeconds > 0 ? this.count / elapsedSeconds : undefined;
    const total = this.total !== undefined && this.total > 0 ? this.total : undefined;
    const fraction = total !== undefined ? Math.min(1, this.count / total) : undefined;
    const etaSeconds =
      total !== undefined && rate !== undefined && !finished ? Math.max(0, total - this.count) / rate : undefined;
    return { label: this.label, count: this.count, total, elapsedSeconds, rate, fraction, etaSeconds, finished };
  }
}

/** 7s, 1m05s, 2h03m. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  const minutes = Math.floor(s / 60);
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** 410/s, 41.2/s, 4.12/s; slower than one a second reads better per item: 3.5s/it. */
export function formatRate(itemsPerSecond: number): string {
  if (itemsPerSecond >= 100) return `${Math.round(itemsPerSecond)}/s`;
  if (itemsPerSecond >= 10) return `${itemsPerSecond.toFixed(1)}/s`;
  if (itemsPerSecond >= 1) return `${itemsPerSecond.toFixed(2)}/s`;
  return `${(1 / itemsPerSecond).toFixed(1)}s/it`;
}

function bar(fraction: number, width = 20): string {
  const filled = Math.round(fraction * width);
  return '█'.repeat(filled) + '░'.repeat(width - filled);
}

/** `[00 images] 4200/12668 33% 410/s ETA 21s`; finished: `… 100% 410/s in 31s`. */
export function formatProgressLine(s: ProgressSnapshot, opts: { bar?: boolean } = {}): string {
  const parts = [`[${s.label}]`];
  if (opts.bar && s.fraction !== undefined) parts.push(bar(s.fraction));
  parts.push(s.total !== undefined ? `${s.count}/${s.total}` : `${s.count}`);
  // Floor, so 100% means done.
  if (s.fraction !== undefined) parts.push(`${Math.floor(s.fraction * 100)}%`);
  if (s.rate !== undefined) parts.push(formatRate(s.rate));
  if (s.finished) parts.push(`in ${formatDuration(s.elapsedSeconds)}`);
  else if (s.etaSeconds !== undefined) parts.push(`ETA ${formatDuration(s.etaSeconds)}`);
  return parts.join(' ');
}

/** A place progress is written, and how often at most. */
export interface ProgressSink {
  /** Minimum milliseconds between two writes (the final write is never skipped). */
  minIntervalMs: number;
  /** Write at the start, or only once minIntervalMs has passed? */
  writeAtStart: boolean;
  write(snapshot: ProgressSnapshot): void;
}

export const NOTEBOOK_INTERVAL_MS = 250;
export const LOG_INTERVAL_MS = 10_000;

/** One line in the notebook, overwritten in place. */
export function notebookSink(): ProgressSink | null {
  const entry = newDisplay();
  if (!entry) return null;
  return {
    minIntervalMs: NOTEBOOK_INTERVAL_MS,
    writeAtStart: true,
    write: (s) => entry.text(formatProgressLine(s, { bar: true })),
  };
}

/** Lines to the kernel's real stderr: the pipeline runner's log. */
export function pipelineLogSink(): ProgressSink {
  return { minIntervalMs: LOG_INTERVAL_MS, writeAtStart: false, write: (s) => writeRealStderr(formatProgressLine(s) + '\n') };
}

/** stderr of a plain process: redrawn in place on a terminal, periodic lines in a log file. */
export function stderrSink(stream: NodeJS.WriteStream = process.stderr): ProgressSink {
  if (stream.isTTY) {
    return {
      minIntervalMs: NOTEBOOK_INTERVAL_MS,
      writeAtStart: true,
      write: (s) => stream.write(`\r${formatProgressLine(s, { bar: true })}\x1b[K${s.finished ? '\n' : ''}`),
    };
  }
  return { minIntervalMs: LOG_INTERVAL_MS, writeAtStart: false, write: (s) => stream.write(formatProgressLine(s) + '\n') };
}

/** The sinks for where this code runs now. */
export function defaultSinks(): ProgressSink[] {
  if (!inNotebook()) return [stderrSink()];
  const sinks: ProgressSink[] = [];
  const cell = notebookSink();
  if (cell) sinks.push(cell);
  if (pipelineLogEnabled()) sinks.push(pipelineLogSink());
  return sinks;
}

export interface ProgressOptions {
  clock?: Clock;
  sinks?: ProgressSink[];
}

export interface Progress {
  tick(n?: number): void;
  /** Write the final line everywhere (idempotent). */
  done(): void;
  readonly count: number;
}

/** Start reporting progress over `total` items (undefined when unknown). */
export function progress(total: number | undefined, label: string, opts: ProgressOptions = {}): Progress {
  const clock = opts.clock ?? (() => performance.now());
  const meter = new ProgressMeter(label, total, clock);
  const sinks = (opts.sinks ?? defaultSinks()).map((sink) => ({
    sink,
    lastWriteAt: sink.writeAtStart ? -Infinity : clock(),
  }));
  let finished = false;

  const flush = (final: boolean) => {
    const now = clock();
    let snapshot: ProgressSnapshot | undefined;
    for (const entry of sinks) {
      if (!final && now - entry.lastWriteAt < entry.sink.minIntervalMs) continue;
      snapshot ??= meter.snapshot(final);
      entry.sink.write(snapshot);
      entry.lastWriteAt = now;
    }
  };

  flush(false);
  return {
    tick(n = 1) {
      if (finished) return;
      meter.advance(n);
      flush(false);
    },
    done() {
      if (finished) return;
      finished = true;
      flush(true);
    },
    get count() {
      return meter.count;
    },
  };
}

function knownSize(items: unknown): number | undefined {
  const candidate = items as { length?: unknown; size?: unknown };
  if (typeof candidate.length === 'number') return candidate.length;
  if (typeof candidate.size === 'number') return candidate.size;
  return undefined;
}

export interface WithProgressOptions extends ProgressOptions {
  label: string;
  /** Defaults to the iterable's length or size, if it has one. */
  total?: number;
}

/** Iterate with progress; an item counts as done when the loop asks for the next one. */
export function* withProgress<T>(items: Iterable<T>, opts: WithProgressOptions): Generator<T, void, undefined> {
  const p = progress(opts.total ?? knownSize(items), opts.label, opts);
  try {
    for (const item of items) {
      yield item;
      p.tick();
    }
  } finally {
    p.done();
  }
}

/** `withProgress` for async iterables (or sync ones consumed with `for await`). */
export async function* withProgressAsync<T>(
  items: AsyncIterable<T> | Iterable<T>,
  opts: WithProgressOptions,
): AsyncGenerator<T, void, undefined> {
  const p = progress(opts.total ?? knownSize(items), opts.label, opts);
  try {
    for await (const item of items) {
      yield item;
      p.tick();
    }
  } finally {
    p.done();
  }
}
