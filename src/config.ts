/**
 * One place for every size, epoch count and path the notebooks use.
 * `PROFILE=smoke` runs the same code on a small stratified subset with few epochs;
 * `full` (the default) is the real experiment. Nothing else in the project reads PROFILE.
 */
import * as path from 'path';

export type ProfileName = 'full' | 'smoke';

export interface Profile {
  name: ProfileName;
  /** Products kept per main category and split (null = all). Smoke keeps a small stratified subset. */
  maxProductsPerCategory: number | null;
  /** Square sizes, in pixels, of the cleaned image caches. */
  imageSizes: number[];
  /** Training epochs per stage (upper bounds: early stopping may end sooner). */
  epochs: {
    pixelLogreg: number; cnn: number; head: number; text: number; fusion: number;
    /** Epochs of each short CNN run of notebook 02's ablation (one lever changed per run). */
    cnnAblation: number;
    /** Epochs of each cross-fitted teacher head (notebook 02's distillation). */
    teacher: number;
  };
  batchSize: number;
  /** Folds of the out-of-fold predictions of the training split (src/eval/oof.ts: notebooks 04 and 05). */
  oofFolds: number;
  /** Seed for every split, shuffle and initialisation. */
  seed: number;
}

const PROFILES: Record<ProfileName, Profile> = {
  full: {
    name: 'full',
    maxProductsPerCategory: null,
    imageSizes: [64, 224],
    epochs: { pixelLogreg: 60, cnn: 16, head: 60, text: 30, fusion: 40, cnnAblation: 1, teacher: 20 },
    batchSize: 64,
    oofFolds: 5,
    seed: 42,
  },
  smoke: {
    name: 'smoke',
    maxProductsPerCategory: 12,
    imageSizes: [64, 224],
    epochs: { pixelLogreg: 3, cnn: 2, head: 3, text: 2, fusion: 2, cnnAblation: 1, teacher: 2 },
    batchSize: 32,
    oofFolds: 3,
    seed: 42,
  },
};

export function profileFromEnv(env: NodeJS.ProcessEnv = process.env): Profile {
  const name = (env.PROFILE ?? 'full').trim() || 'full';
  if (name !== 'full' && name !== 'smoke') {
    throw new Error(`PROFILE=${name} is not a profile: use PROFILE=full (default) or PROFILE=smoke`);
  }
  return PROFILES[name];
}

export const PROFILE: Profile = profileFromEnv();

/** Repository root: this file lives in <root>/src. */
export const ROOT = path.resolve(__dirname, '..');

/**
 * Root of every derived cache (data/clean, outputs/models, outputs/features): the repository, or
 * CACHE_ROOT when set — `npm run pipeline -- --cold` points it at an empty temporary folder so a
 * cold run never touches the user's caches. Reports (metrics.json, REPORT.md, figures) stay here.
 */
export const CACHE_ROOT = process.env.CACHE_ROOT ? path.resolve(process.env.CACHE_ROOT) : ROOT;

export const PATHS = {
  root: ROOT,
  /** Input as published (a link to ../shared/marketplace made by scripts/setup.sh, or MARKETPLACE_DATA). */
  raw: process.env.MARKETPLACE_DATA ? path.resolve(process.env.MARKETPLACE_DATA) : path.join(ROOT, 'data', 'raw'),
  /** Derived, cached, git-ignored. Shared by both profiles: caches are keyed by what produced them. */
  clean: path.join(CACHE_ROOT, 'data', 'clean'),
  /** Derived models and features (outputs/models, outputs/features; under CACHE_ROOT when set). */
  outputs: path.join(CACHE_ROOT, 'outputs'),
  /** Committed report artefacts come only from the full profile; smoke writes beside them in outputs/smoke. */
  report: PROFILE.name === 'full' ? path.join(ROOT, 'outputs') : path.join(ROOT, 'outputs', 'smoke'),
  figures: PROFILE.name === 'full' ? path.join(ROOT, 'outputs', 'figures') : path.join(ROOT, 'outputs', 'smoke', 'figures'),
  models: path.join(CACHE_ROOT, 'outputs', 'models', PROFILE.name),
  features: path.join(CACHE_ROOT, 'outputs', 'features'),
};
