/**
 * The registry of what the notebooks hand each other: every stage (notebook) with what it
 * depends on, and every artifact with its files, format version, the stage that writes it and
 * the stages that read it. The pipeline runner, the report and notebook 06 read the stage list
 * from here; stores and notebooks get file names from here, never by spelling them.
 *
 * A reader that finds an artifact of another format version gets an `ArtifactVersionError`
 * naming the file and the notebook to re-run.
 */
import * as fs from 'fs';
import * as path from 'path';
import { PATHS, PROFILE } from '../config';

export type StageId = '00' | '01' | '02' | '03' | '04' | '05' | '06' | '07';

export interface Stage {
  id: StageId;
  /** Notebook file name without .ipynb. */
  notebook: string;
  title: string;
  /** Stages whose artifacts this one reads. */
  dependsOn: StageId[];
  /**
   * Stages that must finish first when the pipeline runs notebooks side by side, although this one
   * reads none of their artifacts: both fill a cache that one process at a time may extract.
   */
  runsAfter?: StageId[];
}

export const STAGES: readonly Stage[] = [
  { id: '00', notebook: '00_data_cleaning', title: 'data cleaning, split, image caches', dependsOn: [] },
  { id: '01', notebook: '01_shallow_baselines', title: 'shallow baselines', dependsOn: ['00'] },
  // 02's distillation teacher reads the 224 px ResNet-50 features that 03 extracts (whichever runs first fills the store).
  { id: '02', notebook: '02_custom_cnn', title: 'custom CNN', dependsOn: ['00'], runsAfter: ['03'] },
  { id: '03', notebook: '03_resnet_transfer', title: 'ResNet-50 transfer', dependsOn: ['00'] },
  { id: '04', notebook: '04_text_model', title: 'text model', dependsOn: ['00'] },
  { id: '05', notebook: '05_fusion', title: 'fusion', dependsOn: ['03', '04'] },
  { id: '06', notebook: '06_evaluation', title: 'evaluation, this report', dependsOn: ['01', '02', '03', '04', '05'] },
  { id: '07', notebook: '07_similar_listings', title: 'similar listings, serving bundle', dependsOn: ['03', '04', '05'] },
];

/**
 * The models whose product-level predictions the stages save (the `predictions` artifact, one file
 * per key) and notebook 06 compares; `selected` marks a stage's chosen model, which also has its
 * own metrics.json entry under the same key.
 */
export interface ModelEntry {
  key: string;
  stage: StageId;
  label: string;
  short: string;
  selected: boolean;
}

export const MODELS: readonly ModelEntry[] = [
  { key: 'pixel_logreg', stage: '01', label: 'softmax regression on pixels', short: 'pixels', selected: true },
  { key: 'cnn', stage: '02', label: 'custom CNN', short: 'CNN', selected: true },
  { key: 'resnet', stage: '03', label: 'ResNet-50 transfer', short: 'ResNet-50', selected: true },
  { key: 'text', stage: '04', label: 'text model', short: 'text', selected: true },
  { key: 'fusion_early', stage: '05', label: 'early fusion', short: 'early fusion', selected: false },
  { key: 'fusion_late', stage: '05', label: 'late fusion', short: 'late fusion', selected: false },
  { key: 'fusion', stage: '05', label: 'image + text fusion', short: 'fusion (chosen)', selected: true },
];

export function stage(id: string): Stage {
  const s = STAGES.find((x) => x.id === id);
  if (!s) throw new Error(`no stage ${id}: the stages are ${STAGES.map((x) => x.id).join(', ')}`);
  return s;
}

/** `npm run pipeline -- NN` for a stage: what an error tells the user to run. */
export function rerunHint(id: StageId, profile: string = PROFILE.name): string {
  return `re-run notebook ${stage(id).notebook} (${profile === 'full' ? '' : `PROFILE=${profile} `}npm run pipeline -- ${id})`;
}

type PathFn = (profile: string) => string;

export interface ArtifactSpec {
  stage: StageId;
  /** Format version: bumped when the files change shape; readers refuse other versions. */
  version: number;
  readBy: StageId[] | Array<StageId | 'serve' | 'parity' | 'pipeline'>;
  /** The file or folder (per profile). */
  path: PathFn;
  description: string;
}

const features = (name: string) => (profile: string) => path.join(PATHS.features, `${name}_${profile}`);
const models = (name: string) => (profile: string) => path.join(PATHS.outputs, 'models', profile, name);

/** Every artifact one stage hands another. */
export const ARTIFACTS = {
  clean_data: { stage: '00', version: 1, readBy: ['01', '02', '03', '04', '05', '07'], path: () => PATHS.clean,
    description: 'cleaned listings, photos table, product-grouped split, cleaning report (data/clean/*.json)' },
  image_cache: { stage: '00', version: 2, readBy: ['01', '02', '03', '07'], path: () => path.join(PATHS.clean, 'images_<size>px_<key>.{json,u8}'),
    description: 'photos resized to 32/64/224/288 px, uint8 RGB, keyed by recipe and ids; sources checked by content (md5)' },
  backbone_features: { stage: '03', version: 1, readBy: ['05', '07'], path: () => path.join(PATHS.clean, 'features'),
    description: 'ResNet-50 avg_pool vectors per photo and view, keyed by backbone, weights, input side, pixels, flip (05 and 07 read the side 03 chose; 02 computes the missing fp32 ones for its distillation teacher, so whichever of 02/03 runs first pays)' },
  predictions: { stage: '01', version: 1, readBy: ['05', '06'], path: (profile) => path.join(PATHS.features, `predictions_<stage>_${profile}.json`),
    description: 'product-level val/test probabilities of each stage\'s selected model (01–05)' },
  text_features: { stage: '04', version: 1, readBy: ['05', '07'], path: features('text'),
    description: 'per-product text CNN embeddings and the text models\' probabilities (.json + .f32)' },
  text_oof: { stage: '04', version: 1, readBy: ['05'], path: features('text_oof'),
    description: 'out-of-fold text predictions of the training split: each training product\'s TF-IDF and text CNN probabilities and CNN embedding from fold models that never saw it, with its fold (.json + .f32)' },
  image_embeddings: { stage: '03', version: 1, readBy: ['07'], path: features('resnet_image_embeddings'),
    description: 'per-photo 256-d head embeddings (.json + .f32)' },
  fusion_embeddings: { stage: '05', version: 1, readBy: ['07'], path: features('fusion_product_embeddings'),
    description: 'per-product fused embeddings of the early-fusion model (.json + .f32)' },
  image_predictor: { stage: '03', version: 1, readBy: ['05', '07', 'serve', 'parity'], path: models('predictors/image'),
    description: '03\'s selected image model: heads, views (flip TTA), photo aggregation' },
  text_predictor: { stage: '04', version: 1, readBy: ['05', '07', 'serve', 'parity'], path: models('predictors/text'),
    description: '04\'s selected text model: TF-IDF vocabulary and weights, tokeniser vocabulary, text CNN, blend weight' },
  fusion_predictor: { stage: '05', version: 1, readBy: ['07', 'serve', 'parity'], path: models('predictors/fusion'),
    description: '05\'s selected fusion: how it combines the image and text predictors (and its own network)' },
  search_index: { stage: '07', version: 1, readBy: ['serve', 'parity'], path: models('search_index'),
    description: 'the photo index chosen per query type on validation (head embedding or whitened backbone features), the whitening (mean, projection), the listing-query choice' },
  serving_bundle: { stage: '07', version: 2, readBy: ['serve', 'parity'], path: models('serving'),
    description: 'the three predictors, listings and ANN indexes the service loads' },
} satisfies Record<string, ArtifactSpec>;

export type ArtifactName = keyof typeof ARTIFACTS;

/** The file or folder of an artifact in a profile (default: this process's profile). */
export function artifactPath(name: ArtifactName, profile: string = PROFILE.name): string {
  return ARTIFACTS[name].path(profile);
}

/** The file name (without folder and extension) of a per-profile artifact: how the embedding stores name their files. */
export function artifactName(name: ArtifactName, profile: string = PROFILE.name): string {
  return path.basename(artifactPath(name, profile));
}

export class ArtifactVersionError extends Error {}

/** The header every artifact's JSON carries: which artifact, which format version. */
export function artifactHeader(name: ArtifactName): { artifact: ArtifactName; version: number } {
  return { artifact: name, version: ARTIFACTS[name].version };
}

/** Checks a header read from `file`; throws naming the file and the notebook to re-run. */
export function checkArtifactHeader(name: ArtifactName, header: { artifact?: unknown; version?: unknown }, file: string, profile: string = PROFILE.name): void {
  const spec = ARTIFACTS[name];
  if (header.artifact !== name || header.version !== spec.version) {
    const found = header.artifact === name ? `version ${String(header.version)}` : `no '${name}' header`;
    throw new ArtifactVersionError(`${path.relative(PATHS.root, file)} holds ${found}; this code reads '${name}' version ${spec.version}: ${rerunHint(spec.stage, profile)}`);
  }
}

/** Reads a JSON artifact file and checks its header; a missing file names the notebook that writes it. */
export function readArtifactJson<T extends object>(name: ArtifactName, file: string, profile: string = PROFILE.name): T {
  if (!fs.existsSync(file)) throw new Error(`missing ${path.relative(PATHS.root, file)} (${name}): ${rerunHint(ARTIFACTS[name].stage, profile)}`);
  const value = JSON.parse(fs.readFileSync(file, 'utf8')) as T & { artifact?: unknown; version?: unknown };
  checkArtifactHeader(name, value, file, profile);
  return value;
}

/** The stage list as the runner's dependency map. */
export function dependencyMap(): Record<string, string[]> {
  return Object.fromEntries(STAGES.map((s) => [s.id, [...s.dependsOn]]));
}

/** What must finish before a stage may start when notebooks run side by side: its dependencies and `runsAfter`. */
export function startAfterMap(): Record<string, string[]> {
  return Object.fromEntries(STAGES.map((s) => [s.id, [...s.dependsOn, ...(s.runsAfter ?? [])]]));
}
