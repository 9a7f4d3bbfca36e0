/**
 * bench resnet50_features_224: ResNet-50 forward throughput at 224 px (2048-d pooled features),
 * ours vs PyTorch CPU, on this machine, in one invocation.
 *
 * - ours: the pipeline's backbone, onnxruntime-node running the project's ONNX export of the
 *   pretrained tfjs ResNet-50 (src/backbone/onnx_backbone.ts), default settings (one worker
 *   thread per core, one ORT thread each), batches of BATCH images in flight on every worker;
 * - reference: PyTorch (Debian python3-torch) eager ResNet-50, eval + no_grad, 2 threads, same
 *   batch size (bench/resnet50_features_224.py; set up by bench/setup.sh).
 *
 * The two sides run one after the other, twice, alternating (ref, ours, ref, ours) so that a
 * burst of load from other processes does not land on one side only; each side's value is the
 * median of its per-batch (ours: per-round) rates. The machine is shared: numbers are noisy.
 *
 * Runs standalone too: `npx tsx bench/resnet50_features_224.bench.ts`.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { OnnxBackbone } from '../src/backbone/onnx_backbone';

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

function runReference(): number[] {
  const out = execFileSync(PYTHON, [REF_SCRIPT, '--batch', String(BATCH), '--repeats', String(REPEATS), '--threads', String(THREADS)], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: String(THREADS), MKL_NUM_THREADS: String(THREADS) },
    maxBuffer: 1 << 20,
  });
  const line = out.trim().split('\n').pop() as string;
  const r = JSON.parse(line) as RefResult;
  return r.batch_seconds.map((s) => BATCH / s);
}

/** Rates (img/s) of REPEATS rounds; a round is one batch on every worker at once. */
async function runOurs(backbone: OnnxBackbone): Promise<number[]> {
  const input = new Float32Array(BATCH * 224 * 224 * 3);
  for (let i = 0; i < input.length; i++) input[i] = ((i * 2654435761) % 256) - 128; // any image-like range
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

export async function run(): Promise<void> {
  ensureTorch();
  const backbone = await OnnxBackbone.create();
  try {
    const ours: number[] = [];
    const ref: number[] = [];
    for (let pass = 0; pass < 2; pass++) {
      ref.push(...runReference());
      ours.push(...(await runOurs(backbone)));
    }
    const o = median(ours);
    const r = median(ref);
    console.log(
      `  ${NAME}: ${backbone.describe()}; batch ${BATCH}; ${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(2)} (shared machine: noisy)`,
    );
    console.log(`bench ${NAME}: speedup ${(o / r).toFixed(2)} (ours ${o.toFixed(1)} img/s, reference ${r.toFixed(1)} img/s)`);
  } finally {
    await backbone.release();
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
