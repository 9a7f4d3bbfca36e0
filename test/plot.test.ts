import { test, after, mock } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vm from 'vm';
import { performance } from 'perf_hooks';
import { figureTitle, plotHtml, plotlyBundleLocation, showPlot } from '../src/plot/plotly';
import { chromiumPath, closeRenderer, plainFigure, plotlyBundlePath, renderPng, renderSvgPng, savePng } from '../src/plot/png';
import { TrainingCurve, formatTick, niceTicks, trainingCurveSvg } from '../src/plot/training_curve';
import type { EpochRecord } from '../src/train/epoch_record';

const haveChromium = fs.existsSync(chromiumPath());
const noChromium = haveChromium ? false : `no Chromium at ${chromiumPath()}`;

after(() => closeRenderer());

function pngSize(png: Buffer): { width: number; height: number } {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

function captureConsole<T>(fn: () => T): { result: T; lines: string[] } {
  const lines: string[] = [];
  const spy = mock.method(console, 'log', (...args: unknown[]) => {
    lines.push(args.map(String).join(' '));
  });
  try {
    return { result: fn(), lines };
  } finally {
    spy.mock.restore();
  }
}

const figure = {
  data: [{ x: [1, 2, 3], y: new Float32Array([2, NaN, 4]), type: 'scatter', name: 'a </script> b' }],
  layout: { title: 'Prices', xaxis: { title: 'epoch' } },
};

test('plainFigure: typed arrays → arrays, NaN → null, string titles → {text}', () => {
  const plain = plainFigure(figure);
  assert.deepEqual((plain.data[0] as { y: unknown }).y, [2, null, 4]);
  assert.deepEqual(plain.layout.title, { text: 'Prices' });
  assert.deepEqual((plain.layout.xaxis as { title: unknown }).title, { text: 'epoch' });
  assert.deepEqual(plain.config, {});
  assert.equal(figureTitle(figure), 'Prices');
});

test('plotHtml: the figure cannot break out of its <script>; plotly.js is not embedded', () => {
  const html = plotHtml(figure, { divId: 'plotly-test' });
  assert.equal((html.match(/<\/script>/g) ?? []).length, 1);
  assert.ok(html.includes('a \\u003c/script> b'));
  assert.ok(html.startsWith('<div id="plotly-test"'));
  assert.ok(html.length < 5000, `one chart's output stays small: ${html.length} chars`);
  assert.doesNotMatch(html, /Trust Notebook/);
  const divStyle = html.slice(0, html.indexOf('>'));
  assert.doesNotMatch(divStyle, /height/, 'no tall blank box before the chart draws');
});

/**
 * Run charts' scripts against a fake JupyterLab page: divs appear late, plotly.js comes from
 * the server's /files/ route (once for all charts), and the server root may be above the repository.
 */
test('plotHtml: fetches plotly.js once per page from the Jupyter server, then draws each chart once', async () => {
  const bundle = { absolute: '/home/u/repo/node_modules/plotly.js-dist-min/plotly.min.js', fromRoot: 'node_modules/plotly.js-dist-min/plotly.min.js' };
  const scriptOf = (html: string) => html.slice(html.indexOf('<script type="text/javascript">') + 31, html.lastIndexOf('</script>'));
  const makeElement = () => ({
    attrs: {} as Record<string, string>,
    textContent: 'note',
    style: {} as Record<string, string>,
    getAttribute(name: string) { return this.attrs[name] ?? null; },
    setAttribute(name: string, value: string) { this.attrs[name] = value; },
    removeAttribute(name: string) { delete this.attrs[name]; },
  });
  const page = (serverRoot: string, status = 200) => {
    const elements: Record<string, ReturnType<typeof makeElement>> = {};
    const fetched: string[] = [];
    const drawn: unknown[] = [];
    const timers: Array<() => void> = [];
    const window: Record<string, unknown> = {};
    const context = vm.createContext({
      window,
      document: {
        getElementById: (id: string) => id === 'jupyter-config-data' ? { textContent: JSON.stringify({ baseUrl: '/lab-base/', serverRoot }) } : elements[id] ?? null,
      },
      fetch: (url: string) => {
        fetched.push(url);
        return Promise.resolve({ ok: status === 200, status, text: () => Promise.resolve('window.Plotly = { newPlot: function (el) { drawn.push(el); } };') });
      },
      drawn,
      setTimeout: (fn: () => void) => timers.push(fn),
      Promise, Date, JSON, Error, encodeURIComponent,
    });
    return { elements, fetched, drawn, timers, window, run: (html: string) => vm.runInContext(scriptOf(html), context) };
  };
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  // Server root above the repository (JupyterLab's page config says where): the URL follows it.
  const p = page('/home/u');
  const first = plotHtml(figure, { divId: 'c1', bundle });
  const second = plotHtml(figure, { divId: 'c2', bundle });
  p.run(first); // its div is not in the page yet: it waits
  assert.equal(p.fetched.length, 0);
  p.elements.c1 = makeElement();
  p.elements.c2 = makeElement();
  p.timers.shift()!();
  p.run(second);
  await settle();
  assert.deepEqual(p.fetched, ['/lab-base/files/repo/node_modules/plotly.js-dist-min/plotly.min.js'], 'fetched once for both charts');
  assert.deepEqual(p.drawn, [p.elements.c1, p.elements.c2]);
  assert.equal(p.elements.c1.textContent, '');
  assert.equal(p.elements.c1.style.height, '450px');
  p.run(first); // the same output rendered again does not draw twice
  await settle();
  assert.equal(p.drawn.length, 2);

  // Server root elsewhere (or unknown): the repository is assumed to be the server root.
  const q = page('/srv/other', 404);
  q.elements.c3 = makeElement();
  q.run(plotHtml(figure, { divId: 'c3', bundle }));
  await settle();
  assert.deepEqual(q.fetched, ['/lab-base/files/node_modules/plotly.js-dist-min/plotly.min.js']);
  assert.match(q.elements.c3.textContent, /could not load plotly\.js \(HTTP 404.*npm run lab/);
});

test('plotlyBundleLocation: the installed bundle, relative to the repository root; it still defines window.Plotly', () => {
  const where = plotlyBundleLocation();
  assert.equal(where.fromRoot, 'node_modules/plotly.js-dist-min/plotly.min.js');
  assert.ok(fs.existsSync(where.absolute));
  // The page runs it with module/exports/define shadowed: it must then assign the browser global.
  const source = fs.readFileSync(where.absolute, 'utf8');
  assert.ok(source.includes('window.Plotly = Plotly'), 'plotly.js bundle layout changed: re-check the loader in plotHtml');
});

test('showPlot outside a notebook prints a summary line', async () => {
  const lines: string[] = [];
  const spy = mock.method(console, 'log', (...args: unknown[]) => lines.push(args.map(String).join(' ')));
  try {
    await showPlot(figure);
  } finally {
    spy.mock.restore();
  }
  assert.deepEqual(lines, ['[plot: Prices] 1 trace(s): scatter']);
});

test('niceTicks: round steps that cover the data', () => {
  assert.deepEqual(niceTicks(0.13, 0.93, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(1, 8, 7, true), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(niceTicks(1, 40, 8, true), [0, 5, 10, 15, 20, 25, 30, 35, 40]);
  assert.deepEqual(niceTicks(2, 2, 5), [1.8, 1.9, 2, 2.1, 2.2]);
  assert.deepEqual(niceTicks(NaN, 1), []);
  // Loss and accuracy ranges of a short run: steps of 1, 2 or 5 × 10^k, never 2.5 (0.075 shown as "0.07").
  assert.deepEqual(niceTicks(0.05, 0.13, 5), [0.04, 0.06, 0.08, 0.1, 0.12, 0.14]);
  assert.deepEqual(niceTicks(2.82, 2.9, 4), [2.82, 2.84, 2.86, 2.88, 2.9]);
});

test('formatTick: labels as exact as their step, all with the same decimals', () => {
  const ticks = niceTicks(0.05, 0.13, 5);
  assert.deepEqual(ticks.map((t) => formatTick(t, 0.02)), ['0.04', '0.06', '0.08', '0.10', '0.12', '0.14']);
  assert.deepEqual([0, 0.5, 1].map((t) => formatTick(t, 0.5)), ['0.0', '0.5', '1.0']);
  assert.deepEqual([0, 5, 10].map((t) => formatTick(t, 5)), ['0', '5', '10']);
  // Every label of a real range is the tick itself, not a rounding of it.
  for (const [lo, hi] of [[0.05, 0.13], [2.83, 2.88], [0.001, 0.0042], [12, 97]]) {
    const t = niceTicks(lo, hi, 5);
    for (const v of t) assert.equal(Number(formatTick(v, t[1] - t[0])), v, `${v} in [${lo}, ${hi}]`);
  }
});

const history: EpochRecord[] = [1, 2, 3].map((epoch) => ({
  epoch,
  seconds: 1.5,
  loss: 1 / epoch, val_loss: 1.2 / epoch, acc: 0.5 + epoch / 10, val_acc: 0.4 + epoch / 10,
}));

test('trainingCurveSvg: a panel per metric, train solid and validation dashed', () => {
  const svg = trainingCurveSvg(history, { title: 'A & B', metrics: ['loss', 'acc'], epochs: 10 });
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="900" height="340"'));
  assert.ok(svg.includes('>A &amp; B</text>'));
  assert.equal((svg.match(/<polyline /g) ?? []).length, 4);
  assert.equal((svg.match(/<polyline [^>]*stroke-dasharray/g) ?? []).length, 2);
  assert.ok(svg.includes('train 0.3333') && svg.includes('validation 0.7000'));
  // No epochs yet: still a valid, empty chart.
  const empty = trainingCurveSvg([], { metrics: ['loss'] });
  assert.ok(empty.includes('<svg') && !empty.includes('<polyline'));
});

test('TrainingCurve outside a notebook prints one line per epoch; tfCallback is 1-based', () => {
  const { lines, result: curve } = captureConsole(() => {
    const c = new TrainingCurve({ title: 'toy', metrics: ['loss'] });
    c.update(1, { loss: 0.9, val_loss: 1.1 });
    c.tfCallback().onEpochEnd(1, { loss: 0.5 });
    return c;
  });
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^\[toy\] epoch 1  loss 0\.9000  val_loss 1\.1000  \(\d+s\)$/);
  assert.match(lines[1], /^\[toy\] epoch 2  loss 0\.5000/);
  assert.deepEqual(
    curve.history.map((r) => r.epoch),
    [1, 2],
  );
});

test('a missing Chromium fails with the fix in the message', async () => {
  const saved = process.env.CHROMIUM_PATH;
  process.env.CHROMIUM_PATH = '/nonexistent/chromium';
  try {
    await assert.rejects(renderPng(figure), /apt-get install chromium.*npm run setup/s);
  } finally {
    if (saved === undefined) delete process.env.CHROMIUM_PATH;
    else process.env.CHROMIUM_PATH = saved;
  }
});

test('an interrupt (SIGINT) while the PNG renderer is open leaves the process running (Interrupt Kernel must not kill the kernel)', { skip: noChromium, timeout: 60_000 }, async () => {
  await renderPng(figure, { width: 300, height: 200 }); // the shared browser is now open
  let seen = 0;
  const listener = () => { seen++; }; // stands in for tslab's handler
  process.on('SIGINT', listener);
  try {
    process.kill(process.pid, 'SIGINT');
    await new Promise((resolve) => setTimeout(resolve, 1500)); // Playwright's own handler would exit(130) here
    assert.equal(seen, 1);
    assert.ok((await renderPng(figure, { width: 300, height: 200 })).length > 1000, 'the renderer still works');
  } finally {
    process.off('SIGINT', listener);
    await closeRenderer();
  }
});

test('renderPng / savePng / renderSvgPng draw real PNGs', { skip: noChromium, timeout: 60_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plot-test-'));
  try {
    let start = performance.now();
    const first = await renderPng(figure, { width: 600, height: 400 });
    const firstMs = performance.now() - start;
    assert.deepEqual(pngSize(first), { width: 1200, height: 800 });
    assert.ok(first.length > 10_000, 'a drawn chart, not a blank page');

    start = performance.now();
    const file = await savePng({ data: [{ type: 'bar', x: ['a', 'b'], y: [1, 2] }] }, path.join(dir, 'sub', 'bar.png'), { scale: 1 });
    const secondMs = performance.now() - start;
    assert.deepEqual(pngSize(fs.readFileSync(file)), { width: 900, height: 500 });

    const curve = await renderSvgPng(trainingCurveSvg(history, { title: 'toy' }), { scale: 1 });
    assert.deepEqual(pngSize(curve), { width: 900, height: 340 });

    // Through showPlot, outside a notebook: the summary line and the PNG file.
    const pngName = path.join(dir, 'fig', 'prices.png');
    const spy = mock.method(console, 'log', () => {});
    try {
      await showPlot(figure, { pngName });
    } finally {
      spy.mock.restore();
    }
    assert.ok(fs.statSync(pngName).size > 10_000);
    t.diagnostic(`first PNG ${firstMs.toFixed(0)} ms (browser launch + plotly.js load), next ${secondMs.toFixed(0)} ms`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
