/**
 * The one helper every stage uses to record its numbers in metrics.json.
 *
 * The file lives in PATHS.report: outputs/metrics.json for the full profile,
 * outputs/smoke/metrics.json for PROFILE=smoke, so smoke numbers never reach the
 * committed report. Writes are atomic (temp file + rename) and keys are sorted at
 * every level, so re-running a stage gives a minimal, stable diff. Each write holds a lock
 * (src/artifacts/file_lock.ts), so notebooks running side by side do not lose each other's updates.
 */
import * as fs from 'fs';
import * as path from 'path';
import { PATHS } from './config';
import { withFileLock } from './artifacts/file_lock';

export type MetricsFile = Record<string, Record<string, unknown>>;

export interface RecordOptions {
  /** Replace the stage's object instead of merging into it (default false: merge). */
  replace?: boolean;
}

/** Lower-case words or numbers joined by single underscores: "test_accuracy", "precision_at_5", "00". */
const SNAKE_CASE = /^[a-z0-9]+(_[a-z0-9]+)*$/;

export function defaultMetricsPath(): string {
  return path.join(PATHS.report, 'metrics.json');
}

/** The whole metrics file; {} when it does not exist yet. */
export function readMetrics(file: string = defaultMetricsPath()): MetricsFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not valid JSON (${(err as Error).message}); fix or delete it`);
  }
  if (!isPlainObject(parsed)) throw new Error(`${file} must hold a JSON object of stages`);
  for (const [stage, values] of Object.entries(parsed)) {
    if (!isPlainObject(values)) throw new Error(`${file}: stage "${stage}" must be an object`);
  }
  return parsed as MetricsFile;
}

/**
 * Merges one stage's values into the metrics file. Returns nothing: a notebook cell that ends with
 * this call would otherwise print the whole file (every stage) under the cell.
 * Nested objects merge key by key (so run.wall_seconds keeps other notebooks' times);
 * arrays and scalars replace. Throws, before writing anything, on a key that is not
 * snake_case, a number that is not finite, or a value JSON cannot hold.
 */
export function recordMetrics(
  stage: string,
  values: Record<string, unknown>,
  file: string = defaultMetricsPath(),
  options: RecordOptions = {},
): void {
  if (!SNAKE_CASE.test(stage)) throw new Error(`metrics stage "${stage}" is not snake_case (e.g. "price_regression")`);
  if (!isPlainObject(values)) throw new Error(`metrics for stage "${stage}" must be a plain object`);
  validate(values, stage);

  // Locked: notebooks running side by side each merge their stage into the same file.
  withFileLock(file, () => {
    const all = readMetrics(file);
    const previous = all[stage];
    all[stage] = options.replace || !previous ? (clone(values) as Record<string, unknown>) : deepMerge(previous, values);
    const sorted = sortKeys(all) as MetricsFile;
    writeAtomic(file, JSON.stringify(sorted, null, 2) + '\n');
  });
}

function validate(value: unknown, where: string): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`metric ${where} is ${value}: only finite numbers can be recorded`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => validate(v, `${where}[${i}]`));
    return;
  }
  if (isPlainObject(value)) {
    for (const [key, v] of Object.entries(value)) {
      if (!SNAKE_CASE.test(key)) throw new Error(`metric key "${key}" in ${where} is not snake_case (e.g. "test_accuracy")`);
      validate(v, `${where}.${key}`);
    }
    return;
  }
  const kind =
    value === undefined
      ? 'undefined'
      : typeof value === 'object'
        ? `a ${(value as object).constructor?.name ?? 'non-plain object'}`
        : `a ${typeof value}`;
  throw new Error(`metric ${where} is ${kind}, which JSON cannot hold`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function deepMerge(base: Record<string, unknown>, update: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, v] of Object.entries(update)) {
    const old = out[key];
    out[key] = isPlainObject(old) && isPlainObject(v) ? deepMerge(old, v) : clone(v);
  }
  return out;
}

function clone(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = sortKeys(value[key]);
  return out;
}

/** Readers never see a half-written file: write beside it, then rename over it. */
function writeAtomic(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    fs.writeFileSync(tmp, text, 'utf8');
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}
