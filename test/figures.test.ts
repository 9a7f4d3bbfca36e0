import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { confusionMatrixFigure, residualFigure, rowNormalise, scatterFigure, validationCurveFigure, wrapLabel } from '../src/plot/figures';
import { locationMapFigure } from '../src/plot/location_map';

type Trace = Record<string, unknown>;

test('confusionMatrixFigure: one row-normalised, annotated heatmap with true classes top to bottom', () => {
  const cm = [
    [3, 1, 0],
    [0, 0, 0],
    [2, 2, 4],
  ];
  const fig = confusionMatrixFigure(cm, ['Appliances', 'Video Games & Consoles', 'Other'], 'test');
  assert.equal(fig.data.length, 1);
  const heat = fig.data[0] as Trace;
  assert.equal(heat.type, 'heatmap');
  assert.deepEqual(heat.z, [[0.75, 0.25, 0], [0, 0, 0], [0.25, 0.25, 0.5]]);
  assert.deepEqual((heat.text as string[][])[0], ['75%<br>(3)', '25%<br>(1)', '0%<br>(0)']);
  assert.deepEqual(heat.y, ['Appliances', 'Video Games &<br>Consoles', 'Other']);
  assert.equal((fig.layout!.yaxis as Trace).autorange, 'reversed');
  assert.throws(() => confusionMatrixFigure(cm, ['a', 'b'], 'x'), /expected a 2 × 2 matrix/);
});

test('rowNormalise and wrapLabel', () => {
  assert.deepEqual(rowNormalise([[1, 3], [0, 0]]), [[0.25, 0.75], [0, 0]]);
  assert.equal(wrapLabel('Clothes, Footwear & Accessories'), 'Clothes, Footwear<br>& Accessories');
  assert.equal(wrapLabel('Other'), 'Other');
});

test('scatter and residual figures: points plus a reference line spanning the data', () => {
  const actual = [1, 10, 100];
  const predicted = [2, 8, 50];
  const s = scatterFigure(actual, predicted, 'pred vs actual', { logAxes: true, hoverText: ['a', 'b', 'c'] });
  assert.equal(s.data.length, 2);
  assert.deepEqual((s.data[0] as Trace).x, actual);
  assert.deepEqual((s.data[0] as Trace).text, ['a', 'b', 'c']);
  assert.deepEqual((s.data[1] as Trace).x, [1, 100]);
  assert.equal((s.layout!.xaxis as Trace).type, 'log');
  const r = residualFigure(Float64Array.from(actual), predicted, 'residuals');
  assert.deepEqual((r.data[0] as Trace).y, [-1, 2, 50]);
  assert.deepEqual((r.data[1] as Trace).y, [0, 0]);
  assert.throws(() => scatterFigure([1], [1, 2], 'x'), /differ in length/);
});

test('validationCurveFigure: a line per series and the chosen points', () => {
  const fig = validationCurveFigure(
    [
      { name: 'ridge', x: [0.1, 1, 10], y: [0.3, 0.4, 0.35] },
      { name: 'lasso', x: [0.001, 0.01], y: [0.38, 0.2] },
    ],
    'grid',
    { marks: [{ name: 'ridge', x: 1, y: 0.4 }] },
  );
  assert.equal(fig.data.length, 3);
  assert.equal((fig.data[2] as Trace).mode, 'markers');
  assert.equal((fig.layout!.xaxis as Trace).type, 'log');
});

test('locationMapFigure: one trace per group in the given order, map aspect, points near their place', () => {
  const points = [
    { lat: 51.5, lng: -0.1, group: 'B', label: 'sofa, London' },
    { lat: 55.9, lng: -3.2, group: 'A' },
    { lat: 51.5, lng: -0.1, group: 'B' },
  ];
  const fig = locationMapFigure(points, 'Listings', ['A', 'B', 'C']);
  const traces = fig.data as Array<{ name: string; x: number[]; y: number[]; text: string[] }>;
  assert.deepEqual(traces.map((t) => [t.name, t.x.length]), [['A', 1], ['B', 2], ['C', 0]]);
  assert.equal(traces[1].text[0], 'sofa, London');
  for (const t of traces) t.x.forEach((x, k) => assert.ok(Math.abs(x - (t.name === 'A' ? -3.2 : -0.1)) <= 0.04 && Math.abs(t.y[k] - (t.name === 'A' ? 55.9 : 51.5)) <= 0.04));
  assert.notDeepEqual([traces[1].x[0], traces[1].y[0]], [traces[1].x[1], traces[1].y[1]]); // same spot, spread apart
  const yaxis = (fig.layout as { yaxis: { scaleanchor: string; scaleratio: number } }).yaxis;
  assert.equal(yaxis.scaleanchor, 'x');
  assert.ok(yaxis.scaleratio > 1.6 && yaxis.scaleratio < 1.7); // 1/cos(53°)
});

test('validationCurveFigure: a long title is wrapped, not cut off at both sides', () => {
  const fig = validationCurveFigure([{ name: 'a', x: [0, 1], y: [1, 2] }], 'Late fusion: weight of the image model (ResNet-50 features, 3 + flip TTA) vs the text model');
  const text = (fig.layout as { title: { text: string } }).title.text;
  assert.match(text, /<br>/);
  assert.ok(text.split('<br>').every((line) => line.length <= 70));
});
