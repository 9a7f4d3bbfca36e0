/**
 * What one training epoch leaves behind, in one shape for every reader: the training loop's
 * history (training.json), the live training curve (plot/training_curve.ts) and the one-line
 * log form. The plot side imports this module, never the reverse.
 */
import { formatDuration } from '../progress';

/** Metrics by name (loss, acc, val_loss, val_acc, lr, …); undefined where not measured. */
export type EpochLogs = Record<string, number | undefined>;

/** One finished epoch: its number (from 1), its wall seconds, and its metrics by name. */
export interface EpochRecord {
  epoch: number;
  /** Wall seconds of the epoch (for a curve: since its previous update). */
  seconds: number;
  [metric: string]: number | undefined;
}

/** An epoch of the training loop (train/loop.ts): every metric it always measures. */
export interface TrainEpoch extends EpochRecord {
  loss: number;
  acc: number;
  val_loss: number;
  val_acc: number;
  lr: number;
}

/** The metrics of a record, without its epoch number and seconds (key order kept). */
export function logsOf(record: EpochRecord): EpochLogs {
  const { epoch: _epoch, seconds: _seconds, ...logs } = record;
  return logs;
}

/** A metric value for a log line or legend: 4 decimals, or exponent form when very small or large. */
export function formatMetric(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e5)) return value.toExponential(2);
  return value.toFixed(4);
}

/** The one-line text form of an epoch, for logs: `[cnn] epoch 3/40  loss 0.5120  val_loss 0.6010  (12s)`. */
export function epochLine(title: string, record: EpochRecord, totalEpochs?: number): string {
  const values = Object.entries(logsOf(record))
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => `${k} ${formatMetric(v)}`)
    .join('  ');
  const epoch = totalEpochs ? `${record.epoch}/${totalEpochs}` : `${record.epoch}`;
  return `${title ? `[${title}] ` : ''}epoch ${epoch}  ${values}  (${formatDuration(record.seconds)})`;
}
