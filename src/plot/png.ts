/**
 * Static PNGs of plotly figures (and of SVG charts) rendered by headless Chromium.
 *
 * PNGs are what the report embeds and what an untrusted (headless-executed) notebook can
 * still show. Plotly itself draws the figure in a page that loads plotly.js from
 * node_modules — no network — and `Plotly.toImage` turns it into a PNG.
 *
 * One browser (and one page with plotly.js loaded) is shared by every call in the process.
 * A running browser keeps node's event loop alive, so it is closed after a short idle
 * period (longer inside a notebook kernel, where the next plot is likely to come soon) or
 * by `closeRenderer()`; Playwright also kills it if the process exits first.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createRequire } from 'module';
import { pathToFileURL } from 'url';
import type { Browser, Page } from 'playwright-core';
import { inNotebook } from '../notebook_env';

/** A plotly figure as plotly.js takes it: `Plotly.newPlot(div, data, layout, config)`. */
export interface PlotlyFigure {
  data: unknown[];
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
}

export interface PngSize {
  /** CSS pixels; defaults to the figure's layout.width/height, else 900×500. */
  width?: number;
  height?: number;
  /** Device-pixel multiplier for a sharper image (default 2). */
  scale?: number;
}

const DEFAULT_WIDTH = 900;
const DEFAULT_HEIGHT = 500;
const DEFAULT_SCALE = 2;
const IDLE_CLOSE_MS_SCRIPT = 1500;
const IDLE_CLOSE_MS_NOTEBOOK = 120_000;

const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const requireHere = createRequire(__filename);

/** The Chromium binary: env CHROMIUM_PATH, else Debian's /usr/bin/chromium. */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.CHROMIUM_PATH?.trim() || '/usr/bin/chromium';
}

/** The plotly.js bundle shipped in node_modules (also inlined into notebooks by plotly.ts). */
export function plotlyBundlePath(): string {
  return requireHere.resolve('plotly.js-dist-min');
}

interface Renderer {
  browser: Browser;
  page: Page;
  plotlyLoaded: Promise<void> | null;
}

let rendererPromise: Promise<Renderer> | null = null;
let idleTimer: NodeJS.Timeout | null = null;
let activeRenders = 0;

function missingChromiumMessage(executable: string): string {
  return (
    `Chromium is needed to export plots as PNG but was not found at ${executable}. ` +
    `Install it with 'apt-get install chromium' (or run 'npm run setup'), ` +
    `or point CHROMIUM_PATH at a Chromium/Chrome binary.`
  );
}

async function launchRenderer(): Promise<Renderer> {
  const executable = chromiumPath();
  if (!fs.existsSync(executable)) throw new Error(missingChromiumMessage(executable));
  // Loaded lazily: most notebook cells never need a browser.
  const { chromium } = requireHere('playwright-core') as typeof import('playwright-core');
  let browser: Browser;
  try {
    // Playwright gives every launch a fresh temporary --user-data-dir and removes it on close.
    // handleSIGINT: false — Playwright's default SIGINT handler closes the browser and then
    // EXITS THE PROCESS (code 130): in a notebook, "Interrupt Kernel" (SIGINT) would kill the
    // kernel whenever a renderer is open. Chromium runs in its own process group, so the
    // interrupt never reaches it; SIGTERM/SIGHUP still close it when the kernel shuts down.
    browser = await chromium.launch({ executablePath: executable, headless: true, args: CHROMIUM_FLAGS, handleSIGINT: false });
  } catch (err) {
    throw new Error(`${missingChromiumMessage(executable)}\nLaunch error: ${(err as Error).message}`);
  }
  const page = await browser.newPage();
  return { browser, page, plotlyLoaded: null };
}

async function acquire(): Promise<Renderer> {
  if (idleTimer) {
    clearTimeout(idleTimer);
    idleTimer = null;
  }
  activeRenders++;
  if (!rendererPromise) {
    rendererPromise = launchRenderer();
    // A failed launch must not be cached: the next call retries (e.g. after installing chromium).
    rendererPromise.catch(() => {
      rendererPromise = null;
    });
  }
  try {
    return await rendererPromise;
  } catch (err) {
    release();
    throw err;
  }
}

function release(): void {
  activeRenders--;
  if (activeRenders > 0 || !rendererPromise) return;
  idleTimer = setTimeout(
    () => {
      idleTimer = null;
      void closeRenderer();
    },
    inNotebook() ? IDLE_CLOSE_MS_NOTEBOOK : IDLE_CLOSE_MS_SCRIPT,
  );
  // In a notebook the kernel lives on anyway; don't let the timer pin anything else.
  if (inNotebook()) idleTimer.unref();
}

/** Close the shared browser now (it relaunches on the next render). */
export async function closeRenderer(): Promise<void> {
  if (idleTimer) {
    clearTimeout(idleTimer);
    idleTimer = null;
  }
  const pending = rendererPromise;
  rendererPromise = null;
  if (!pending) return;
  try {
    const renderer = await pending;
    await renderer.browser.close();
  } catch {
    // Launch failed or the browser is already gone: nothing to close.
  }
}

/**
 * Load plotly.js into the page. A file:// page with a <script src> to the bundle compiles
 * it faster than injecting 4.8 MB of text through the DevTools pipe (≈1.8 s vs ≈2.7 s).
 */
function ensurePlotly(renderer: Renderer): Promise<void> {
  if (!renderer.plotlyLoaded) {
    const shellDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plotly-render-'));
    const shell = path.join(shellDir, 'index.html');
    fs.writeFileSync(
      shell,
      '<!doctype html><html><head><meta charset="utf-8">' +
        `<script src="${pathToFileURL(plotlyBundlePath()).href}"></script>` +
        '</head><body style="margin:0"></body></html>',
    );
    renderer.plotlyLoaded = renderer.page
      .goto(pathToFileURL(shell).href)
      .then(() => undefined)
      .finally(() => fs.rmSync(shellDir, { recursive: true, force: true }));
  }
  return renderer.plotlyLoaded;
}

/**
 * The figure as plain JSON: typed arrays (tfjs `dataSync()` results) become arrays, NaN
 * becomes null (a gap in plotly), and string titles (`title: 'x'`, which plotly.js ≥ 3
 * silently ignores) become `{text: 'x'}`. Both the notebook HTML and the browser need this.
 */
export function plainFigure(fig: PlotlyFigure): Required<PlotlyFigure> {
  const json = JSON.stringify({ data: fig.data, layout: fig.layout ?? {}, config: fig.config ?? {} }, (_key, value) =>
    ArrayBuffer.isView(value) && !(value instanceof DataView) ? Array.from(value as unknown as ArrayLike<number>) : value,
  );
  const plain = JSON.parse(json) as Required<PlotlyFigure>;
  wrapStringTitles(plain.layout);
  return plain;
}

/** layout.title, layout.xaxis.title, layout.scene.zaxis.title, … : 'x' → {text: 'x'}. */
function wrapStringTitles(container: Record<string, unknown>, depth = 0): void {
  if (typeof container.title === 'string') container.title = { text: container.title };
  if (depth > 1) return;
  for (const [key, value] of Object.entries(container)) {
    if (/axis|scene|polar|ternary|geo/.test(key) && value && typeof value === 'object' && !Array.isArray(value)) {
      wrapStringTitles(value as Record<string, unknown>, depth + 1);
    }
  }
}

function pngFromDataUrl(dataUrl: string): Buffer {
  const comma = dataUrl.indexOf(',');
  return Buffer.from(dataUrl.slice(comma + 1), 'base64');
}

/** Render a plotly figure to PNG bytes. */
export async function renderPng(fig: PlotlyFigure, size: PngSize = {}): Promise<Buffer> {
  const layout = fig.layout ?? {};
  const width = size.width ?? (typeof layout.width === 'number' ? layout.width : DEFAULT_WIDTH);
  const height = size.height ?? (typeof layout.height === 'number' ? layout.height : DEFAULT_HEIGHT);
  const scale = size.scale ?? DEFAULT_SCALE;
  const renderer = await acquire();
  try {
    await ensurePlotly(renderer);
    const dataUrl = await renderer.page.evaluate(
      // Runs in the page. Globals are reached through `any` because tslab compiles src/
      // without the DOM lib.
      async ({ fig, width, height, scale }) => {
        const g = globalThis as any;
        const div = g.document.createElement('div');
        div.style.width = `${width}px`;
        div.style.height = `${height}px`;
        g.document.body.appendChild(div);
        try {
          const layout = Object.assign({}, fig.layout, { width, height });
          const config = Object.assign({}, fig.config, { staticPlot: true });
          await g.Plotly.newPlot(div, fig.data, layout, config);
          return (await g.Plotly.toImage(div, { format: 'png', width, height, scale })) as string;
        } finally {
          g.Plotly.purge(div);
          div.remove();
        }
      },
      { fig: plainFigure(fig), width, height, scale },
    );
    return pngFromDataUrl(dataUrl);
  } finally {
    release();
  }
}

/**
 * Rasterise a standalone SVG document (with width/height attributes) on a white
 * background — e.g. the training-curve chart, so its PNG is the picture the notebook showed.
 */
export async function renderSvgPng(svg: string, opts: { scale?: number } = {}): Promise<Buffer> {
  const scale = opts.scale ?? DEFAULT_SCALE;
  const renderer = await acquire();
  try {
    const dataUrl = await renderer.page.evaluate(
      async ({ svg, scale }) => {
        const g = globalThis as any;
        const url = g.URL.createObjectURL(new g.Blob([svg], { type: 'image/svg+xml' }));
        try {
          const img = new g.Image();
          img.src = url;
          await img.decode();
          const canvas = g.document.createElement('canvas');
          canvas.width = Math.round(img.naturalWidth * scale);
          canvas.height = Math.round(img.naturalHeight * scale);
          const ctx = canvas.getContext('2d');
          ctx.fillStyle = '#fff';
          ctx.fillRect(0, 0, canvas.width, canvas.height);
          ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
          return canvas.toDataURL('image/png') as string;
        } finally {
          g.URL.revokeObjectURL(url);
        }
      },
      { svg, scale },
    );
    return pngFromDataUrl(dataUrl);
  } finally {
    release();
  }
}

function writeFileMakingDirs(file: string, bytes: Buffer): string {
  const abs = path.resolve(file);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, bytes);
  return abs;
}

/** Render a plotly figure and write it to `file` (directories created). Returns the absolute path. */
export async function savePng(fig: PlotlyFigure, file: string, size: PngSize = {}): Promise<string> {
  return writeFileMakingDirs(file, await renderPng(fig, size));
}

/** Rasterise an SVG and write it to `file`. Returns the absolute path. */
export async function saveSvgPng(svg: string, file: string, opts: { scale?: number } = {}): Promise<string> {
  return writeFileMakingDirs(file, await renderSvgPng(svg, opts));
}
