/**
 * Saving and loading tfjs models on the file system, without tfjs-node.
 *
 * Plain `@tensorflow/tfjs` in Node has no 'file://' IO handler (tfjs-node registers it),
 * so this module writes the standard tfjs layers format itself: `model.json` (topology +
 * weights manifest) and `weights.bin`. Loading reads any standard tfjs model folder,
 * including converted models with several weight shards (e.g. `group1-shard1of25.bin`).
 * `registerFileRouter()` makes `model.save('file://dir')` and
 * `tf.loadLayersModel('file://dir/model.json')` work too, unless tfjs-node already did.
 *
 * Writes are atomic per folder: files go to `<dir>.tmp-<pid>` first, then replace `<dir>`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { tf } from '../tf/runtime';
// Registers the SeededDropout layer class, so every saved model that uses it loads.
import '../models/seeded_dropout';

/** A tensor with a name (tfjs-core's NamedTensor, which the tfjs bundle does not re-export). */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';

function toBuffer(data: tf.io.WeightData | undefined): Buffer {
  if (data == null) return Buffer.alloc(0);
  const joined = Array.isArray(data) ? tf.io.CompositeArrayBuffer.join(data) : data;
  return Buffer.from(joined);
}

function toArrayBuffer(buf: Buffer): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

/** Write `files` (name → content) as the folder `dir`, replacing it atomically. */
export function writeFolderAtomic(dir: string, files: Record<string, string | Buffer>): void {
  const target = path.resolve(dir);
  const tmp = `${target}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(tmp, name), content);
  const old = `${target}.old-${process.pid}`;
  if (fs.existsSync(target)) fs.renameSync(target, old);
  fs.renameSync(tmp, target);
  fs.rmSync(old, { recursive: true, force: true });
}

/** Write each file through a temporary name + rename (in the given order) into an existing or new folder. */
export function writeFilesAtomic(dir: string, files: Record<string, string | Buffer>): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, content);
    fs.renameSync(tmp, file);
  }
}

/** The model.json object tfjs writes for a set of model artifacts. */
function modelJsonFor(artifacts: tf.io.ModelArtifacts): Record<string, unknown> {
  const json: Record<string, unknown> = {
    modelTopology: artifacts.modelTopology,
    format: artifacts.format ?? 'layers-model',
    generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
    convertedBy: artifacts.convertedBy ?? null,
    weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
  };
  if (artifacts.trainingConfig != null) json.trainingConfig = artifacts.trainingConfig;
  if (artifacts.signature != null) json.signature = artifacts.signature;
  if (artifacts.userDefinedMetadata != null) json.userDefinedMetadata = artifacts.userDefinedMetadata;
  if (artifacts.modelInitializer != null) json.modelInitializer = artifacts.modelInitializer;
  return json;
}

/** An IOHandler that saves into the folder `dir` (model.json + weights.bin) and loads from it. */
export function fileHandler(dir: string): tf.io.IOHandler {
  const folder = path.resolve(dir.replace(/^file:\/\//, '').replace(new RegExp(`${MODEL_JSON}$`), ''));
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new Error('saving graph models in binary topology form is not supported; save a layers model');
      }
      const weights = toBuffer(artifacts.weightData);
      const json = JSON.stringify(modelJsonFor(artifacts));
      writeFolderAtomic(folder, { [MODEL_JSON]: json, [WEIGHTS_BIN]: weights });
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          modelTopologyBytes: Buffer.byteLength(json),
          weightSpecsBytes: Buffer.byteLength(JSON.stringify(artifacts.weightSpecs ?? [])),
          weightDataBytes: weights.byteLength,
        },
      };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const file = path.join(folder, MODEL_JSON);
      if (!fs.existsSync(file)) throw new Error(`no ${MODEL_JSON} in ${folder}`);
      const modelJson = JSON.parse(fs.readFileSync(file, 'utf8')) as tf.io.ModelJSON;
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const parts: Buffer[] = [];
        for (const group of manifest) {
          for (const p of group.paths) parts.push(fs.readFileSync(path.join(folder, p)));
          specs.push(...group.weights);
        }
        return [specs, toArrayBuffer(Buffer.concat(parts))];
      });
    },
  };
}

/**
 * Route 'file://' URLs to fileHandler, so `model.save('file://dir')` works without
 * tfjs-node. Does nothing when a handler for 'file://' exists already (tfjs-node's).
 */
export function registerFileRouter(): void {
  const probe = 'file:///tmp/probe';
  const route = (url: string | string[]) => {
    const u = Array.isArray(url) ? url[0] : url;
    return typeof u === 'string' && u.startsWith('file://') ? fileHandler(u) : null;
  };
  // tfjs's router type says a handler is always returned; null means "not mine" at run time.
  const router = route as unknown as Parameters<typeof tf.io.registerSaveRouter>[0];
  if (tf.io.getSaveHandlers(probe).length === 0) tf.io.registerSaveRouter(router);
  if (tf.io.getLoadHandlers(probe).length === 0) tf.io.registerLoadRouter(router);
}

export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  await model.save(fileHandler(dir));
}

/** Loads a layers model (architecture + weights) from a folder holding model.json. */
export async function loadModel(dir: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(fileHandler(dir));
}

/**
 * Loads the weights saved in `dir` into an existing model of the same architecture,
 * matching weights by position (tfjs may suffix variable names differently in another
 * process or after a rebuild) and checking every shape.
 */
export async function loadWeightsInto(model: tf.LayersModel, dir: string): Promise<void> {
  const artifacts = await fileHandler(dir).load!();
  const specs = artifacts.weightSpecs ?? [];
  const decoded = tf.io.decodeWeights(artifacts.weightData as tf.io.WeightData, specs);
  const tensors = specs.map((s) => decoded[s.name]);
  try {
    const own = model.weights;
    if (own.length !== tensors.length) {
      throw new Error(`checkpoint ${dir} has ${tensors.length} weights, the model has ${own.length}: different architecture`);
    }
    own.forEach((w, i) => {
      if (JSON.stringify(w.shape) !== JSON.stringify(tensors[i].shape)) {
        throw new Error(`checkpoint ${dir}: weight ${i} (${w.name}) has shape [${tensors[i].shape}], the model expects [${w.shape}]`);
      }
    });
    model.setWeights(tensors);
  } finally {
    tf.dispose(tensors);
  }
}

/**
 * The files of a saved model (model.json + weights.bin), in memory: to write them together
 * with other files in one atomic folder (writeFolderAtomic).
 */
export async function modelFiles(model: tf.LayersModel): Promise<Record<string, string | Buffer>> {
  let files: Record<string, string | Buffer> = {};
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    files = { [MODEL_JSON]: JSON.stringify(modelJsonFor(artifacts)), [WEIGHTS_BIN]: toBuffer(artifacts.weightData) };
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  return files;
}

/** Named tensors (e.g. optimiser state) as files `<base>.json` (specs) + `<base>.bin`, in memory. */
export async function tensorFiles(tensors: NamedTensor[], base: string): Promise<Record<string, string | Buffer>> {
  const { data, specs } = await tf.io.encodeWeights(tensors);
  return { [`${base}.json`]: JSON.stringify(specs), [`${base}.bin`]: toBuffer(data) };
}

/** Read tensors written as tensorFiles, in their saved order. The caller disposes them. */
export function loadTensors(dir: string, base: string): NamedTensor[] {
  const specs = JSON.parse(fs.readFileSync(path.join(dir, `${base}.json`), 'utf8')) as tf.io.WeightsManifestEntry[];
  const data = toArrayBuffer(fs.readFileSync(path.join(dir, `${base}.bin`)));
  const map = tf.io.decodeWeights(data, specs);
  return specs.map((s) => ({ name: s.name, tensor: map[s.name] }));
}
