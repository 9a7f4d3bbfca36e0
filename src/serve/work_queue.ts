/**
 * A bounded queue for the service's photo work (decode + ResNet-50): at most `concurrency` jobs
 * run at once and at most `maxWaiting` wait; beyond that a request is refused at once (the
 * server answers 503 with Retry-After) instead of piling up memory and latency. A job whose
 * request's deadline passes while it waits is dropped without running.
 *
 * The bound this gives: a photo request that is admitted starts within
 * ceil((maxWaiting + concurrency) / concurrency) × (longest job) — and the server's per-request
 * budget caps the total wait in any case.
 */

export class QueueFullError extends Error {
  constructor(readonly retryAfterSeconds: number, waiting: number) {
    super(`the service is busy: ${waiting} photo requests are already waiting; retry in ${retryAfterSeconds} s`);
  }
}

export class DeadlineError extends Error {}

export interface WorkQueueOptions {
  /** Jobs run at once. */
  concurrency: number;
  /** Jobs waiting at most (beyond: QueueFullError). */
  maxWaiting: number;
}

interface Waiting {
  start: () => void;
  drop: (err: Error) => void;
  deadline: number;
}

export class WorkQueue {
  private running = 0;
  private readonly waiting: Waiting[] = [];
  /** Recent job durations (ms), for Retry-After. */
  private readonly recent: number[] = [];

  constructor(readonly options: WorkQueueOptions) {
    if (!(options.concurrency >= 1) || !(options.maxWaiting >= 0)) throw new Error('work queue: concurrency ≥ 1 and maxWaiting ≥ 0');
  }

  stats(): { running: number; waiting: number; concurrency: number; maxWaiting: number } {
    return { running: this.running, waiting: this.waiting.length, ...this.options };
  }

  /** Runs `job` when a slot frees; rejects with QueueFullError when full, DeadlineError when `deadline` (ms, Date.now()) passes first. */
  run<T>(job: () => Promise<T>, deadline = Infinity): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.running++;
        const t0 = Date.now();
        job().then(resolve, reject).finally(() => {
          this.running--;
          this.recent.push(Date.now() - t0);
          if (this.recent.length > 20) this.recent.shift();
          this.next();
        });
      };
      if (this.running < this.options.concurrency) return start();
      if (this.waiting.length >= this.options.maxWaiting) return reject(new QueueFullError(this.retryAfterSeconds(), this.waiting.length));
      this.waiting.push({ start, drop: reject, deadline });
    });
  }

  private next(): void {
    while (this.running < this.options.concurrency && this.waiting.length > 0) {
      const item = this.waiting.shift() as Waiting;
      if (Date.now() > item.deadline) item.drop(new DeadlineError('the request ran out of time while waiting for a photo slot'));
      else item.start();
    }
  }

  /** Time for the jobs ahead to clear, from recent durations (at least 1 s). */
  retryAfterSeconds(): number {
    const mean = this.recent.length ? this.recent.reduce((a, b) => a + b, 0) / this.recent.length : 1000;
    return Math.max(1, Math.ceil(((this.waiting.length + this.running) * mean) / this.options.concurrency / 1000));
  }
}
