/**
 * Pure builders of the plotly figures several notebooks draw: a confusion-matrix heatmap,
 * predicted-vs-actual and residual scatters, and a validation (grid-search) curve.
 * They return plain figure objects for showPlot; nothing here renders or writes files.
 */
import type { PlotlyFigure } from './png';

/** Wrap long class names on spaces so they fit an axis (plotly breaks lines at <br>). */
export function wrapLabel(label: string, width = 18): string {
  const words = label.split(' ');
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else {
      line = line ? `${line} ${w}` : w;
    }
  }
  if (line) lines.push(line);
  return lines.join('<br>');
}

/** Each row divided by its sum (a row with no examples stays all zeros). */
export function rowNormalise(cm: number[][]): number[][] {
  return cm.map((row) => {
    const total = row.reduce((s, v) => s + v, 0);
    return row.map((v) => (total > 0 ? v / total : 0));
  });
}

export interface ConfusionFigureOptions {
  /** Pixel height (default 180 + 42 per class). */
  height?: number;
}

/**
 * Heatmap of a confusion matrix (cm[true][predicted], as metrics.confusionMatrix returns),
 * row-normalised so each cell is the share of a true class predicted as each class (the
 * diagonal is per-class recall). Cells are annotated with the percentage and the count;
 * true classes run top to bottom.
 */
export function confusionMatrixFigure(cm: number[][], labels: readonly string[], title: string, options: ConfusionFigureOptions = {}): PlotlyFigure {
  const k = labels.length;
  if (cm.length !== k || cm.some((row) => row.length !== k)) {
    throw new Error(`confusionMatrixFigure: expected a ${k} × ${k} matrix for ${k} labels`);
  }
  const share = rowNormalise(cm);
  const wrapped = labels.map((l) => wrapLabel(l));
  const text = share.map((row, t) => row.map((v, p) => `${Math.round(100 * v)}%<br>(${cm[t][p]})`));
  return {
    data: [
      {
        type: 'heatmap',
        z: share,
        x: wrapped,
        y: wrapped,
        text,
        texttemplate: '%{text}',
        textfont: { size: 9 },
        hovertemplate: 'true %{y}<br>predicted %{x}<br>%{text}<extra></extra>',
        // White (none) to dark blue (the largest share); plotly's named 'Blues' runs the other way.
        colorscale: [
          [0, '#f7fbff'],
          [0.5, '#6baed6'],
          [1, '#08306b'],
        ],
        zmin: 0,
        zmax: Math.max(0.05, ...share.flat()),
        colorbar: { title: { text: 'share of<br>true class' } },
      },
    ],
    layout: {
      title: { text: title },
      height: options.height ?? 180 + 42 * k,
      xaxis: { title: { text: 'predicted' }, tickangle: -45, automargin: true, side: 'bottom' },
      yaxis: { title: { text: 'true' }, autorange: 'reversed', automargin: true },
      margin: { t: 60 },
    },
  };
}

export interface ScatterFigureOptions {
  xTitle?: string;
  yTitle?: string;
  /** Log axes (e.g. prices in £). */
  logAxes?: boolean;
  /** Hover text per point (e.g. listing titles). */
  hoverText?: readonly string[];
}

function finiteRange(values: ArrayLike<number>[], positiveOnly: boolean): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const arr of values) {
    for (let i = 0; i < arr.length; i++) {
      const v = arr[i];
      if (!Number.isFinite(v) || (positiveOnly && v <= 0)) continue;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  return lo <= hi ? [lo, hi] : [0, 1];
}

/** Predicted against actual values, with the y = x line a perfect model would sit on. */
export function scatterFigure(actual: ArrayLike<number>, predicted: ArrayLike<number>, title: string, options: ScatterFigureOptions = {}): PlotlyFigure {
  if (actual.length !== predicted.length) throw new Error('scatterFigure: actual and predicted differ in length');
  const [lo, hi] = finiteRange([actual, predicted], options.logAxes ?? false);
  const axisType = options.logAxes ? 'log' : 'linear';
  return {
    data: [
      {
        type: 'scatter',
        mode: 'markers',
        name: 'listings',
        x: Array.from(actual),
        y: Array.from(predicted),
        text: options.hoverText ? Array.from(options.hoverText) : undefined,
        marker: { size: 5, opacity: 0.45 },
      },
      { type: 'scatter', mode: 'lines', name: 'predicted = actual', x: [lo, hi], y: [lo, hi], line: { dash: 'dash', color: '#d62728' } },
    ],
    layout: {
      title: { text: title },
      xaxis: { title: { text: options.xTitle ?? 'actual' }, type: axisType },
      yaxis: { title: { text: options.yTitle ?? 'predicted' }, type: axisType },
      height: 480,
    },
  };
}

/** Residuals (actual − predicted) against predicted values, with the zero line. */
export function residualFigure(actual: ArrayLike<number>, predicted: ArrayLike<number>, title: string, options: ScatterFigureOptions = {}): PlotlyFigure {
  if (actual.length !== predicted.length) throw new Error('residualFigure: actual and predicted differ in length');
  const pred = Array.from(predicted);
  const residuals = pred.map((p, i) => actual[i] - p);
  const [lo, hi] = finiteRange([pred], options.logAxes ?? false);
  return {
    data: [
      {
        type: 'scatter',
        mode: 'markers',
        name: 'listings',
        x: pred,
        y: residuals,
        text: options.hoverText ? Array.from(options.hoverText) : undefined,
        marker: { size: 5, opacity: 0.45 },
      },
      { type: 'scatter', mode: 'lines', name: 'zero', x: [lo, hi], y: [0, 0], line: { dash: 'dash', color: '#d62728' } },
    ],
    layout: {
      title: { text: title },
      xaxis: { title: { text: options.xTitle ?? 'predicted' }, type: options.logAxes ? 'log' : 'linear' },
      yaxis: { title: { text: options.yTitle ?? 'residual (actual − predicted)' } },
      height: 420,
    },
  };
}

export interface CurveSeries {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
}

export interface ValidationCurveOptions {
  xTitle?: string;
  yTitle?: string;
  /** Log x axis (default true: regularisation strengths). */
  logX?: boolean;
  /** Points to mark, e.g. each series' chosen value. */
  marks?: Array<{ name: string; x: number; y: number }>;
}

/** One line per series (e.g. per model or l1 ratio) of a validation score against a hyperparameter. */
export function validationCurveFigure(series: readonly CurveSeries[], title: string, options: ValidationCurveOptions = {}): PlotlyFigure {
  const data: unknown[] = series.map((s) => ({ type: 'scatter', mode: 'lines+markers', name: s.name, x: Array.from(s.x), y: Array.from(s.y) }));
  if (options.marks?.length) {
    data.push({
      type: 'scatter',
      mode: 'markers',
      name: 'chosen',
      x: options.marks.map((m) => m.x),
      y: options.marks.map((m) => m.y),
      text: options.marks.map((m) => m.name),
      marker: { symbol: 'star', size: 14, color: '#d62728' },
    });
  }
  return {
    data,
    layout: {
      // Wrapped: a long title (e.g. with a model's name in it) was cut off at both sides in a narrow output.
      title: { text: wrapLabel(title, 70) },
      margin: { t: 90 },
      xaxis: { title: { text: options.xTitle ?? 'alpha' }, type: options.logX ?? true ? 'log' : 'linear' },
      yaxis: { title: { text: options.yTitle ?? 'validation score' } },
      height: 440,
    },
  };
}
