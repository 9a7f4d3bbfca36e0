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

/** Watch for SIGINT (and `signal`, if given) until dispose(). */
export function watchInterrupts(signal?: AbortSignal): InterruptWatch {
  let why: string | null = null;
  const onSigint = () => { why ??= 'SIGINT (kernel interrupt)'; };
  process.on('SIGINT', onSigint);
  return {
    check(where: string) {
      if (signal?.aborted) why ??= 'cancelled';
      if (why !== null) throw new TrainingInterrupted(`${where}: ${why}`);
    },
    dispose() {
      process.off('SIGINT', onSigint);
    },
  };
}
