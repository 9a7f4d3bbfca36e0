import { test, after, mock } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vm from 'vm';
import { performance } from 'perf_hooks';
import { figureTitle, plotHtml, plotlyBundleHtml, showPlot } from '../src/plot/plotly';
import { chromiumPath, closeRenderer, plainFigure, plotlyBundlePath, renderPng, renderSvgPng, savePng } from '../src/plot/png';
import { TrainingCurve, epochLine, niceTicks, trainingCurveSvg, type EpochRecord } from '../src/plot/training_curve';

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

test('plotHtml: the figure cannot break out of its <script>', () => {
  const html = plotHtml(figure, { divId: 'plotly-test' });
  assert.equal((html.match(/<\/script>/g) ?? []).length, 1);
  assert.ok(html.includes('a \\u003c/script> b'));
  assert.ok(html.startsWith('<div id="plotly-test"'));
  assert.match(html, /draws when the notebook is trusted/);
  assert.match(plotHtml(figure, { staticCopyBelow: true }), /a static copy is below/);
});

/** Run a chart's script against a fake page whose div and Plotly appear later. */
test('plotHtml: the script waits for both its div and window.Plotly, then draws once', () => {
  const html = plotHtml(figure, { divId: 'plotly-wait' });
  const script = html.slice(html.indexOf('<script type="text/javascript">') + 31, html.lastIndexOf('</script>'));
  const element = {
    attrs: {} as Record<string, string>,
    textContent: 'placeholder',
    style: {} as Record<string, string>,
    getAttribute(name: string) {
      return this.attrs[name] ?? null;
    },
    setAttribute(name: string, value: string) {
      this.attrs[name] = value;
    },
  };
  let attached = false;
  const timers: Array<() => void> = [];
  const drawn: unknown[][] = [];
  const window: Record<string, unknown> = {};
  const context = vm.createContext({
    window,
    document: { getElementById: (id: string) => (attached && id === 'plotly-wait' ? element : null) },
    setTimeout: (fn: () => void) => timers.push(fn),
    Date,
  });
  vm.runInContext(script, context);
  const step = () => timers.shift()!();

  step(); // no div, no Plotly
  attached = true;
  step(); // div, no Plotly
  assert.equal(drawn.length, 0);
  assert.equal(element.textContent, 'placeholder');
  window.Plotly = { newPlot: (...args: unknown[]) => drawn.push(args) };
  step();
  assert.equal(drawn.length, 1);
  assert.equal(timers.length, 0, 'stops polling once drawn');
  assert.equal(element.textContent, '');
  const [el, data, layout, config] = drawn[0] as [unknown, Array<{ y: unknown }>, { title: unknown }, { responsive: boolean }];
  assert.equal(el, element);
  // Objects from the vm realm: compare as JSON.
  assert.equal(JSON.stringify(data[0].y), '[2,null,4]');
  assert.equal(JSON.stringify(layout.title), '{"text":"Prices"}');
  assert.equal(config.responsive, true);

  // The same output's script run again (re-rendered output) does not draw twice.
  vm.runInContext(script, context);
  assert.equal(drawn.length, 1);
});

test('plotlyBundleHtml: guarded, UMD branch forced to the browser global, script-safe', () => {
  const html = plotlyBundleHtml('var s = "</script>"; window.Plotly = {};');
  assert.equal((html.match(/<\/script>/g) ?? []).length, 1);
  assert.ok(html.includes('"<\\/script>"'));
  assert.ok(html.includes('if (typeof window.Plotly === "undefined" || !window.Plotly.newPlot)'));
  assert.ok(html.includes('(function (module, exports, define) {'));
  // Running the wrapped bundle where `module`/`define` exist still sets window.Plotly.
  const script = html.slice('<script type="text/javascript">'.length, -'</script>'.length);
  const window: Record<string, unknown> = {};
  const context = vm.createContext({ window, module: { exports: {} }, define: Object.assign(() => {}, { amd: {} }) });
  vm.runInContext(script, context);
  assert.equal(JSON.stringify(window.Plotly), '{}');
});

test('the installed plotly.js bundle still assigns window.Plotly itself', () => {
  const source = fs.readFileSync(plotlyBundlePath(), 'utf8');
  assert.ok(source.includes('window.Plotly = Plotly'), 'plotly.js bundle layout changed: re-check plotlyBundleHtml');
  assert.equal(plotlyBundleHtml(source).split('</script>').length, 2);
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
});

const history: EpochRecord[] = [1, 2, 3].map((epoch) => ({
  epoch,
  seconds: 1.5,
  logs: { loss: 1 / epoch, val_loss: 1.2 / epoch, acc: 0.5 + epoch / 10, val_acc: 0.4 + epoch / 10 },
}));

test('epochLine: one readable line per epoch', () => {
  assert.equal(
    epochLine('CNN', history[1], 40),
    '[CNN] epoch 2/40  loss 0.5000  val_loss 0.6000  acc 0.7000  val_acc 0.6000  (1.5s)',
  );
  assert.equal(epochLine('', { epoch: 1, seconds: 75, logs: { loss: 1e-5, acc: undefined } }), 'epoch 1  loss 1.00e-5  (1m15s)');
});

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
  assert.match(lines[0], /^\[toy\] epoch 1  loss 0\.9000  val_loss 1\.1000  \(\d+\.\ds\)$/);
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
