/**
 * Pipeline stamps that know what a notebook ran on, so the runner can tell a stale result.
 *
 * When a notebook succeeds, scripts/pipeline.ts writes `data/clean/.pipeline/<profile>/<id>.json`
 * with a fingerprint of its inputs:
 *  - notebook 00 (no upstream): a fingerprint of the input data set by content (Products.csv,
 *    Images.csv and every entry of images/ by name and the md5 of its bytes: a photo overwritten
 *    in place changes it, a copy of the same data set elsewhere or on another machine does not);
 *  - every other notebook: the digest of each upstream notebook's stamp at the time it ran.
 * Each stamp has a digest of its own (its inputs + when it ran). A notebook is FRESH when its stamp
 * exists, its recorded inputs equal today's, and its upstream notebooks are fresh; otherwise
 * staleReason says why, and the runner re-runs it (when needed for what was asked) or lists it.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

export const STAMP_FORMAT = 2;
export const DATASET_FILES = ['Products.csv', 'Images.csv'] as const;
export const DATASET_IMAGE_DIR = 'images';

export interface Stamp {
  format: typeof STAMP_FORMAT;
  notebook: string;
  finished: string;
  seconds: number;
  inputs: {
    /** Fingerprint of the input data set (notebooks without upstream). */
    dataset?: string;
    /** Upstream notebook id → digest of its stamp when this one ran. */
    upstream: Record<string, string>;
  };
  /** Digest of this stamp (inputs + when it ran): what downstream stamps record. */
  digest: string;
}

const md5 = (data: string | Buffer) => crypto.createHash('md5').update(data).digest('hex');

/** Fingerprint of a marketplace data set folder (see the module comment); ~1 s for 12,668 photos. */
export function datasetFingerprint(rawDir: string): string {
  const hash = crypto.createHash('md5');
  for (const name of DATASET_FILES) {
    const file = path.join(rawDir, name);
    hash.update(`${name}\0${fs.existsSync(file) ? md5(fs.readFileSync(file)) : 'missing'}\n`);
  }
  const dir = path.join(rawDir, DATASET_IMAGE_DIR);
  const entries = fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
  for (const name of entries) {
    let line: string;
    try {
      const file = path.join(dir, name);
      line = `${name}\0${fs.statSync(file).isFile() ? md5(fs.readFileSync(file)) : 'other'}`;
    } catch {
      line = `${name}\0unreadable`; // a dangling link is part of the data set's state too
    }
    hash.update(line + '\n');
  }
  return hash.digest('hex').slice(0, 16);
}

export function stampFile(stampDir: string, id: string): string {
  return path.join(stampDir, `${id}.json`);
}

export function readStamp(stampDir: string, id: string): Stamp | null {
  try {
    const stamp = JSON.parse(fs.readFileSync(stampFile(stampDir, id), 'utf8')) as Stamp;
    return stamp.format === STAMP_FORMAT ? stamp : null;
  } catch {
    return null;
  }
}

/** What a notebook reads today: the data set's fingerprint (no upstream) or the digests of its upstream stamps. */
export function currentInputs(stampDir: string, id: string, dependsOn: Record<string, string[]>, dataset: () => string): Stamp['inputs'] {
  const deps = dependsOn[id] ?? [];
  const upstream: Record<string, string> = {};
  for (const dep of deps) upstream[dep] = readStamp(stampDir, dep)?.digest ?? 'missing';
  return deps.length === 0 ? { dataset: dataset(), upstream } : { upstream };
}

/** Why notebook `id` is stale, or null when it is fresh (see the module comment). */
export function staleReason(stampDir: string, id: string, dependsOn: Record<string, string[]>, dataset: () => string): string | null {
  const stamp = readStamp(stampDir, id);
  if (!stamp) {
    return fs.existsSync(stampFile(stampDir, id)) ? 'its stamp predates input fingerprints' : 'it has not run in this profile';
  }
  const now = currentInputs(stampDir, id, dependsOn, dataset);
  if (now.dataset !== undefined && now.dataset !== stamp.inputs.dataset) {
    return `the input data set changed (fingerprint ${stamp.inputs.dataset ?? 'none'} → ${now.dataset})`;
  }
  for (const dep of dependsOn[id] ?? []) {
    if (now.upstream[dep] === 'missing') return `${dep} has no stamp`;
    if (now.upstream[dep] !== stamp.inputs.upstream[dep]) return `${dep} ran again after it (its outputs may differ)`;
    const depReason = staleReason(stampDir, dep, dependsOn, dataset);
    if (depReason) return `${dep} is stale: ${depReason}`;
  }
  return null;
}

/** Record a successful run of `id` with the inputs it ran on. */
export function writeStamp(
  stampDir: string,
  id: string,
  run: { notebook: string; seconds: number; inputs: Stamp['inputs'] },
): Stamp {
  const finished = new Date().toISOString();
  const digest = md5(JSON.stringify({ id, inputs: run.inputs, finished })).slice(0, 16);
  const stamp: Stamp = { format: STAMP_FORMAT, notebook: run.notebook, finished, seconds: run.seconds, inputs: run.inputs, digest };
  fs.mkdirSync(stampDir, { recursive: true });
  fs.writeFileSync(stampFile(stampDir, id), JSON.stringify(stamp, null, 2));
  return stamp;
}

/** A data set fingerprint computed once per runner invocation (the folder does not change during a run). */
export function memoised(fn: () => string): () => string {
  let value: string | undefined;
  return () => (value ??= fn());
}
