/**
 * Interactive plotly charts inline in a notebook, with no network.
 *
 * The plotly.js bundle (≈4.8 MB) is inlined into one HTML output per kernel session; every
 * chart after it reuses `window.Plotly`. Each chart's script polls until both its div is
 * in the page and Plotly is defined, because output order is not script order:
 *  - classic Notebook 6 runs an output's scripts before the output is attached;
 *  - a re-opened notebook runs the stored bundle output again, and charts in later cells
 *    (whose bundle lives in another cell's output) may render before or after it;
 *  - JupyterLab may render cells lazily as they scroll into view.
 * Headless-executed notebooks are untrusted, so scripts don't run there until
 * `jupyter trust`; the chart div says so, and with `STATIC_PLOTS=1` a PNG of the same
 * figure is shown under it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { display, inNotebook, staticPlotsEnabled } from '../notebook_env';
import { plainFigure, plotlyBundlePath, renderPng, type PlotlyFigure, type PngSize } from './png';

export type { PlotlyFigure, PngSize } from './png';

export interface ShowPlotOptions extends PngSize {
  /** Also write a PNG of the figure to this path (e.g. outputs/figures/x.png). */
  pngName?: string;
}

const DEFAULT_HEIGHT_PX = 450;
/** Survives re-imports of this module (tslab recompiles it); reset by a kernel restart. */
const BUNDLE_SHOWN_KEY = '__marketplacePlotlyBundleShown';

/** Make text safe inside an inline <script>: no `</script>`, no `<!--`. */
function scriptSafe(text: string): string {
  return text.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * The HTML output that defines `window.Plotly`. Skipped when Plotly is already there (a
 * re-opened notebook may hold several copies); `module`/`exports`/`define` are shadowed so
 * the UMD wrapper always takes its browser branch, even next to require.js.
 */
export function plotlyBundleHtml(bundleSource: string = fs.readFileSync(plotlyBundlePath(), 'utf8')): string {
  return (
    '<script type="text/javascript">\n' +
    'if (typeof window.Plotly === "undefined" || !window.Plotly.newPlot) {\n' +
    '(function (module, exports, define) {\n' +
    scriptSafe(bundleSource) +
    '\n}).call(window);\n}\n</script>'
  );
}

export function figureTitle(fig: PlotlyFigure): string {
  const title = fig.layout?.title;
  if (typeof title === 'string') return title;
  if (title && typeof title === 'object' && typeof (title as { text?: unknown }).text === 'string') {
    return (title as { text: string }).text;
  }
  return '';
}

/**
 * The HTML output of one chart: a div (whose text explains a blank chart in an untrusted
 * notebook) and a script that draws into it once the div and Plotly both exist.
 */
export function plotHtml(fig: PlotlyFigure, opts: { divId?: string; staticCopyBelow?: boolean } = {}): string {
  const divId = opts.divId ?? `plotly-${randomBytes(6).toString('hex')}`;
  const plain = plainFigure(fig);
  const height = typeof plain.layout.height === 'number' ? plain.layout.height : DEFAULT_HEIGHT_PX;
  const config = Object.assign({ responsive: true, displaylogo: false }, plain.config);
  const title = figureTitle(fig);
  const placeholder =
    `Interactive chart${title ? ` "${escapeHtml(title)}"` : ''}: it draws when the notebook is trusted ` +
    '(File → Trust Notebook, or <code>jupyter trust</code>) or run in this session' +
    (opts.staticCopyBelow ? '; a static copy is below.' : '.');
  return `<div id="${divId}" style="width:100%;height:${height}px;color:#888;font-style:italic">${placeholder}</div>
<script type="text/javascript">
(function () {
  var divId = ${jsonForScript(divId)};
  var fig = ${jsonForScript({ data: plain.data, layout: plain.layout, config })};
  var started = Date.now();
  function draw() {
    var el = document.getElementById(divId);
    var P = window.Plotly;
    if (el && P && P.newPlot) {
      if (el.getAttribute("data-drawn")) return;
      el.setAttribute("data-drawn", "1");
      el.textContent = "";
      el.style.fontStyle = "normal";
      P.newPlot(el, fig.data, fig.layout, fig.config);
      return;
    }
    var waited = Date.now() - started;
    if (el && !P && waited > 15000) {
      el.textContent = "Waiting for plotly.js: it is inlined in the first chart output of this notebook; " +
        "if that output is gone, re-run this cell after reloadPlotlyBundle() or restart the kernel and run all.";
    }
    // Fast at first (the usual case), then slowly but forever: lazily rendered cells may
    // define Plotly much later.
    setTimeout(draw, waited < 20000 ? 50 : 1000);
  }
  draw();
})();
</script>`;
}

function bundleShown(): boolean {
  return Boolean((globalThis as Record<string, unknown>)[BUNDLE_SHOWN_KEY]);
}

function markBundleShown(shown: boolean): void {
  (globalThis as Record<string, unknown>)[BUNDLE_SHOWN_KEY] = shown;
}

/**
 * Inline plotly.js again at the next chart (e.g. after reloading the browser page while the
 * kernel kept running, which loses `window.Plotly`).
 */
export function reloadPlotlyBundle(): void {
  markBundleShown(false);
}

function textSummary(fig: PlotlyFigure): string {
  const types = fig.data.map((trace) => (trace as { type?: string }).type ?? 'scatter');
  const title = figureTitle(fig);
  return `[plot${title ? `: ${title}` : ''}] ${fig.data.length} trace(s): ${types.join(', ')}`;
}

/**
 * Show a plotly figure. In a notebook: an interactive chart (plus a PNG under it when
 * STATIC_PLOTS=1); elsewhere: a one-line text summary. `pngName` also writes a PNG file.
 * Await it: PNG rendering is asynchronous.
 */
export async function showPlot(fig: PlotlyFigure, opts: ShowPlotOptions = {}): Promise<void> {
  const notebook = inNotebook();
  const showStatic = notebook && staticPlotsEnabled();
  if (notebook) {
    if (!bundleShown()) {
      display.html(plotlyBundleHtml());
      markBundleShown(true);
    }
    display.html(plotHtml(fig, { staticCopyBelow: showStatic }));
  } else {
    console.log(textSummary(fig));
  }
  if (!showStatic && !opts.pngName) return;
  const png = await renderPng(fig, { width: opts.width, height: opts.height, scale: opts.scale });
  if (opts.pngName) {
    const file = path.resolve(opts.pngName);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, png);
    if (!notebook) console.log(`  saved ${path.relative(process.cwd(), file) || file}`);
  }
  if (showStatic) display.png(png);
}
