/**
 * `bench cnn_train_step`: one training step of notebook 02's CNN at the full profile's batch
 * size, TensorFlow.js (the backend initTf picks: wasm here) vs PyTorch CPU (Debian
 * python3-torch, 2 threads), side by side in one invocation; medians of repeated steps
 * after warm-up steps, on random data (data loading is not timed on either side).
 *
 * Both sides run the same layer list (cnnLayerSpec), the same loss (the recipe's distillation
 * loss: label-smoothed cross-entropy plus the KL term to a teacher's soft labels), the same optimiser (Adam with decoupled weight decay on kernels) and both
 * read the loss and the correct count back every step, as the training loop does.
 * The wasm backend runs on ONE thread (threads are off in Node), PyTorch on two. Notebook 02
 * trains with the loop's data-parallel step (CNN_RECIPE.replicas = 2; src/train/parallel.ts:
 * this thread plus a worker thread, each with its own wasm instance and an identical copy of
 * the model, each computing gradients on half the batch; the averaged gradients are exchanged
 * and both apply the same update), so that step is the bench result; the single-thread step
 * is printed beside it.
 */
import { spawnSync } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import { profileFromEnv } from '../src/config';
import { buildCnn, cnnLayerSpec, cnnMacsPerImage, CNN_RECIPE, CnnConfig } from '../src/models/cnn';
import { createTrainStep } from '../src/train/step';
import { packTargets } from '../src/train/distillation';
import { DataParallelStep } from '../src/train/parallel';
import { describeRuntime, initTf, tf } from '../src/tf/runtime';

export const name = 'cnn_train_step';

const NUM_CLASSES = 13; // main categories of the data set
const THREADS = 2;
const STEPS = Number(process.env.BENCH_STEPS ?? 15);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);

function median(values: number[]): number {
  const s = values.slice().sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The step settings notebook 02 trains with. */
const STEP_SETTINGS = { optimizer: CNN_RECIPE.optimizer, labelSmoothing: CNN_RECIPE.labelSmoothing, distillation: CNN_RECIPE.distillation };

/** Random labels packed with random teacher probabilities, as a distillation batch carries them. */
function packedTargets(batch: number): tf.Tensor2D {
  const labels = Array.from({ length: batch }, (_, i) => (i * 7) % NUM_CLASSES);
  const teacher = tf.tidy(() => tf.softmax(tf.randomNormal([batch, NUM_CLASSES], 0, 1, 'float32', 3)).dataSync() as Float32Array);
  return tf.tensor2d(packTargets(labels, teacher, NUM_CLASSES), [batch, 2 * NUM_CLASSES]);
}

/** Median ms of `STEPS` training steps of a fresh model at `batch`. */
function timeTfjsStep(config: CnnConfig, batch: number): number {
  const model = buildCnn(config);
  const trainer = createTrainStep(model, STEP_SETTINGS);
  const x = tf.randomUniform([batch, config.inputSize, config.inputSize, 3], 0, 1, 'float32', 1);
  const y = packedTargets(batch);
  const times: number[] = [];
  try {
    for (let i = 0; i < WARMUP + STEPS; i++) {
      const t0 = performance.now();
      trainer.step({ x, y }, CNN_RECIPE.baseLr);
      if (i >= WARMUP) times.push(performance.now() - t0);
    }
  } finally {
    tf.dispose([x, y]);
    trainer.optimizer.dispose();
    model.dispose();
  }
  return median(times);
}

function timeTorchStep(config: CnnConfig, batch: number): { median_ms: number; torch: string; threads: number; params: number } {
  const spec = {
    layers: cnnLayerSpec(config), input_size: config.inputSize, num_classes: config.numClasses, batch,
    steps: STEPS, warmup: WARMUP, threads: THREADS, lr: CNN_RECIPE.baseLr,
    weight_decay: CNN_RECIPE.optimizer.weightDecay ?? 0, label_smoothing: CNN_RECIPE.labelSmoothing,
    distillation: CNN_RECIPE.distillation,
  };
  const r = spawnSync('/usr/bin/python3', [path.join(__dirname, 'cnn_train_step.py'), JSON.stringify(spec)], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: String(THREADS), MKL_NUM_THREADS: String(THREADS) },
  });
  if (r.status !== 0) {
    throw new Error(`PyTorch reference failed (${(r.stderr || r.error?.message || '').trim().split('\n').pop()}); ` +
      'install it with: apt-get install -y --no-install-recommends python3-torch');
  }
  return JSON.parse(r.stdout.trim().split('\n').pop() as string);
}

/** Median ms of a batch-`batch` step split over this thread and one worker thread (src/train/parallel.ts). */
async function timeDataParallelStep(config: CnnConfig, batch: number): Promise<number> {
  const model = buildCnn(config);
  const trainer = createTrainStep(model, STEP_SETTINGS);
  const pool = await DataParallelStep.start(model, trainer, STEP_SETTINGS, 2, { threads: 1 });
  const x = tf.randomUniform([batch, config.inputSize, config.inputSize, 3], 0, 1, 'float32', 1);
  const y = packedTargets(batch);
  const times: number[] = [];
  try {
    if (pool.threads !== 1) throw new Error('the worker thread did not start');
    for (let i = 0; i < WARMUP + STEPS; i++) {
      const t0 = performance.now();
      await pool.step({ x, y }, CNN_RECIPE.baseLr);
      if (i >= WARMUP) times.push(performance.now() - t0);
    }
  } finally {
    await pool.close();
    tf.dispose([x, y]);
    trainer.optimizer.dispose();
    model.dispose();
  }
  return median(times);
}

export async function run(): Promise<void> {
  await initTf();
  const batch = profileFromEnv({ PROFILE: 'full' }).batchSize;
  const config: CnnConfig = { ...CNN_RECIPE.architecture, numClasses: NUM_CLASSES, seed: 42 };
  const load = os.loadavg()[0];
  console.log(`CNN ${config.stem ? `stem ${config.stem} (stride 2) + ` : ''}blocks ${config.filters.join('-')} + dense ${config.denseUnits}, ${config.inputSize} px, batch ${batch}; ` +
    `${(cnnMacsPerImage(config) / 1e6).toFixed(1)} M multiply-adds per image forward; ${STEPS} timed steps after ${WARMUP} warm-up`);
  console.log(`ours: ${describeRuntime()}`);
  if (load > os.cpus().length) console.log(`note: load average ${load.toFixed(1)} on ${os.cpus().length} cores: other work is running, timings are noisy`);

  const ours = timeTfjsStep(config, batch);
  const ref = timeTorchStep(config, batch);
  let parallel: number | null = null;
  try {
    parallel = await timeDataParallelStep(config, batch);
  } catch (err) {
    console.log(`data-parallel measurement failed: ${(err as Error).message.split('\n')[0]}`);
  }
  console.log(`reference: PyTorch ${ref.torch} CPU, ${ref.threads} threads (${ref.params.toLocaleString('en-US')} parameters)`);
  console.log(`ours, one wasm thread: ${ours.toFixed(1)} ms per batch-${batch} step; vs reference: speedup ${(ref.median_ms / ours).toFixed(2)}`);
  if (parallel !== null) {
    console.log(`ours, 2 data-parallel wasm workers as notebook 02 trains (main thread + 1 worker thread, batch ${batch / 2} each, gradients averaged): ` +
      `${parallel.toFixed(1)} ms per batch-${batch} step = ${(ours / parallel).toFixed(2)}× the single thread`);
  }
  // The result is the step the training loop runs: data-parallel when the recipe asks for it and it ran.
  const step = CNN_RECIPE.replicas > 1 && parallel !== null ? parallel : ours;
  console.log(`bench ${name}: speedup ${(ref.median_ms / step).toFixed(2)} (ours ${step.toFixed(1)} ms, reference ${ref.median_ms.toFixed(1)} ms)`);
}
