/**
 * Where is this code running: inside a tslab Jupyter kernel, or a plain node/tsx process
 * (unit tests, scripts)? The display helpers use this to pick rich notebook output or a
 * text fallback, so the same `src/` code works in both places.
 *
 * Detection: tslab's executor sets `globalThis.__tslab__ = {exports, require}` before it
 * runs any cell (node_modules/tslab/dist/executor.js), and its `require` hooks
 * `require('tslab')` to return the running kernel's own tslab. So we never load tslab
 * (and its bundled TypeScript compiler) in a plain process, and in a kernel we always talk
 * to the instance that owns the Jupyter connection.
 */
import * as fs from 'fs';
import type * as Tslab from 'tslab';

export type NotebookDisplay = Tslab.Display;

interface TslabHook {
  require(id: string): unknown;
}

function tslabHook(): TslabHook | undefined {
  const hook = (globalThis as { __tslab__?: Partial<TslabHook> }).__tslab__;
  return hook && typeof hook.require === 'function' ? (hook as TslabHook) : undefined;
}

/** True when running inside a tslab kernel (a notebook cell or a module a cell imported). */
export function inNotebook(): boolean {
  return tslabHook() !== undefined;
}

/** The running kernel's tslab module, or null outside a notebook. */
export function kernelTslab(): typeof Tslab | null {
  const hook = tslabHook();
  return hook ? (hook.require('tslab') as typeof Tslab) : null;
}

type WriteDisplayData = (
  message: { data: Record<string, string>; metadata: Record<string, unknown>; transient: Record<string, unknown> },
  update: boolean,
) => void;

/**
 * tslab's public Display sends one MIME type per output. To send several (so a frontend
 * that refuses one — classic Notebook hides untrusted markdown — can fall back to
 * text/plain) we use the writer tslab keeps for the current cell. It is internal, so any
 * surprise falls back to the public API.
 */
function kernelDisplayWriter(): WriteDisplayData | null {
  const hook = tslabHook();
  if (!hook) return null;
  try {
    const jupyter = hook.require('tslab/dist/jupyter') as { lastWriteDisplayData?: unknown };
    return typeof jupyter.lastWriteDisplayData === 'function' ? (jupyter.lastWriteDisplayData as WriteDisplayData) : null;
  } catch {
    return null;
  }
}

/**
 * Show one output carrying several representations, e.g. {'text/markdown': md,
 * 'text/plain': md}; the frontend picks the richest it may show. Outside a notebook
 * prints the text/plain entry.
 */
export function displayBundle(bundle: Record<string, string>): void {
  const tslab = kernelTslab();
  if (!tslab) {
    if (bundle['text/plain'] !== undefined) console.log(bundle['text/plain']);
    return;
  }
  // Captured now, so that an output sent late still belongs to this cell.
  const write = kernelDisplayWriter();
  if (write) {
    const message = { data: bundle, metadata: {}, transient: {} };
    sendInOrder(() => write(message, false));
    return;
  }
  const [type, value] = Object.entries(bundle)[0];
  sendInOrder(() => tslab.display.raw(type, value));
}

const outbox: Array<() => void> = [];
let outboxTimer: NodeJS.Timeout | null = null;

/**
 * Sends an output now or, while the kernel's output socket is busy (see coalescingDisplay),
 * queued in order and retried shortly after: a slow notebook client must not fail the cell.
 */
function sendInOrder(call: () => void): void {
  if (outbox.length === 0) {
    try {
      call();
      return;
    } catch (err) {
      if (!isSocketBusy(err)) throw err;
    }
  }
  outbox.push(call);
  outboxTimer ??= setTimeout(flushOutbox, 100);
}

function flushOutbox(): void {
  outboxTimer = null;
  while (outbox.length) {
    try {
      outbox[0]();
    } catch (err) {
      if (isSocketBusy(err)) {
        outboxTimer = setTimeout(flushOutbox, 100);
        return;
      }
      writeRealStderr(`a notebook output could not be sent: ${(err as Error).message}\n`);
    }
    outbox.shift();
  }
}

/**
 * A display entry that later calls overwrite in place (update_display_data), or null
 * outside a notebook.
 */
export function newDisplay(): NotebookDisplay | null {
  const tslab = kernelTslab();
  return tslab ? coalescingDisplay(tslab.newDisplay()) : null;
}

/** tslab's zeromq send throws EBUSY while an earlier message is still being written. */
export function isSocketBusy(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'EBUSY';
}

/**
 * An updatable display that never fails its caller because the kernel's output socket is busy.
 * tslab sends each update at once and throws "Socket is busy writing" when the previous send
 * has not finished: a training loop on a loaded machine (the notebook client reads slowly)
 * then fails its cell over a progress bar. Only the latest content of an updatable display
 * matters, so a busy update is kept (replacing any older kept one) and retried shortly after.
 */
export function coalescingDisplay<T extends object>(target: T, retryMs = 100): T {
  let pending: (() => void) | null = null;
  let timer: NodeJS.Timeout | null = null;
  const attempt = (call: () => void) => {
    try {
      call();
    } catch (err) {
      if (!isSocketBusy(err)) throw err;
      pending = call;
      timer ??= setTimeout(() => {
        timer = null;
        const retry = pending;
        pending = null;
        if (retry) attempt(retry);
      }, retryMs);
    }
  };
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const call = () => void value.apply(obj, args);
        if (pending) pending = call; // a retry is scheduled: it will send this newer content
        else attempt(call);
      };
    },
  });
}

/** Env flag helper: `1`, `true`, `yes` (any case) mean on. */
export function envFlag(name: string, env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(1|true|yes)$/i.test((env[name] ?? '').trim());
}

/** `PIPELINE_LOG=1`: the pipeline runner wants progress lines in its own log. */
export function pipelineLogEnabled(): boolean {
  return envFlag('PIPELINE_LOG');
}

/** `STATIC_PLOTS=1` (the headless pipeline): charts as PNGs, no scripts, so executed copies read anywhere. */
export function staticPlotsEnabled(): boolean {
  return envFlag('STATIC_PLOTS');
}

/**
 * Write to the process's real stderr (fd 2). Inside a kernel tslab replaces
 * `process.stderr.write` with a writer into the current cell, but fd 2 itself is inherited
 * from whoever started the kernel — for the headless pipeline that is the runner's log.
 */
export function writeRealStderr(text: string): void {
  // The runner may run notebooks side by side: tag each line with the notebook it comes from.
  const tag = process.env.PIPELINE_NOTEBOOK;
  if (tag) text = text.replace(/^(?=.)/gm, `[${tag}] `);
  try {
    fs.writeSync(2, text);
  } catch {
    // A closed or broken stderr must never break a training loop.
  }
}

/**
 * Rich output in a notebook, a readable text fallback elsewhere. Each method takes the
 * rich content plus (where the content is not text) an optional plain-text stand-in.
 */
export const display = {
  html(html: string, fallbackText?: string): void {
    if (kernelTslab()) displayBundle({ 'text/html': html });
    else if (fallbackText !== undefined) console.log(fallbackText);
  },
  markdown(md: string): void {
    // text/plain too: classic Notebook does not show markdown outputs of untrusted notebooks.
    displayBundle({ 'text/markdown': md, 'text/plain': md });
  },
  text(text: string): void {
    if (kernelTslab()) displayBundle({ 'text/plain': text });
    else console.log(text);
  },
  png(png: Uint8Array, fallbackText?: string): void {
    if (kernelTslab()) displayBundle({ 'image/png': Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString('base64') });
    else console.log(fallbackText ?? `[PNG image, ${(png.byteLength / 1024).toFixed(1)} kB]`);
  },
  svg(svg: string, fallbackText?: string): void {
    if (kernelTslab()) displayBundle({ 'image/svg+xml': svg });
    else if (fallbackText !== undefined) console.log(fallbackText);
  },
};
