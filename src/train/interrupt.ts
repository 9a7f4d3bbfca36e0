/**
 * Stopping a training run when its notebook cell is interrupted.
 *
 * JupyterLab's "Interrupt Kernel" sends SIGINT to the kernel process (the kernel spec's
 * default interrupt_mode "signal"). tslab's own SIGINT handler only ends the cell's await
 * ("Interrupted asynchronously", node_modules/tslab/dist/executor.js): the async training
 * loop would run on in the background to its last epoch and mark its checkpoint complete.
 * So the loop listens for SIGINT itself while it runs and stops before its next step.
 * An AbortSignal does the same for callers that cancel in code (and tests).
 */

export class TrainingInterrupted extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainingInterrupted';
  }
}

export interface InterruptWatch {
  /** Throws TrainingInterrupted (with `where` in its message) once SIGINT or the signal arrived. */
  check(where: string): void;
  /** Stops listening for SIGINT. */
  dispose(): void;
}

/**
 * Watch for SIGINT (and `signal`, if given) until dispose().
 *
 * The SIGINT listener is added on the next turn of the event loop, never during a cell's
 * synchronous part: tslab runs that part with vm's `breakOnSigint`, whose watchdog puts
 * back the signal's previous (default) action when the part ends. A listener added inside
 * it leaves Node believing it handles SIGINT while the next interrupt kills the kernel
 * (seen: kernel exit by signal 2 on "Interrupt Kernel"). The loop yields before its second
 * step, so at most the first step runs unwatched.
 */
export function watchInterrupts(signal?: AbortSignal): InterruptWatch {
  let why: string | null = null;
  const onSigint = () => { why ??= 'SIGINT (kernel interrupt)'; };
  let listening = false;
  const start = setImmediate(() => {
    listening = true;
    process.on('SIGINT', onSigint);
  });
  return {
    check(where: string) {
      if (signal?.aborted) why ??= 'cancelled';
      if (why !== null) throw new TrainingInterrupted(`${where}: ${why}`);
    },
    dispose() {
      clearImmediate(start);
      if (listening) process.off('SIGINT', onSigint);
    },
  };
}
