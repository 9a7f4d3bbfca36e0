/**
 * Figures of notebook 06 (pure builders, like src/plot/figures.ts): a reliability diagram of
 * several models, our test accuracy against the published anchors, and a per-class F1 heatmap.
 */
import type { Anchor } from '../eval/anchors';
import type { ReliabilityBin } from '../eval/calibration';
import { wrapLabel } from './figures';
import type { PlotlyFigure } from './png';

/** Reliability diagram: accuracy against mean confidence per bin, one line per model, and the diagonal. */
export function reliabilityFigure(series: ReadonlyArray<{ name: string; bins: readonly ReliabilityBin[]; ece: number }>, title: string): PlotlyFigure {
  const data: Array<Record<string, unknown>> = [
    { type: 'scatter', mode: 'lines', name: 'perfect calibration', x: [0, 1], y: [0, 1], line: { dash: 'dash', color: '#888' }, hoverinfo: 'skip' },
  ];
  for (const s of series) {
    const bins = s.bins.filter((b) => b.count > 0);
    data.push({
      type: 'scatter', mode: 'lines+markers', name: `${s.name} (ECE ${s.ece.toFixed(3)})`,
      x: bins.map((b) => b.confidence), y: bins.map((b) => b.accuracy),
      marker: { size: bins.map((b) => Math.max(5, Math.min(18, 3 * Math.sqrt(b.count)))) },
      text: bins.map((b) => `${b.count} products`), hovertemplate: 'confidence %{x:.2f}<br>accuracy %{y:.2f}<br>%{text}<extra></extra>',
    });
  }
  return {
    data,
    layout: {
      title: { text: title }, height: 700, width: 760,
      xaxis: { title: { text: 'mean confidence in bin (largest class probability)' }, range: [-0.02, 1.02] },
      yaxis: { title: { text: 'accuracy in bin' }, range: [-0.02, 1.04] },
      // Below the plot, under the axis title: inside it, seven models' entries covered the curves.
      legend: { orientation: 'h', x: 0, xanchor: 'left', y: -0.16, yanchor: 'top' },
    },
  };
}

export interface AnchorBar {
  /** Axis label, e.g. "03 ResNet-50". */
  label: string;
  accuracy: number;
  ciLow: number;
  ciHigh: number;
  anchor?: Anchor;
}

/** Our test accuracy (with its bootstrap interval) beside the published range of the same stage. */
export function anchorsFigure(rows: readonly AnchorBar[], title: string): PlotlyFigure {
  const x = rows.map((r) => wrapLabel(r.label, 16));
  const withAnchor = rows.map((r) => (r.anchor && r.anchor.metric === 'accuracy' ? r.anchor : undefined));
  const points = rows.flatMap((r, i) => (withAnchor[i]?.points ?? []).map((p) => ({ x: x[i], p })));
  return {
    data: [
      {
        type: 'bar', name: 'ours: test, product-grouped split (95 % bootstrap CI)', x, y: rows.map((r) => r.accuracy), marker: { color: '#1f77b4' },
        error_y: { type: 'data', symmetric: false, array: rows.map((r) => r.ciHigh - r.accuracy), arrayminus: rows.map((r) => r.accuracy - r.ciLow) },
        // At the bar's base: at its top the label ran into the error bar.
        text: rows.map((r) => `${(100 * r.accuracy).toFixed(1)}%`), textposition: 'inside', insidetextanchor: 'start',
      },
      {
        type: 'bar', name: 'published range (seeds/peers, leaky photo-level splits)', x,
        base: withAnchor.map((a) => (a ? a.low : null)), y: withAnchor.map((a) => (a ? Math.max(0.006, a.high - a.low) : null)),
        marker: { color: 'rgba(255,127,14,0.45)', line: { color: '#ff7f0e', width: 1 } },
        text: withAnchor.map((a) => (a ? a.text : '')), textposition: 'none', hovertemplate: '%{text}<extra></extra>',
      },
      {
        type: 'scatter', mode: 'markers', name: 'published point (marker: ◆ val, ● test, ■ unspecified)', x: points.map((q) => q.x), y: points.map((q) => q.p.value),
        marker: { color: '#d62728', size: 9, symbol: points.map((q) => (q.p.split === 'val' ? 'diamond' : q.p.split === 'test' ? 'circle' : 'square')) },
        text: points.map((q) => `${q.p.who}, ${q.p.split}`), hovertemplate: '%{y:.2f} %{text}<extra></extra>',
      },
    ],
    layout: {
      title: { text: title }, barmode: 'group', height: 520, width: 980,
      yaxis: { title: { text: 'accuracy' }, range: [0, 1] }, xaxis: { automargin: true },
      legend: { orientation: 'h', y: -0.25 },
    },
  };
}

/** Heatmap of per-class F1, classes down, models across. */
export function perClassF1Figure(classes: readonly string[], models: ReadonlyArray<{ name: string; f1: readonly number[] }>, title: string): PlotlyFigure {
  const z = classes.map((_, c) => models.map((m) => m.f1[c]));
  return {
    data: [{
      type: 'heatmap', z, x: models.map((m) => wrapLabel(m.name, 14)), y: classes.map((c) => wrapLabel(c, 24)), zmin: 0, zmax: 1,
      colorscale: [[0, '#f7fbff'], [0.5, '#6baed6'], [1, '#08306b']],
      text: z.map((row) => row.map((v) => v.toFixed(2))), texttemplate: '%{text}', textfont: { size: 10 },
      hovertemplate: '%{y}<br>%{x}<br>F1 %{z:.3f}<extra></extra>', colorbar: { title: { text: 'F1' } },
    }],
    layout: { title: { text: title }, height: 160 + 40 * classes.length, width: 180 + 110 * models.length, yaxis: { autorange: 'reversed', automargin: true }, xaxis: { automargin: true } },
  };
}
