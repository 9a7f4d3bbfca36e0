/**
 * The training loop on tiny synthetic images (8×8, 3 classes told apart by which colour
 * channel is brightest), on the wasm backend: loss goes down, early stopping, best
 * checkpoint saved and reloaded, completed runs are loaded instead of retrained, an
 * interrupted run resumes, and no tensors leak across epochs. Also the prediction and
 * evaluation helpers and the CNN builder.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vm from 'vm';
import { initTf, tf } from '../src/tf/runtime';
import { Rng } from '../src/rng';
import { buildCnn, cnnLayerSpec, cnnMacsPerImage, CnnConfig, modelSummaryRows } from '../src/models/cnn';
import { checkpointHash, readTrainingRecord, trainModel, TrainingInterrupted, TrainOptions } from '../src/train/loop';
import { createTrainStep, type Batch } from '../src/train/step';
import { DataParallelStep } from '../src/train/parallel';
import { watchInterrupts, type InterruptWatch } from '../src/train/interrupt';
import { fileHandler, loadModel, loadWeightsInto, registerFileRouter, saveModel } from '../src/train/model_io';
import { confidentMistakes, evaluateModel, predictBatches } from '../src/train/predict';
import { evaluateProbs, evaluationMetrics, productLevel } from '../src/eval/product_eval';

const SIZE = 8;
const CLASSES = 3;

interface Synthetic {
  x: Float32Array;
  labels: Int32Array;
  n: number;
}

/** Images whose label is the brightest channel, plus noise; images 2k and 2k+1 are one "product". */
function synthetic(n: number, seed: number): Synthetic {
  const rng = new Rng(seed);
  const x = new Float32Array(n * SIZE * SIZE * 3);
  const labels = new Int32Array(n);
  let c = 0;
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) c = rng.int(CLASSES);
    labels[i] = c;
    for (let p = 0; p < SIZE * SIZE; p++) {
      for (let ch = 0; ch < 3; ch++) x[(i * SIZE * SIZE + p) * 3 + ch] = (ch === c ? 0.6 : 0.3) + 0.25 * rng.normal();
    }
  }
  return { x, labels, n };
}

function* batchesOf(data: Synthetic, batchSize: number, shuffleSeed?: number): Generator<Batch & { labels: Int32Array; imageIds: string[]; productIds: string[] }> {
  const order = Array.from({ length: data.n }, (_, i) => i);
  if (shuffleSeed !== undefined) new Rng(shuffleSeed).shuffleInPlace(order);
  const per = SIZE * SIZE * 3;
  for (let s = 0; s < data.n; s += batchSize) {
    const idx = order.slice(s, s + batchSize);
    const x = new Float32Array(idx.length * per);
    const labels = new Int32Array(idx.length);
    idx.forEach((j, k) => {
      x.set(data.x.subarray(j * per, (j + 1) * per), k * per);
      labels[k] = data.labels[j];
    });
    yield {
      x: tf.tensor4d(x, [idx.length, SIZE, SIZE, 3]),
      y: tf.tensor1d(labels, 'int32'),
      labels,
      imageIds: idx.map((j) => `img${j}`),
      productIds: idx.map((j) => `prod${Math.floor(j / 2)}`),
    };
  }
}

const cnnConfig: CnnConfig = { inputSize: SIZE, numClasses: CLASSES, filters: [4, 8], denseUnits: 8, dropout: 0.1, seed: 7 };

let tmp: string;
const train = synthetic(96, 1);
const val = synthetic(48, 2);

function options(overrides: Partial<TrainOptions> = {}): TrainOptions {
  return {
    stage: 'test_cnn',
    config: { cnn: cnnConfig, data: 'synthetic-v1' },
    model: buildCnn(cnnConfig),
    trainBatches: (epoch) => batchesOf(train, 16, 100 + epoch),
    valBatches: () => batchesOf(val, 16),
    stepsPerEpoch: 6,
    epochs: 6,
    patience: 10,
    optimizer: { kind: 'adam', weightDecay: 1e-4 },
    schedule: { kind: 'cosine', base: 0.02, warmupEpochs: 1 },
    labelSmoothing: 0.05,
    modelsDir: tmp,
    quiet: true,
    ...overrides,
  };
}

/** Flatten + softmax-less dense layer: a model without batch-norm or pooling. */
function denseModel(): tf.LayersModel {
  return tf.sequential({
    layers: [tf.layers.flatten({ inputShape: [SIZE, SIZE, 3] }), tf.layers.dense({ units: CLASSES, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) })],
  });
}

function predictArray(model: tf.LayersModel, data: Synthetic): Float32Array {
  return tf.tidy(() => (model.predict(tf.tensor4d(data.x, [data.n, SIZE, SIZE, 3])) as tf.Tensor).dataSync() as Float32Array);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

before(async () => {
  await initTf({ backend: 'wasm' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'train-loop-'));
});

after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/**
 * Interrupts the run at `at` (epoch, step) the way JupyterLab does (SIGINT to the kernel
 * process) or through `signal`, counting the steps the loop still asks for afterwards.
 */
async function interruptMidEpoch(stage: string, how: 'sigint' | 'abort', extra: Partial<TrainOptions> = {}) {
  const noDropout = { ...cnnConfig, dropout: 0 };
  const setup = (o: Partial<TrainOptions>) => options({ stage, epochs: 4, config: { cnn: noDropout }, model: buildCnn(noDropout), ...extra, ...o });
  const controller = new AbortController();
  let pulledAfter = -1;
  function* interrupting(epoch: number) {
    let step = 0;
    for (const batch of batchesOf(train, 16, 100 + epoch)) {
      step++;
      if (epoch === 2 && step === 3) {
        if (how === 'sigint') process.kill(process.pid, 'SIGINT');
        else controller.abort();
        pulledAfter = 0;
      } else if (pulledAfter >= 0) {
        pulledAfter++;
      }
      yield batch;
    }
  }
  // A signal is handled once the step that was running yields (that step is never cut in half):
  // the loop stops before step 4. An abort is seen before step 3 itself runs.
  const stopsBefore = how === 'sigint' ? 4 : 3;
  await assert.rejects(trainModel(setup({ trainBatches: interrupting, signal: controller.signal })),
    (err: Error) => err instanceof TrainingInterrupted && err.message.includes(`epoch 2 before step ${stopsBefore} of 6`) && /resumes after epoch 1/.test(err.message));
  assert.equal(pulledAfter, stopsBefore - 3, 'no batch is pulled after the one the loop stops at');
  const dir = path.join(tmp, stage, checkpointHash(setup({}).config, setup({}), setup({}).model));
  assert.notEqual(readTrainingRecord(dir)?.complete, true, 'an interrupted run is not marked complete');
  const resumeState = JSON.parse(fs.readFileSync(path.join(dir, 'last', 'state.json'), 'utf8')) as { history: unknown[] };
  assert.equal(resumeState.history.length, 1, 'the resume state is the last finished epoch');
  assert.equal(process.listenerCount('SIGINT'), 0, 'the SIGINT listener is removed');

  // Running again resumes after epoch 1 and completes.
  const epochsTrained: number[] = [];
  const resumed = await trainModel(setup({ trainBatches: (epoch) => { epochsTrained.push(epoch); return batchesOf(train, 16, 100 + epoch); } }));
  assert.equal(resumed.status, 'resumed');
  assert.deepEqual(epochsTrained, [2, 3, 4]);
  assert.equal(readTrainingRecord(dir)?.complete, true);
}

test('a watch started inside a cell\'s synchronous part (vm breakOnSigint, as tslab runs cells) catches SIGINT and the process survives', async () => {
  const tslabHandler = () => {};
  process.on('SIGINT', tslabHandler);
  const holder = globalThis as unknown as { __startWatch?: () => InterruptWatch };
  let watch: InterruptWatch | undefined;
  holder.__startWatch = () => (watch = watchInterrupts());
  try {
    vm.runInThisContext('globalThis.__startWatch()', { breakOnSigint: true });
    await new Promise((resolve) => setImmediate(resolve));
    process.kill(process.pid, 'SIGINT'); // with the listener added inside the vm call, this killed the process
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.throws(() => watch!.check('here'), (err: Error) => err instanceof TrainingInterrupted && /here: SIGINT/.test(err.message));
  } finally {
    watch?.dispose();
    delete holder.__startWatch;
    process.off('SIGINT', tslabHandler);
  }
});

describe('trainModel', () => {
  test('loss decreases, the best epoch is checkpointed, no tensors leak across epochs', async () => {
    const opts = options();
    const tensorsPerEpoch: number[] = [];
    const before = tf.memory().numTensors;
    const result = await trainModel({ ...opts, onEpochEnd: () => tensorsPerEpoch.push(tf.memory().numTensors) });
    assert.equal(result.status, 'trained');
    assert.equal(result.history.length, 6);
    const first = result.history[0];
    const last = result.history[result.history.length - 1];
    assert.ok(last.loss < first.loss * 0.8, `training loss should fall: ${first.loss} → ${last.loss}`);
    assert.ok(Math.max(...result.history.map((h) => h.val_acc)) > 0.8, `the synthetic task is easy: val_acc ${result.history.map((h) => h.val_acc.toFixed(2))}`);
    assert.ok(result.history.every((h) => h.lr > 0));
    assert.ok(result.history[5].lr < result.history[1].lr, 'cosine schedule lowers the rate');
    // The model holds the best epoch's weights, and they are what is on disk.
    assert.equal(result.bestValLoss, Math.min(...result.history.map((h) => h.val_loss)));
    assert.ok(fs.existsSync(path.join(result.dir, 'model.json')) && fs.existsSync(path.join(result.dir, 'weights.bin')));
    assert.ok(!fs.existsSync(path.join(result.dir, 'last')), 'resume state is removed once training completes');
    assert.equal(readTrainingRecord(result.dir)?.complete, true);
    // tf.memory() stable: the same count after every epoch, and back to the start at the end.
    assert.equal(new Set(tensorsPerEpoch).size, 1, `tensors after each epoch: ${tensorsPerEpoch.join(', ')}`);
    assert.equal(tf.memory().numTensors, before, 'no tensors left behind by training');

    // Reloaded checkpoint (a new model object from disk) predicts exactly the same.
    const reloaded = await loadModel(result.dir);
    assert.ok(maxAbsDiff(predictArray(opts.model, val), predictArray(reloaded, val)) < 1e-5);
    reloaded.dispose();
    opts.model.dispose();
  });

  test('a completed run for the same config is loaded, not retrained; retrain: true trains again', async () => {
    const first = await trainModel(options());
    const trained = predictArray(first.dir ? (await loadModel(first.dir)) : buildCnn(cnnConfig), val);
    let calls = 0;
    const model = buildCnn(cnnConfig);
    const epochsSeen: number[] = [];
    const second = await trainModel(options({
      model,
      trainBatches: (epoch) => { calls++; return batchesOf(train, 16, 100 + epoch); },
      onEpochEnd: (e) => epochsSeen.push(e),
    }));
    assert.equal(second.status, 'loaded');
    assert.equal(calls, 0, 'no training batches requested');
    assert.equal(second.dir, first.dir);
    assert.deepEqual(epochsSeen, [1, 2, 3, 4, 5, 6], 'the stored curve is replayed to the callback');
    assert.ok(maxAbsDiff(trained, predictArray(model, val)) < 1e-5, 'loaded weights predict like the trained ones');

    const third = await trainModel(options({ model: buildCnn(cnnConfig), retrain: true, epochs: 6 }));
    assert.equal(third.status, 'trained');

    // Another config gets another folder.
    const other = options({ config: { cnn: cnnConfig, data: 'synthetic-v2' } });
    assert.notEqual(checkpointHash(other.config, other, other.model), first.hash);
    const lr = options({ schedule: { kind: 'constant', base: 0.01 } });
    assert.notEqual(checkpointHash(lr.config, lr, lr.model), first.hash);
  });

  test('early stopping ends the run after `patience` epochs without improvement', async () => {
    // A plain dense model (no batch-norm statistics to drift) with a negligible rate and a large
    // minDelta: nothing after epoch 1 counts as an improvement.
    const model = denseModel();
    const result = await trainModel(options({
      stage: 'test_early', model, epochs: 20, patience: 2, minDelta: 10,
      schedule: { kind: 'constant', base: 1e-9 },
    }));
    assert.equal(result.stoppedEarly, true);
    assert.equal(result.history.length, 3);
    assert.equal(result.bestEpoch, 1);
  });

  test('an interrupted run resumes after its last finished epoch, as if never interrupted', async () => {
    // Without dropout the run is deterministic (seeded init and shuffles), so the resumed run
    // must reproduce an uninterrupted one.
    const stage = 'test_resume';
    const noDropout = { ...cnnConfig, dropout: 0 };
    const setup = (o: Partial<TrainOptions>) => options({ stage, epochs: 4, config: { cnn: noDropout }, model: buildCnn(noDropout), ...o });
    const reference = await trainModel(setup({ modelsDir: path.join(tmp, 'ref') }));
    await assert.rejects(trainModel(setup({
      trainBatches: (epoch) => {
        if (epoch === 3) throw new Error('simulated interruption');
        return batchesOf(train, 16, 100 + epoch);
      },
    })), /simulated interruption/);
    const dir = path.join(tmp, stage, reference.hash);
    assert.ok(fs.existsSync(path.join(dir, 'last', 'state.json')), 'resume state written after each epoch');
    const epochsSeen: number[] = [];
    const resumed = await trainModel(setup({ onEpochEnd: (e) => epochsSeen.push(e) }));
    assert.equal(resumed.status, 'resumed');
    assert.deepEqual(epochsSeen, [1, 2, 3, 4]);
    assert.equal(resumed.history.length, 4);
    for (let e = 0; e < 4; e++) {
      assert.ok(Math.abs(resumed.history[e].val_loss - reference.history[e].val_loss) < 1e-4,
        `epoch ${e + 1}: resumed ${resumed.history[e].val_loss} vs uninterrupted ${reference.history[e].val_loss}`);
    }
  });

  test('SIGINT (Interrupt Kernel) mid-epoch stops at the next step; no checkpoint marked complete; the run resumes', async () => {
    await interruptMidEpoch('test_sigint', 'sigint');
  });

  test('an AbortSignal cancels the same way', async () => {
    await interruptMidEpoch('test_abort', 'abort');
  });

  test('a diverging run fails with a clear message', async () => {
    const bad = synthetic(32, 5);
    bad.x[0] = NaN;
    // (A dense model: wasm's MaxPool turns NaN into -Infinity, which hides it from the loss.)
    await assert.rejects(trainModel(options({ stage: 'test_nan', model: denseModel(), trainBatches: () => batchesOf(bad, 16) })), /diverged/);
  });
});

describe('data-parallel steps', () => {
  const noDropout = { ...cnnConfig, dropout: 0 };
  const stepSettings = { optimizer: { kind: 'adam' as const, weightDecay: 1e-3 }, labelSmoothing: 0.1 };
  const weightsOf = (vars: tf.Variable[]) => vars.map((v) => Float32Array.from(v.dataSync() as Float32Array));

  test('a worker thread and this thread stay identical, and match the same parts computed on one thread', async () => {
    const runSteps = async (threads: number) => {
      const model = buildCnn(noDropout);
      const trainer = createTrainStep(model, stepSettings);
      const pool = await DataParallelStep.start(model, trainer, stepSettings, 2, { threads });
      assert.equal(pool.threads, threads);
      const losses: number[] = [];
      const tensorsAfterEpoch: number[] = [];
      try {
        for (const epoch of [1, 2, 3]) {
          if (epoch > 1) await pool.sync();
          for (const batch of batchesOf(train, 15, epoch)) { // 15: parts of 8 and 7 (weighted mean)
            losses.push((await pool.step(batch, 0.01)).loss);
            tf.dispose([batch.x as tf.Tensor, batch.y]);
          }
          tensorsAfterEpoch.push(tf.memory().numTensors);
        }
        assert.equal(new Set(tensorsAfterEpoch).size, 1, `no tensors leak from data-parallel steps: ${tensorsAfterEpoch}`);
        return { losses, main: weightsOf(trainer.vars), workers: await pool.workerWeights() };
      } finally {
        await pool.close(); // a live worker thread would keep the test process from exiting
        trainer.optimizer.dispose();
        model.dispose();
      }
    };
    const parallel = await runSteps(1);
    const sequential = await runSteps(0);
    assert.equal(parallel.workers.length, 1);
    for (let i = 0; i < parallel.main.length; i++) {
      assert.ok(maxAbsDiff(parallel.main[i], parallel.workers[0][i]) < 1e-6, `weight ${i}: worker copy drifted`);
      assert.ok(maxAbsDiff(parallel.main[i], sequential.main[i]) < 1e-4, `weight ${i}: threads change the result`);
    }
    assert.ok(parallel.losses[parallel.losses.length - 1] < parallel.losses[0], 'the loss falls');
  });

  test('SIGINT stops a data-parallel run at the next step too, and closes its worker', async () => {
    await interruptMidEpoch('test_sigint_parallel', 'sigint', { replicas: 2 });
  });

  test('trainModel with replicas: 2 trains, and keys the checkpoint on it', async () => {
    const opts = options({ stage: 'test_parallel', replicas: 2, epochs: 3 });
    const result = await trainModel(opts);
    assert.equal(result.history.length, 3);
    assert.ok(result.history[2].loss < result.history[0].loss);
    const single = options({ stage: 'test_parallel', epochs: 3 });
    assert.notEqual(checkpointHash(single.config, single, single.model), result.hash);
  });
});

describe('model_io', () => {
  test('save/load round trip, weights by position into a rebuilt model, file:// router', async () => {
    const model = buildCnn(cnnConfig);
    const dir = path.join(tmp, 'io');
    await saveModel(model, dir);
    const rebuilt = buildCnn({ ...cnnConfig, seed: 99 });
    assert.ok(maxAbsDiff(predictArray(model, val), predictArray(rebuilt, val)) > 1e-4, 'another seed, other weights');
    await loadWeightsInto(rebuilt, dir);
    assert.ok(maxAbsDiff(predictArray(model, val), predictArray(rebuilt, val)) < 1e-6);
    await assert.rejects(loadWeightsInto(buildCnn({ ...cnnConfig, filters: [4, 4] }), dir), /shape|architecture/);

    registerFileRouter();
    registerFileRouter(); // idempotent
    await model.save(`file://${path.join(tmp, 'io2')}`);
    const viaUrl = await tf.loadLayersModel(`file://${path.join(tmp, 'io2', 'model.json')}`);
    assert.ok(maxAbsDiff(predictArray(model, val), predictArray(viaUrl, val)) < 1e-6);
    const artifacts = await fileHandler(dir).load!();
    assert.ok((artifacts.weightSpecs ?? []).length > 0);
    for (const m of [model, rebuilt, viaUrl]) m.dispose();
  });
});

describe('predict', () => {
  test('probabilities per row, flip TTA, product-level means, evaluation bundle', () => {
    const model = buildCnn(cnnConfig);
    const before = tf.memory().numTensors;
    const pred = predictBatches(model, batchesOf(val, 10));
    assert.equal(tf.memory().numTensors, before, 'batch tensors are disposed');
    assert.equal(pred.probs.length, val.n);
    for (const row of pred.probs) assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    assert.deepEqual(pred.labels, Array.from(val.labels));

    // Mirror-symmetric inputs: flip TTA changes nothing.
    const sym = synthetic(8, 9);
    for (let i = 0; i < sym.n; i++) {
      for (let r = 0; r < SIZE; r++) {
        for (let c = 0; c < SIZE / 2; c++) {
          for (let ch = 0; ch < 3; ch++) sym.x[((i * SIZE + r) * SIZE + (SIZE - 1 - c)) * 3 + ch] = sym.x[((i * SIZE + r) * SIZE + c) * 3 + ch];
        }
      }
    }
    const plain = predictBatches(model, batchesOf(sym, 4));
    const flipped = predictBatches(model, batchesOf(sym, 4), { tta: 'hflip' });
    assert.ok(maxAbsDiff(plain.probs.flat(), flipped.probs.flat()) < 1e-5);

    const products = productLevel(pred);
    assert.equal(products.ids.length, val.n / 2);
    const firstTwo = pred.probs.slice(0, 2);
    assert.ok(maxAbsDiff(products.probs[0], firstTwo[0].map((v, k) => (v + firstTwo[1][k]) / 2)) < 1e-12);

    const ev = evaluateModel(model, batchesOf(val, 16), ['a', 'b', 'c']);
    assert.equal(ev.image.n, val.n);
    assert.equal(ev.product.n, val.n / 2);
    assert.equal(ev.image.confusion.flat().reduce((a, b) => a + b, 0), val.n);
    const m = evaluationMetrics(ev.product, 'test_');
    assert.deepEqual(Object.keys(m).sort(), ['test_accuracy', 'test_log_loss', 'test_macro_f1', 'test_top3_accuracy']);
    model.dispose();
  });

  test('confidentMistakes: most confident first, capped per true class', () => {
    const pred = {
      probs: [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7], [0.45, 0.55], [0.1, 0.9]],
      labels: [0, 0, 1, 0, 0, 1],
      ids: ['a', 'b', 'c', 'd', 'e', 'f'],
      productIds: ['a', 'b', 'c', 'd', 'e', 'f'],
    };
    const picked = confidentMistakes(pred, 10, 2);
    assert.deepEqual(picked.map((m) => m.id), ['b', 'd', 'c']);
    assert.equal(picked[0].predicted, 1);
    assert.ok(Math.abs(picked[0].trueProbability - 0.2) < 1e-12);
    assert.equal(confidentMistakes(pred, 1).length, 1);
  });

  test('evaluateProbs on a hand-made case', () => {
    const ev = evaluateProbs([0, 1, 1, 2], [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]], ['a', 'b', 'c']);
    assert.equal(ev.accuracy, 0.75);
    assert.deepEqual(ev.confusion, [[1, 0, 0], [1, 1, 0], [0, 0, 1]]);
    assert.ok(Math.abs(ev.logLoss - -(Math.log(0.8) + Math.log(0.7) + Math.log(0.3) + Math.log(0.8)) / 4) < 1e-9);
    assert.equal(ev.perClass[1].recall, 0.5);
    assert.equal(ev.top3Accuracy, 1);
  });
});

describe('buildCnn', () => {
  test('same seed, same weights; blocks as specified; logits out', () => {
    const a = buildCnn(cnnConfig);
    const b = buildCnn(cnnConfig);
    const wa = a.getWeights().map((w) => Array.from(w.dataSync()));
    const wb = b.getWeights().map((w) => Array.from(w.dataSync()));
    assert.deepEqual(wa, wb);
    assert.deepEqual(a.outputs[0].shape, [null, CLASSES]);
    const kinds = cnnLayerSpec(cnnConfig).map((l) => l.kind);
    assert.deepEqual(kinds, ['conv', 'batchnorm', 'relu', 'maxpool', 'conv', 'batchnorm', 'relu', 'maxpool', 'gap', 'dropout', 'dense', 'relu', 'dropout', 'dense']);
    assert.equal(cnnMacsPerImage(cnnConfig), 64 * 4 * 3 * 9 + 16 * 8 * 4 * 9 + 8 * 8 + 8 * 3);
    const rows = modelSummaryRows(a);
    assert.equal(rows.reduce((s, r) => s + r.params, 0), a.countParams());
    assert.throws(() => buildCnn({ ...cnnConfig, filters: [4, 4, 4, 4] }), /below 1 px/);
    // A stride-2 stem halves the input before the blocks.
    const stemmed = buildCnn({ ...cnnConfig, inputSize: 16, stem: 4 });
    assert.deepEqual(stemmed.getLayer('stem_conv').outputShape, [null, 8, 8, 4]);
    assert.deepEqual(stemmed.getLayer('block2_pool').outputShape, [null, 2, 2, 8]);
    assert.deepEqual(cnnLayerSpec({ ...cnnConfig, stem: 4 }).slice(0, 4).map((l) => l.kind), ['conv', 'batchnorm', 'relu', 'conv']);
    assert.equal(cnnMacsPerImage({ ...cnnConfig, inputSize: 16, stem: 4 }), 64 * 4 * 3 * 9 + 64 * 4 * 4 * 9 + 16 * 8 * 4 * 9 + 8 * 8 + 8 * 3);
    stemmed.dispose();
    a.dispose();
    b.dispose();
  });
});
