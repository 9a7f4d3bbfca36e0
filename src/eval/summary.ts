/**
 * The closing "Summary" of a notebook: bullets built from the run's own numbers (never typed in)
 * and a pointer to the next chapter. Pure text here; showSummary renders it in the notebook.
 */
import { showMarkdown } from '../display';
import { defaultMetricsPath, readMetrics } from '../metrics_store';

// Formatting of recorded numbers, shared with REPORT.md: "—" for a metric that is missing.
export { pct, fixed } from './report';
// The published numbers a stage is read against, so a summary quotes them from one place.
export { anchorOf } from './anchors';

/** One stage's recorded values in this profile's metrics.json ({} when the stage has not run). */
export function recorded(stage: string, file: string = defaultMetricsPath()): Record<string, unknown> {
  return readMetrics(file)[stage] ?? {};
}

/** Where the reader goes next: a notebook file (or REPORT.md) and one line on what it does. */
export interface NextChapter {
  /** File name relative to notebooks/, e.g. "03_resnet_transfer.ipynb" or "../outputs/REPORT.md". */
  file: string;
  title: string;
  /** One line on what it does. */
  what: string;
}

/** "03 · ResNet transfer" from the file's two-digit prefix, the title alone when it has none. */
function chapterLabel(next: NextChapter): string {
  const id = /^(\d{2})_/.exec(next.file.split('/').pop() ?? '')?.[1];
  return id ? `${id} · ${next.title}` : next.title;
}

/** "## Summary", one bullet per point (empty points dropped), then the pointer line. */
export function summaryMarkdown(points: string[], next?: NextChapter): string {
  const bullets = points.map((p) => p.trim()).filter(Boolean).map((p) => `- ${p}`);
  const lines = ['## Summary', '', ...bullets];
  if (next) lines.push('', `**Next:** [${chapterLabel(next)}](${next.file}) — ${next.what.trim()}`);
  return lines.join('\n');
}

/** Show the summary as markdown (rendered in a notebook, as is in a plain process). */
export function showSummary(points: string[], next?: NextChapter): void {
  showMarkdown(summaryMarkdown(points, next));
}

