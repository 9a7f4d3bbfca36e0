/**
 * outputs/REPORT.md: what was run and what came out, readable on a code host without running
 * anything. Built from metrics.json (every stage's numbers, the run's wall times, notebook 06's
 * common-test-set evaluation) and the PNG figures beside it.
 *
 * `renderReport` is pure (metrics + figure names + machine → markdown); `writeReport` reads
 * PATHS.report/metrics.json, lists PATHS.figures and writes PATHS.report/REPORT.md (the smoke
 * profile writes outputs/smoke/REPORT.md). Notebook 06 calls it, and so does the pipeline after
 * a run, so the wall-time table covers every notebook that ran.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PATHS, PROFILE } from '../config';
import { defaultMetricsPath, MetricsFile, readMetrics } from '../metrics_store';
import { ANCHORS, anchorOf, LEAKY_NOTE } from './anchors';
import { MODELS, STAGES as REGISTRY_STAGES } from '../artifacts/registry';

export interface MachineInfo {
  cpuModel: string;
  cpuCount: number;
  memoryGiB: number;
  os: string;
  node: string;
}

/** '2 × <CPU model>': what wall times depend on most. */
export function cpuLabel(m: MachineInfo): string {
  return `${m.cpuCount} × ${m.cpuModel}`;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown CPU', cpuCount: cpus.length, memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} (${os.arch()})`, node: process.version,
  };
}

export interface ReportInput {
  metrics: MetricsFile;
  /** PNG file names present in the figures folder. */
  figures: string[];
  /** The figures folder relative to the report's folder (e.g. 'figures'), with '/' separators. */
  figuresRel: string;
  machine: MachineInfo;
  /** When the report is written. */
  generated: Date;
  /** Profile name (for the smoke warning); default metrics.run.profile. */
  profile?: string;
}

/** The notebooks, in order, with a short name (for the wall-time table): the registry's stages. */
export const NOTEBOOK_NAMES: Record<string, string> = Object.fromEntries(REGISTRY_STAGES.map((s) => [s.id, s.title]));

/** Stage → notebook and label, for the stages' selected models (each has its own metrics). */
const STAGES: Array<{ stage: string; notebook: string; label: string }> = MODELS.filter((m) => m.selected)
  .map((m) => ({ stage: m.key, notebook: m.stage, label: m.label }));

/** Key figures shown inline, in this order, when present; other PNGs are linked. */
const KEY_FIGURES: Array<{ file: string; caption: string }> = [
  { file: '06_accuracy_vs_anchors.png', caption: 'Test accuracy of every model on the same test products, with 95 % bootstrap intervals, beside the published (leaky) numbers' },
  { file: '06_per_class_f1.png', caption: 'Per-class F1 of every model on the common test products' },
  { file: '06_calibration.png', caption: 'Reliability diagram (calibration) on the common test products' },
  { file: '06_confusion_fusion.png', caption: 'Confusion matrix of the chosen fusion model' },
  { file: '05_late_fusion_weight.png', caption: 'Late fusion: validation scores against the weight of the image model' },
  { file: '05_early_fusion_curve.png', caption: 'Early fusion training curve' },
];

export type Obj = Record<string, unknown>;

/** A plain object read from metrics.json (not an array, not null). */
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A recorded number, or undefined when it is missing or not finite. */
export const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** A run's recorded wall times (e.g. run.wall_seconds) in notebook order, and their sum. */
export function wallTimes(times: unknown): { ids: string[]; seconds: Record<string, number>; total: number } {
  const seconds: Record<string, number> = {};
  if (isObj(times)) for (const [k, v] of Object.entries(times)) if (num(v) !== undefined) seconds[k] = v as number;
  const ids = Object.keys(seconds).sort();
  return { ids, seconds, total: ids.reduce((s, k) => s + seconds[k], 0) };
}

/** A fraction as a percentage ("30.8 %"); "—" when it is not a finite number (a metric not recorded). */
export function pct(v: unknown, digits = 1): string {
  const n = num(v);
  return n === undefined ? '—' : `${(100 * n).toFixed(digits)} %`;
}

/** A number with fixed decimals; "—" when it is not a finite number. */
export function fixed(v: unknown, digits = 3): string {
  const n = num(v);
  return n === undefined ? '—' : n.toFixed(digits);
}

/** Seconds as "1m05s" / "42.0 s". */
export function formatWall(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  return `${m}m${String(Math.round(seconds - 60 * m)).padStart(2, '0')}s`;
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** A GitHub-flavoured markdown table. */
export function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map(escapeCell).join(' | ')} |`;
  return [line(header), `| ${header.map(() => '---').join(' | ')} |`, ...rows.map(line)].join('\n');
}

function runSection(input: ReportInput): string[] {
  const run = isObj(input.metrics.run) ? input.metrics.run : {};
  const { ids, seconds: wall, total } = wallTimes(run.wall_seconds);
  const m = input.machine;
  const out = ['## What was run', ''];
  out.push(markdownTable(['', ''], [
    ['profile', String(run.profile ?? input.profile ?? 'unknown')],
    ['last pipeline run', typeof run.date === 'string' ? run.date : '—'],
    ['report written', input.generated.toISOString()],
    ['machine', `${cpuLabel(m)}, ${m.memoryGiB} GiB memory, ${m.os}, Node ${m.node}`],
    ['TensorFlow.js backend', String(run.backend ?? '—')],
  ]));
  out.push('');
  if (ids.length) {
    out.push('Wall time per notebook (the latest run of each, headless, from `run.wall_seconds` in metrics.json):', '');
    out.push(markdownTable(['notebook', 'what', 'wall time'], [
      ...ids.map((id) => [id, NOTEBOOK_NAMES[id] ?? '', formatWall(wall[id])]),
      ['total', `${ids.length} notebooks`, formatWall(total)],
    ]));
    const last = isObj(run.last_pipeline) ? run.last_pipeline : undefined;
    if (last && num(last.seconds) !== undefined) {
      out.push('', `Last \`npm run pipeline\` invocation: notebooks ${Array.isArray(last.notebooks) ? last.notebooks.join(' ') : '?'}, ` +
        `${formatWall(num(last.seconds) as number)} in all${typeof last.date === 'string' ? ` (finished ${last.date})` : ''}` +
        `${num(last.jobs) !== undefined && (num(last.jobs) as number) > 1 ? `, up to ${last.jobs} notebooks at a time (so each notebook's time above was measured beside another's, and their sum exceeds the run's)` : ''}.`);
    }
  } else {
    out.push('No wall times recorded yet (they are written by `npm run pipeline`).');
  }
  out.push('');
  return out;
}

function evaluationSection(input: ReportInput): string[] {
  const ev = isObj(input.metrics.evaluation) ? input.metrics.evaluation : undefined;
  if (!ev || !isObj(ev.models)) return [];
  const models = ev.models as Record<string, Obj>;
  const order = (Array.isArray(ev.order) ? (ev.order as string[]) : Object.keys(models)).filter((k) => isObj(models[k]));
  const out = ['## Every model on the same test products', ''];
  out.push(`${num(ev.test_products_common) ?? '?'} test products are predicted by every model (the test products with at least one usable photo` +
    `${num(ev.test_products_without_photos) ? `; ${ev.test_products_without_photos} test listings have no photo and are left out here, the text and fusion models still predict them` : ''}). ` +
    `Accuracy with a 95 % percentile-bootstrap interval (${num(ev.bootstrap_iterations) ?? 1000} resamples of the products); ECE = expected calibration error over 10 confidence bins.`);
  out.push('');
  out.push(markdownTable(['notebook', 'model', 'accuracy [95 % CI]', 'macro-F1', 'log-loss', 'top-3', 'ECE', 'published anchor (leaky splits)'],
    order.map((k) => {
      const r = models[k];
      const a = anchorOf(k);
      return [String(r.notebook ?? ''), String(r.label ?? k), `${pct(r.accuracy)} [${pct(r.accuracy_ci_low)} – ${pct(r.accuracy_ci_high)}]`,
        fixed(r.macro_f1), fixed(r.log_loss), pct(r.top3_accuracy), fixed(r.ece), a ? a.text : ''];
    })));
  out.push('', `Anchors: ${LEAKY_NOTE}. Ours never trains on a photo of a test product, so the numbers are not directly comparable: the anchors are optimistic.`, '');
  const classes = Array.isArray(ev.classes) ? (ev.classes as string[]) : [];
  const withF1 = order.filter((k) => Array.isArray(models[k].per_class_f1));
  if (classes.length && withF1.length) {
    out.push('### Per-class F1 (common test products)', '');
    out.push(markdownTable(['class', ...withF1.map((k) => String(models[k].short_label ?? models[k].label ?? k))],
      classes.map((c, i) => [c, ...withF1.map((k) => fixed((models[k].per_class_f1 as number[])[i], 2))])));
    out.push('');
  }
  if (isObj(ev.paired_differences)) {
    const rows = Object.entries(ev.paired_differences as Record<string, Obj>).filter(([, v]) => isObj(v));
    if (rows.length) {
      out.push('### Paired differences (same products, same resamples)', '');
      out.push(markdownTable(['comparison', 'accuracy difference [95 % CI]'],
        rows.map(([, v]) => [String(v.label ?? ''), `${fixed(100 * (num(v.difference) ?? NaN), 1)} pp [${fixed(100 * (num(v.ci_low) ?? NaN), 1)} – ${fixed(100 * (num(v.ci_high) ?? NaN), 1)}]`])));
      out.push('');
    }
  }
  return out;
}

function stageSection(input: ReportInput): string[] {
  const out = ['## Each stage on its own test set', '',
    'As each notebook recorded it (product level; image models on the test products that have photos, text and fusion on every test listing).', ''];
  const rows = STAGES.filter((s) => isObj(input.metrics[s.stage])).map((s) => {
    const m = input.metrics[s.stage] as Obj;
    const n = num(m.test_products) ?? num(m.n_test_products);
    const model = typeof m.model === 'string' ? m.model : typeof m.selected_step === 'string' ? m.selected_step : typeof m.chosen_model === 'string' ? m.chosen_model : '';
    return [s.notebook, s.label, model, pct(m.test_accuracy), fixed(m.test_macro_f1), fixed(m.test_log_loss), pct(m.val_accuracy), n === undefined ? '—' : String(n), anchorOf(s.stage)?.text ?? ''];
  });
  if (rows.length) out.push(markdownTable(['notebook', 'stage', 'selected model', 'test accuracy', 'test macro-F1', 'test log-loss', 'val accuracy', 'test products', 'anchor (leaky)'], rows), '');
  const price = isObj(input.metrics.price_regression) ? input.metrics.price_regression : undefined;
  if (price) {
    out.push('### Price regression (01)', '');
    out.push(markdownTable(['model', 'R² (ln price)', 'RMSE (ln price)', 'MAE (ln price)', 'R² (£)', 'RMSE (£)', 'MAE (£)', 'test listings', 'anchor'], [[
      String(price.model ?? ''), fixed(price.r2_log), fixed(price.rmse_log), fixed(price.mae_log), fixed(price.r2), fixed(price.rmse, 0), fixed(price.mae, 0),
      String(num(price.n_test) ?? '—'), ANCHORS.find((a) => a.stage === 'price_regression')?.text ?? '',
    ]]), '');
  }
  const fusion = isObj(input.metrics.fusion) ? input.metrics.fusion : undefined;
  if (fusion && isObj(fusion.candidates)) {
    out.push('### Fusion candidates (05)', '');
    out.push(`Chosen on validation: **${String(fusion.chosen_model ?? '?')}**. Photos: ${String(fusion.photo_combination ?? '')}.`, '');
    out.push(markdownTable(['candidate', 'val accuracy', 'test accuracy', 'test macro-F1', 'test log-loss'],
      Object.entries(fusion.candidates as Record<string, Obj>).filter(([, v]) => isObj(v)).map(([k, v]) => [String(v.label ?? k), pct(v.val_accuracy), pct(v.test_accuracy), fixed(v.test_macro_f1), fixed(v.test_log_loss)])));
    out.push('');
  }
  return out;
}

/** A number as an integer when it is one, else with 4 decimals; a string as is. */
function cellOf(v: unknown): string {
  const n = num(v);
  if (n === undefined) return String(v);
  return Number.isInteger(n) ? String(n) : n.toFixed(4);
}

function retrievalSection(input: ReportInput): string[] {
  const r = isObj(input.metrics.retrieval) ? input.metrics.retrieval : undefined;
  if (!r) return [];
  const flat: string[][] = [];
  for (const [k, v] of Object.entries(r)) {
    if (num(v) !== undefined || typeof v === 'string') flat.push([k, cellOf(v)]);
    else if (isObj(v)) for (const [k2, v2] of Object.entries(v)) if (num(v2) !== undefined || typeof v2 === 'string') flat.push([`${k}.${k2}`, cellOf(v2)]);
  }
  return ['## Similar listings (07)', '', markdownTable(['metric', 'value'], flat), ''];
}

function figuresSection(input: ReportInput): string[] {
  const have = new Set(input.figures.filter((f) => f.endsWith('.png')));
  const rel = (f: string) => `${input.figuresRel.replace(/\/$/, '')}/${f}`;
  const out = ['## Figures', ''];
  const inline = KEY_FIGURES.filter((k) => have.has(k.file));
  for (const k of inline) out.push(`**${k.caption}**`, '', `![${k.caption}](${rel(k.file)})`, '');
  const shown = new Set(inline.map((k) => k.file));
  const others = [...have].filter((f) => !shown.has(f)).sort();
  if (others.length) {
    out.push('All other figures, by notebook:', '');
    const byNotebook = new Map<string, string[]>();
    for (const f of others) {
      const id = /^\d\d/.test(f) ? f.slice(0, 2) : 'other';
      byNotebook.set(id, [...(byNotebook.get(id) ?? []), f]);
    }
    for (const [id, files] of byNotebook) out.push(`- ${id}${NOTEBOOK_NAMES[id] ? ` (${NOTEBOOK_NAMES[id]})` : ''}: ${files.map((f) => `[${f.replace(/\.png$/, '')}](${rel(f)})`).join(', ')}`);
    out.push('');
  }
  if (have.size === 0) out.push('No figures yet.', '');
  return out;
}

export function renderReport(input: ReportInput): string {
  const profile = input.profile ?? String((input.metrics.run as Obj | undefined)?.profile ?? 'unknown');
  const out = ['# Marketplace recommendation ranking: report', ''];
  if (profile !== 'full') {
    out.push(`> **Profile \`${profile}\`: a small subset with few epochs, to check that the pipeline runs. These numbers are NOT results.**`, '');
  }
  out.push('Generated by `src/eval/report.ts` from `metrics.json` and the figures beside this file (notebook 06 and `npm run pipeline` write it). ' +
    'Accuracy is measured on the held-out TEST split at product level; the split is made by product and cross-post family, so no photo of a test product is ever trained on.', '');
  out.push(...runSection(input), ...evaluationSection(input), ...stageSection(input), ...retrievalSection(input), ...figuresSection(input));
  return out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n';
}

export interface WriteReportOptions {
  metricsFile?: string;
  reportDir?: string;
  figuresDir?: string;
  machine?: MachineInfo;
  now?: Date;
}

/** Writes REPORT.md into the report folder (default PATHS.report) and returns its path. */
export function writeReport(options: WriteReportOptions = {}): string {
  const reportDir = options.reportDir ?? PATHS.report;
  const figuresDir = options.figuresDir ?? PATHS.figures;
  const metrics = readMetrics(options.metricsFile ?? defaultMetricsPath());
  const figures = fs.existsSync(figuresDir) ? fs.readdirSync(figuresDir).filter((f) => f.endsWith('.png')) : [];
  const text = renderReport({
    metrics, figures, figuresRel: path.relative(reportDir, figuresDir).split(path.sep).join('/') || '.',
    machine: options.machine ?? machineInfo(), generated: options.now ?? new Date(), profile: String((metrics.run as Obj | undefined)?.profile ?? PROFILE.name),
  });
  fs.mkdirSync(reportDir, { recursive: true });
  const file = path.join(reportDir, 'REPORT.md');
  fs.writeFileSync(file + '.tmp', text);
  fs.renameSync(file + '.tmp', file);
  return file;
}
