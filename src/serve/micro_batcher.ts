/**
 * Micro-batching: items submitted within a short window (or until a batch is full) go to one
 * `run` call, e.g. concurrent photo requests → one backbone batch. Each item gets its own promise;
 * `run` may fail one item (an Error in its slot) or the whole batch (a throw: every item of that
 * batch rejects). Bounded: at most `maxQueue` items wait, and `submit` rejects at once with a
 * `QueueFullError` beyond that (the caller answers 503) instead of letting memory and latency grow.
 */

export class QueueFullError extends Error {
  constructor(readonly limit: number) {
    super(`busy: ${limit} items are already waiting, try again shortly`);
  }
}

export interface MicroBatcherOptions<I, O> {
  /** Runs one batch; returns one result (or an Error) per item, same order. */
  run(items: I[]): Promise<Array<O | Error>>;
  /** How long the first item of a batch waits for others (ms, default 4). */
  windowMs?: number;
  /** Items per batch (default 16). */
  maxBatch?: number;
  /** Batches running at once (default 1; e.g. one per backbone worker). */
  maxConcurrent?: number;
  /** Items waiting (not yet running) before submit rejects (default 256). */
  maxQueue?: number;
}

interface Waiting<I, O> {
  item: I;
  resolve: (o: O) => void;
  reject: (e: Error) => void;
}

export class MicroBatcher<I, O> {
  private readonly queue: Array<Waiting<I, O>> = [];
  private timer: NodeJS.Timeout | null = null;
  private running = 0;
  readonly windowMs: number;
  readonly maxBatch: number;
  readonly maxConcurrent: number;
  readonly maxQueue: number;
  /** Sizes of the batches run so far (for tests and /healthcheck). */
  readonly stats = { batches: 0, items: 0, largest: 0, rejectedFull: 0 };

  constructor(private readonly options: MicroBatcherOptions<I, O>) {
    this.windowMs = options.windowMs ?? 4;
    this.maxBatch = options.maxBatch ?? 16;
    this.maxConcurrent = options.maxConcurrent ?? 1;
    this.maxQueue = options.maxQueue ?? 256;
    for (const [k, v] of Object.entries({ maxBatch: this.maxBatch, maxConcurrent: this.maxConcurrent, maxQueue: this.maxQueue })) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`MicroBatcher: ${k} must be a positive integer, got ${v}`);
    }
    if (!(this.windowMs >= 0)) throw new Error(`MicroBatcher: windowMs must be ≥ 0, got ${this.windowMs}`);
  }

  /** Items waiting for a batch. */
  get waiting(): number {
    return this.queue.length;
  }

  submit(item: I): Promise<O> {
    if (this.queue.length >= this.maxQueue) {
      this.stats.rejectedFull++;
      return Promise.reject(new QueueFullError(this.maxQueue));
    }
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running >= this.maxConcurrent || this.queue.length === 0) return;
    if (this.queue.length >= this.maxBatch) {
      this.clearTimer();
      this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush();
      }, this.windowMs);
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private flush(): void {
    while (this.running < this.maxConcurrent && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.running++;
      this.stats.batches++;
      this.stats.items += batch.length;
      this.stats.largest = Math.max(this.stats.largest, batch.length);
      void this.runBatch(batch);
      if (this.queue.length < this.maxBatch) break; // let the rest gather for a window
    }
    this.schedule();
  }

  private async runBatch(batch: Array<Waiting<I, O>>): Promise<void> {
    try {
      const results = await this.options.run(batch.map((w) => w.item));
      if (!Array.isArray(results) || results.length !== batch.length) {
        throw new Error(`micro-batch run returned ${Array.isArray(results) ? results.length : typeof results} results for ${batch.length} items`);
      }
      batch.forEach((w, i) => {
        const r = results[i];
        if (r instanceof Error) w.reject(r);
        else w.resolve(r);
      });
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      for (const w of batch) w.reject(e);
    } finally {
      this.running--;
      this.schedule();
    }
  }
}
