/**
 * A cache for deterministic computations whose result is plain JSON (out-of-fold probabilities,
 * a checkpoint's predictions): `<dir>/<name>_<contentKey(inputs)>.json`, under
 * data/clean/results by default. Checkpoints already make training resumable; this makes the
 * minutes spent *using* them (refitting fold models, predicting thousands of photos) resumable
 * too, so a warm run re-reads them. The key must hold everything the result depends on, and
 * `version` changes when the code that computes it changes meaning.
 */
import * as fs from 'fs';
import * as path from 'path';
import { PATHS } from '../config';
import { contentKey } from './content_key';

/** data/clean/results, or RESULT_CACHE_DIR (tests point it at a temporary folder). */
export function resultCacheDir(): string {
  return process.env.RESULT_CACHE_DIR || path.join(PATHS.clean, 'results');
}

interface CachedResult<T> {
  format: 'marketplace-result';
  name: string;
  key: string;
  created: string;
  result: T;
}

/** The file a result of `name` with these inputs is cached in. */
export function resultFile(name: string, inputs: unknown, dir: string = resultCacheDir()): string {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`result cache: name must be snake_case, got ${JSON.stringify(name)}`);
  return path.join(dir, `${name}_${contentKey(inputs)}.json`);
}

/**
 * The cached result of `compute()` for `inputs`, computing and saving it when absent (or
 * unreadable: a torn write is recomputed, not trusted). Writes atomically (temp file + rename).
 */
export async function cachedResult<T>(name: string, inputs: unknown, compute: () => Promise<T>, dir: string = resultCacheDir()): Promise<T> {
  const slot = resultSlot<T>(name, inputs, dir);
  return slot.hit ? slot.hit.result : slot.save(await compute());
}

/** `cachedResult` for a synchronous computation. */
export function cachedResultSync<T>(name: string, inputs: unknown, compute: () => T, dir: string = resultCacheDir()): T {
  const slot = resultSlot<T>(name, inputs, dir);
  return slot.hit ? slot.hit.result : slot.save(compute());
}

/** The cached result for these inputs, if readable, and how to save a computed one. */
function resultSlot<T>(name: string, inputs: unknown, dir: string): { hit: { result: T } | null; save(result: T): T } {
  const file = resultFile(name, inputs, dir);
  const key = path.basename(file, '.json').slice(name.length + 1);
  let hit: { result: T } | null = null;
  try {
    const cached = JSON.parse(fs.readFileSync(file, 'utf8')) as CachedResult<T>;
    if (cached.format === 'marketplace-result' && cached.name === name && cached.key === key) hit = { result: cached.result };
  } catch {
    // absent or torn: the caller computes
  }
  return {
    hit,
    save(result: T): T {
      const record: CachedResult<T> = { format: 'marketplace-result', name, key, created: new Date().toISOString(), result };
      fs.mkdirSync(dir, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify(record));
      fs.renameSync(tmp, file);
      return result;
    },
  };
}
