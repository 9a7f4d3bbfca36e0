/**
 * Charts in a notebook: interactive plotly charts while you work, PNGs in executed copies.
 *
 *  - Interactive (JupyterLab / Notebook): one small HTML output per chart (a div and a
 *    script). plotly.js is NOT embedded (4.8 MB per notebook): the first chart on the page
 *    fetches it once from the Jupyter server that serves the repository, through its
 *    /files/ route (`files/node_modules/plotly.js-dist-min/plotly.min.js`, found from
 *    JupyterLab's page config when the server root is above the repository), and every later
 *    chart reuses `window.Plotly`. Each chart's script waits until its div is in the page,
 *    because output order is not script order (Notebook 6 runs scripts before attaching the
 *    output; JupyterLab renders cells lazily).
 *  - Static (`STATIC_PLOTS=1`, the headless pipeline): a PNG of the same figure and no
 *    script at all, so executed copies are light, read anywhere (code hosts, nbviewer) and
 *    need no `jupyter trust`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { PATHS } from '../config';
import { display, inNotebook, staticPlotsEnabled } from '../notebook_env';
import { plainFigure, plotlyBundlePath, renderPng, type PlotlyFigure, type PngSize } from './png';

export type { PlotlyFigure, PngSize } from './png';

export interface ShowPlotOptions extends PngSize {
  /** Also write a PNG of the figure to this path (e.g. outputs/figures/x.png). */
  pngName?: string;
}

const DEFAULT_HEIGHT_PX = 450;

function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Where plotly.js lives: absolute, and relative to the repository root (the server root of `npm run lab`). */
export function plotlyBundleLocation(root: string = PATHS.root): { absolute: string; fromRoot: string } {
  const absolute = plotlyBundlePath();
  return { absolute: absolute.split(path.sep).join('/'), fromRoot: path.relative(root, absolute).split(path.sep).join('/') };
}

/**
 * The browser-side loader, shared by every chart of the page: resolves to window.Plotly,
 * fetching plotly.js at most once. The bundle runs with `module`/`exports`/`define` shadowed,
 * so its UMD wrapper takes the browser-global branch even next to Notebook 6's require.js.
 */
function loaderScript(bundle: { absolute: string; fromRoot: string }): string {
  return `function loadPlotly() {
    if (window.Plotly && window.Plotly.newPlot) return Promise.resolve(window.Plotly);
    if (window.__marketplacePlotly) return window.__marketplacePlotly;
    var base = "/", serverRoot = null;
    var config = document.getElementById("jupyter-config-data");
    try {
      if (config) { var c = JSON.parse(config.textContent); base = c.baseUrl || base; serverRoot = c.serverRoot || null; }
      else if (document.body && document.body.getAttribute("data-base-url")) base = document.body.getAttribute("data-base-url");
    } catch (e) {}
    function withSlash(s) { return s.charAt(s.length - 1) === "/" ? s : s + "/"; }
    var abs = ${jsonForScript(bundle.absolute)}, rel = ${jsonForScript(bundle.fromRoot)};
    if (serverRoot && abs.indexOf(withSlash(serverRoot)) === 0) rel = abs.slice(withSlash(serverRoot).length);
    var url = withSlash(base) + "files/" + rel.split("/").map(encodeURIComponent).join("/");
    window.__marketplacePlotly = fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status + " for " + url);
      return r.text();
    }).then(function (source) {
      new Function("module", "exports", "define", source).call(window);
      if (!window.Plotly) throw new Error(url + " did not define Plotly");
      return window.Plotly;
    });
    window.__marketplacePlotly.catch(function () { window.__marketplacePlotly = null; });
    window.__marketplacePlotlyUrl = url;
    return window.__marketplacePlotly;
  }`;
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
 * The HTML output of one interactive chart: a one-line note (what a reader without
 * JavaScript sees, or why a chart failed to load) and a script that loads plotly.js once
 * per page and draws into the div once it is in the page.
 */
export function plotHtml(fig: PlotlyFigure, opts: { divId?: string; bundle?: { absolute: string; fromRoot: string } } = {}): string {
  const divId = opts.divId ?? `plotly-${randomBytes(6).toString('hex')}`;
  const plain = plainFigure(fig);
  const height = typeof plain.layout.height === 'number' ? plain.layout.height : DEFAULT_HEIGHT_PX;
  const config = Object.assign({ responsive: true, displaylogo: false }, plain.config);
  const title = figureTitle(fig);
  const note = `Interactive chart${title ? ` "${escapeHtml(title)}"` : ''} (plotly.js, from the Jupyter server of this repository).`;
  return `<div id="${divId}" style="width:100%;color:#888;font-style:italic">${note}</div>
<script type="text/javascript">
(function () {
  var divId = ${jsonForScript(divId)};
  var fig = ${jsonForScript({ data: plain.data, layout: plain.layout, config })};
  var height = ${height};
  ${loaderScript(opts.bundle ?? plotlyBundleLocation())}
  var started = Date.now();
  function draw() {
    var el = document.getElementById(divId);
    if (!el) {
      // Not in the page yet: fast at first, then slowly but forever (lazily rendered cells).
      setTimeout(draw, Date.now() - started < 20000 ? 50 : 1000);
      return;
    }
    if (el.getAttribute("data-drawn")) return;
    el.setAttribute("data-drawn", "1");
    loadPlotly().then(function (P) {
      el.textContent = "";
      el.style.fontStyle = "normal";
      el.style.height = height + "px";
      P.newPlot(el, fig.data, fig.layout, fig.config);
    }, function (err) {
      el.removeAttribute("data-drawn");
      el.textContent = "The interactive chart could not load plotly.js (" + err.message + "): open the notebooks with " +
        "npm run lab (the server must serve the repository), or run with STATIC_PLOTS=1 for PNG charts.";
    });
  }
  draw();
})();
</script>`;
}

function textSummary(fig: PlotlyFigure): string {
  const types = fig.data.map((trace) => (trace as { type?: string }).type ?? 'scatter');
  const title = figureTitle(fig);
  return `[plot${title ? `: ${title}` : ''}] ${fig.data.length} trace(s): ${types.join(', ')}`;
}

/**
 * Show a plotly figure. In a notebook: an interactive chart, or with STATIC_PLOTS=1 (the
 * pipeline) only a PNG; elsewhere: a one-line text summary. `pngName` also writes a PNG file.
 * Await it: PNG rendering is asynchronous.
 */
export async function showPlot(fig: PlotlyFigure, opts: ShowPlotOptions = {}): Promise<void> {
  const notebook = inNotebook();
  const showStatic = notebook && staticPlotsEnabled();
  if (notebook && !showStatic) display.html(plotHtml(fig));
  else if (!notebook) console.log(textSummary(fig));
  if (!showStatic && !opts.pngName) return;
  const png = await renderPng(fig, { width: opts.width, height: opts.height, scale: opts.scale });
  if (opts.pngName) {
    const file = path.resolve(opts.pngName);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, png);
    if (!notebook) console.log(`  saved ${path.relative(process.cwd(), file) || file}`);
  }
  if (showStatic) display.png(png, textSummary(fig));
}
