/**
 * bench resnet50_features_224: ResNet-50 forward throughput at 224 px (2048-d pooled features),
 * ours vs PyTorch CPU, on this machine, in one invocation, on the same BATCH real photos.
 *
 * - ours: the int8 model onnxruntime-node runs (src/backbone/quantize.ts: QDQ, per-channel int8
 *   weights, per-tensor uint8 activations): the one notebook 03 recorded, else one calibrated here
 *   on INT8_CALIBRATION_PHOTOS training photos (min-max); default backbone settings (one worker
 *   thread per core, one ORT thread each), a batch of BATCH photos in flight on every worker;
 * - printed beside it: the fp32 export on onnxruntime-node, same settings (what ran before int8);
 * - reference: PyTorch (Debian python3-torch) eager fp32 ResNet-50, eval + no_grad, 2 threads, the
 *   same photos (caffe-preprocessed, passed as a raw float32 file) and batch size
 *   (bench/resnet50_features_224.py; set up by bench/setup.sh).
 *
 * The sides run one after the other, twice, alternating (ref, int8, fp32, ref, int8, fp32) so that a
 * burst of load from other processes does not land on one side only; each side's value is the
 * median of its per-batch (ours: per-round) rates. The machine is shared: numbers are noisy.
 * Photos: validation photos of the profile (never calibration photos); notebook 00 must have run.
 *
 * Runs standalone too: `npx tsx bench/resnet50_features_224.bench.ts`.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { OnnxBackbone } from '../src/backbone/onnx_backbone';
import { ensureInt8OnnxModels, Int8ModelFile, ensureOnnxModel } from '../src/backbone/onnx_export';
import { int8CalibrationIds, recordedInputSize, recordedInt8, recordedInt8Method, recordedModelPath } from '../src/backbone/int8';
import type { CalibrationMethod } from '../src/backbone/quantize';
import { caffePreprocess } from '../src/backbone/resnet_tfjs';
import { openDataset, openImageCache } from '../src/data/dataset';
import { PROFILE } from '../src/config';

const NAME = 'resnet50_features_224';
const BATCH = Number(process.env.BENCH_RESNET_BATCH ?? 8);
const REPEATS = Number(process.env.BENCH_RESNET_REPEATS ?? 8);
const THREADS = 2;
const PYTHON = '/usr/bin/python3';
const REF_SCRIPT = path.join(__dirname, 'resnet50_features_224.py');

function median(values: number[]): number {
  const s = values.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function ensureTorch(): void {
  const probe = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' });
  if (probe.status === 0) return;
  const setup = path.join(__dirname, 'setup.sh');
  if (fs.existsSync(setup)) {
    const r = spawnSync('bash', [setup], { stdio: 'inherit' });
    if (r.status === 0) return;
  }
  throw new Error(`${NAME}: PyTorch is not available under ${PYTHON}: apt-get install -y --no-install-recommends python3-torch`);
}

interface RefResult {
  img_per_s_median: number;
  batch_seconds: number[];
  torch: string;
}

function runReference(inputFile: string): number[] {
  const out = execFileSync(PYTHON, [REF_SCRIPT, '--batch', String(BATCH), '--repeats', String(REPEATS), '--threads', String(THREADS), '--input', inputFile], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: String(THREADS), MKL_NUM_THREADS: String(THREADS) },
    maxBuffer: 1 << 20,
  });
  const line = out.trim().split('\n').pop() as string;
  const r = JSON.parse(line) as RefResult;
  return r.batch_seconds.map((s) => BATCH / s);
}

/** Rates (img/s) of REPEATS rounds; a round is one batch on every worker at once. */
async function runOurs(backbone: OnnxBackbone, input: Float32Array): Promise<number[]> {
  const lanes = Math.max(1, backbone.workers);
  const round = () => Promise.all(Array.from({ length: lanes }, () => backbone.run(input.slice(), BATCH)));
  await round(); // warm-up (first run allocates)
  const rates: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    await round();
    rates.push((lanes * BATCH * 1000) / (performance.now() - t0));
  }
  return rates;
}

/**
 * The int8 model at 224 px: notebook 03's recorded one when 03 runs the backbone at 224 px; else the 224 px
 * model of 03's calibration method on the same seeded training photos (03 calibrates it too, so it is
 * usually cached), or min-max before 03 has recorded anything.
 */
async function int8Model(trainIds: string[]): Promise<{ model: Pick<Int8ModelFile, 'file' | 'inputName' | 'outputNames' | 'inputShape'>; how: string }> {
  const recorded = recordedInt8();
  const file = recordedModelPath(recorded);
  const fp32 = ensureOnnxModel();
  if (file && fs.existsSync(file) && recordedInputSize(recorded) === 224) return { model: { ...fp32, file }, how: `recorded by notebook 03 (${recorded.method})` };
  const ids = int8CalibrationIds(trainIds, PROFILE.seed);
  const method: CalibrationMethod = recorded.method ? recordedInt8Method(recorded) : { kind: 'minmax' };
  const [model] = await ensureInt8OnnxModels([method], { ids, pixels: await openImageCache(ids, 224) });
  const of03 = recorded.method ? `, notebook 03's method (03 runs the backbone at ${recordedInputSize(recorded)} px)` : '';
  return { model, how: `${model.quantization.method} at 224 px, calibrated on ${ids.length} training photos${of03}` };
}

export async function run(): Promise<void> {
  ensureTorch();
  const data = await openDataset();
  const photoIds = data.imageExamples('val').slice(0, BATCH).map((e) => e.imageId);
  if (photoIds.length < BATCH) throw new Error(`${NAME}: need ${BATCH} validation photos, the ${PROFILE.name} profile has ${photoIds.length}`);
  const pixels = await openImageCache(photoIds, 224);
  const input = caffePreprocess(pixels.readMany(photoIds), BATCH, 224);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-resnet-'));
  const inputFile = path.join(tmp, 'photos_nhwc_caffe.f32');
  fs.writeFileSync(inputFile, new Uint8Array(input.buffer, input.byteOffset, input.byteLength));
  const { model, how } = await int8Model(data.imageExamples('train').map((e) => e.imageId));
  const int8 = await OnnxBackbone.fromModelFile(model);
  const fp32 = await OnnxBackbone.create();
  try {
    const ours: number[] = [];
    const onnxFp32: number[] = [];
    const ref: number[] = [];
    for (let pass = 0; pass < 2; pass++) {
      ref.push(...runReference(inputFile));
      ours.push(...(await runOurs(int8, input)));
      onnxFp32.push(...(await runOurs(fp32, input)));
    }
    const o = median(ours);
    const f = median(onnxFp32);
    const r = median(ref);
    console.log(
      `  ${NAME}: ours int8 (${how}): ${int8.describe()}; batch ${BATCH} of the same ${BATCH} ${PROFILE.name}-profile validation photos on every side; ` +
      `${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(2)} (shared machine: noisy)`,
    );
    console.log(`  ${NAME}: onnxruntime fp32 ${f.toFixed(1)} img/s (int8 / fp32 onnxruntime ${(o / f).toFixed(2)}, fp32 onnxruntime / PyTorch ${(f / r).toFixed(2)})`);
    console.log(`bench ${NAME}: speedup ${(o / r).toFixed(2)} (ours ${o.toFixed(1)} img/s int8 onnxruntime-node, reference ${r.toFixed(1)} img/s PyTorch fp32; onnxruntime fp32 ${f.toFixed(1)} img/s)`);
  } finally {
    await int8.release();
    await fp32.release();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export const name = NAME;
export default { name: NAME, run };

if (require.main === module) {
  run().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
