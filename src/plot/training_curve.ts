/**
 * A live training-curve chart (in the spirit of d2l's `Animator`): one panel per metric,
 * train vs validation, redrawn in place after every epoch.
 *
 * While training it is an inline SVG in an HTML output — no script, so it needs no
 * plotly.js and updates in place through tslab's update_display_data. `finish()` swaps it
 * for a PNG of the same picture: untrusted notebooks (every headless run) hide HTML/SVG
 * but always show PNGs. Outside a notebook each update prints one line.
 */
import * as fs from 'fs';
import * as path from 'path';
import { inNotebook, newDisplay, pipelineLogEnabled, writeRealStderr, type NotebookDisplay } from '../notebook_env';
import { renderSvgPng } from './png';
import { epochLine, formatMetric, type EpochLogs, type EpochRecord } from '../train/epoch_record';

export interface TrainingCurveOptions {
  title?: string;
  /** One panel per metric; each plots `m` (train) and `val_m` (validation). Default ['loss', 'acc']. */
  metrics?: string[];
  /** Planned epochs, shown as "epoch 3/40" and used as the x range. */
  epochs?: number;
  width?: number;
  height?: number;
}

const TRAIN_COLOR = '#1f77b4';
const VAL_COLOR = '#ff7f0e';
const FONT = 'font-family="DejaVu Sans, Arial, Helvetica, sans-serif"';
const MIN_REDRAW_MS = 200;

/**
 * Round numbers for an axis: a step of 1, 2 or 5 × 10^k (integers only when `integer`),
 * from at or below `min` to at or above `max`, in about `count` steps. (No 2.5 × 10^k: its
 * labels need a digit more than their neighbours, 0.050 0.075 0.100, or read as rounded.)
 */
export function niceTicks(min: number, max: number, count = 5, integer = false): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min > max) [min, max] = [max, min];
  if (min === max) {
    const pad = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
    min -= pad;
    max += pad;
  }
  const rawStep = (max - min) / Math.max(1, count);
  const magnitude = Math.pow(10, Math.floor(Math.log10(rawStep)));
  const multiples = [1, 2, 5, 10];
  let step = (multiples.map((m) => m * magnitude).find((s) => s >= rawStep * (1 - 1e-9)) ?? 10 * magnitude);
  if (integer) step = Math.max(1, Math.round(step));
  const first = Math.floor(min / step + 1e-9) * step;
  const ticks: number[] = [];
  // Multiply rather than accumulate, so ticks stay round (0.1 * 3, not 0.1 + 0.1 + 0.1).
  for (let i = 0; i < 1000; i++) {
    const t = Number((first + i * step).toPrecision(12));
    ticks.push(t);
    if (t >= max - step * 1e-9 && ticks.length >= 2) break;
  }
  return ticks;
}

/** A tick label with as many decimals as the step needs (0.02 → 2, 0.5 → 1, 5 → 0), the same for every tick. */
export function formatTick(value: number, step: number): string {
  let decimals = 0;
  while (decimals < 6 && Math.abs(step * 10 ** decimals - Math.round(step * 10 ** decimals)) > 1e-6 * step * 10 ** decimals) decimals++;
  return value.toFixed(decimals);
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

interface Series {
  name: string;
  /** Key in the epoch logs. */
  key: string;
  color: string;
  dashed: boolean;
  points: Array<[number, number]>;
}

function panelSvg(metric: string, history: EpochRecord[], box: { x: number; y: number; w: number; h: number }, maxEpoch: number): string {
  const series: Series[] = [
    { name: 'train', key: metric, color: TRAIN_COLOR, dashed: false, points: [] },
    { name: 'validation', key: `val_${metric}`, color: VAL_COLOR, dashed: true, points: [] },
  ];
  for (const record of history) {
    for (const s of series) {
      const value = record[s.key];
      if (typeof value === 'number' && Number.isFinite(value)) s.points.push([record.epoch, value]);
    }
  }
  const shown = series.filter((s) => s.points.length > 0);
  const values = shown.flatMap((s) => s.points.map((p) => p[1]));
  const margin = { l: 58, r: 14, t: 46, b: 40 };
  const plot = { x: box.x + margin.l, y: box.y + margin.t, w: box.w - margin.l - margin.r, h: box.h - margin.t - margin.b };
  const parts: string[] = [];

  parts.push(`<text x="${box.x + box.w / 2}" y="${box.y + 16}" text-anchor="middle" font-size="14" font-weight="bold" ${FONT}>${escapeXml(metric)}</text>`);
  // Legend and latest values share one row above the plot, so they never cover the curves.
  const last = history[history.length - 1];
  const legend = (history.length ? shown : series).map((s) => ({ ...s, text: `${s.name} ${last ? formatMetric(last[s.key]) : '—'}` }));
  // Centred on the panel; narrower items when many panels share the width.
  const itemWidth = Math.min(150, (box.w - 20) / Math.max(1, legend.length));
  const legendX = box.x + (box.w - itemWidth * legend.length) / 2 + 10;
  legend.forEach((s, i) => {
    const lx = legendX + i * itemWidth;
    const ly = box.y + 33;
    parts.push(`<line x1="${lx}" x2="${lx + 22}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    parts.push(`<text x="${lx + 28}" y="${ly}" font-size="11" fill="#333" ${FONT}>${escapeXml(s.text)}</text>`);
  });

  const xTicks = niceTicks(1, Math.max(2, maxEpoch), Math.min(8, Math.max(1, maxEpoch - 1)), true).filter((t) => t >= 1 && t <= Math.max(2, maxEpoch));
  const xMin = 1;
  const xMax = Math.max(2, maxEpoch);
  const yTicks = values.length ? niceTicks(Math.min(...values), Math.max(...values), 5) : [0, 0.5, 1];
  const yMin = yTicks[0];
  const yMax = yTicks[yTicks.length - 1];
  const sx = (x: number) => plot.x + ((x - xMin) / (xMax - xMin)) * plot.w;
  const sy = (y: number) => plot.y + plot.h - ((y - yMin) / (yMax - yMin || 1)) * plot.h;
  const yStep = yTicks.length > 1 ? yTicks[1] - yTicks[0] : 1;

  for (const t of yTicks) {
    const y = sy(t).toFixed(1);
    parts.push(`<line x1="${plot.x}" x2="${plot.x + plot.w}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${plot.x - 6}" y="${y}" dy="4" text-anchor="end" font-size="11" fill="#444" ${FONT}>${formatTick(t, yStep)}</text>`);
  }
  for (const t of xTicks) {
    const x = sx(t).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${plot.y + plot.h}" y2="${plot.y + plot.h + 4}" stroke="#444"/>`);
    parts.push(`<text x="${x}" y="${plot.y + plot.h + 17}" text-anchor="middle" font-size="11" fill="#444" ${FONT}>${t}</text>`);
  }
  parts.push(`<rect x="${plot.x}" y="${plot.y}" width="${plot.w}" height="${plot.h}" fill="none" stroke="#444"/>`);
  parts.push(`<text x="${plot.x + plot.w / 2}" y="${box.y + box.h - 6}" text-anchor="middle" font-size="12" fill="#333" ${FONT}>epoch</text>`);

  for (const s of shown) {
    const coords = s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`);
    if (coords.length > 1) {
      parts.push(`<polyline points="${coords.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    }
    if (s.points.length <= 60) {
      for (const c of coords) {
        const [cx, cy] = c.split(',');
        parts.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${s.color}"/>`);
      }
    }
  }
  return parts.join('\n');
}

/** The whole chart as a standalone SVG document (pure: used live, for the PNG, and in tests). */
export function trainingCurveSvg(history: EpochRecord[], opts: TrainingCurveOptions = {}): string {
  const metrics = opts.metrics ?? ['loss', 'acc'];
  const width = opts.width ?? 900;
  const height = opts.height ?? 340;
  const titleHeight = opts.title ? 28 : 0;
  const lastEpoch = history.length ? history[history.length - 1].epoch : 1;
  const maxEpoch = Math.max(lastEpoch, opts.epochs ?? 0, 2);
  const panelWidth = width / Math.max(1, metrics.length);
  const panels = metrics.map((metric, i) =>
    panelSvg(metric, history, { x: i * panelWidth, y: titleHeight, w: panelWidth, h: height - titleHeight }, maxEpoch),
  );
  const title = opts.title
    ? `<text x="${width / 2}" y="20" text-anchor="middle" font-size="16" font-weight="bold" ${FONT}>${escapeXml(opts.title)}</text>`
    : '';
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<rect width="${width}" height="${height}" fill="#fff"/>${title}\n${panels.join('\n')}</svg>`
  );
}

/**
 * Usage:
 *   const curve = new TrainingCurve({title: 'CNN', metrics: ['loss', 'acc'], epochs: 40});
 *   curve.update(epoch, {loss, val_loss, acc, val_acc});   // after each epoch (1-based)
 *   await curve.finish({pngPath: 'outputs/figures/cnn_curve.png'});
 * or pass `curve.tfCallback()` to a tfjs `model.fit({callbacks: [...]})`.
 */
export class TrainingCurve {
  readonly history: EpochRecord[] = [];
  private readonly options: TrainingCurveOptions;
  private readonly notebookDisplay: NotebookDisplay | null;
  private lastUpdateAt = Date.now();
  private lastRedrawAt = 0;

  constructor(options: TrainingCurveOptions = {}) {
    this.options = { ...options, metrics: options.metrics ?? ['loss', 'acc'] };
    this.notebookDisplay = inNotebook() ? newDisplay() : null;
    if (this.notebookDisplay) this.redraw();
  }

  private get title(): string {
    return this.options.title ?? '';
  }

  /** The chart as SVG, as it stands now. */
  svg(): string {
    return trainingCurveSvg(this.history, this.options);
  }

  private redraw(): void {
    this.notebookDisplay?.html(`<div style="max-width:100%;overflow-x:auto">${this.svg()}</div>`);
    this.lastRedrawAt = Date.now();
  }

  /** Record one epoch's metrics (epoch numbers start at 1) and redraw. */
  update(epoch: number, logs: EpochLogs): void {
    const now = Date.now();
    const record: EpochRecord = { ...logs, epoch, seconds: (now - this.lastUpdateAt) / 1000 };
    this.lastUpdateAt = now;
    this.history.push(record);
    const line = epochLine(this.title, record, this.options.epochs);
    if (this.notebookDisplay) {
      // Per-batch callers would flood the notebook; finish() always draws the last state.
      if (now - this.lastRedrawAt >= MIN_REDRAW_MS) this.redraw();
      if (pipelineLogEnabled()) writeRealStderr(line + '\n');
    } else {
      console.log(line);
    }
  }

  /** A tfjs `CustomCallbackArgs`-shaped object (tfjs epochs are 0-based; the chart's are 1-based). */
  tfCallback(): { onEpochEnd: (epoch: number, logs?: EpochLogs) => void } {
    return { onEpochEnd: (epoch, logs) => this.update(epoch + 1, logs ?? {}) };
  }

  /**
   * Leave the final chart: in a notebook, a PNG replaces the SVG (PNGs show in untrusted
   * notebooks too); `pngPath` also writes that PNG to a file.
   */
  async finish(opts: { pngPath?: string } = {}): Promise<void> {
    const svg = this.svg();
    if (this.notebookDisplay) this.redraw();
    if (!this.notebookDisplay && !opts.pngPath) return;
    let png: Buffer;
    try {
      png = await renderSvgPng(svg);
    } catch (err) {
      // Without Chromium the SVG stays; only an explicitly requested file is an error.
      if (opts.pngPath) throw err;
      console.error(`training curve kept as SVG: ${(err as Error).message}`);
      return;
    }
    if (opts.pngPath) {
      const file = path.resolve(opts.pngPath);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, png);
      if (!this.notebookDisplay) console.log(`  saved ${path.relative(process.cwd(), file) || file}`);
    }
    this.notebookDisplay?.png(png);
  }
}
