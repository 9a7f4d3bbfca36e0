/**
 * Fusion: photos are combined by their mean (over photos and views), rows line up with their
 * products, batches drop a modality at the asked rate (never both), late fusion falls back to
 * text without photos, and the early-fusion network learns what needs both inputs. (Saving and
 * serving a fusion is tested with the predictors: test/predictors.test.ts.)
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initTf, tf } from '../src/tf/runtime';
import {
  alignProbs, buildFusionModel, buildFusionRows, combinePhotos, FUSION_EMBEDDING_LAYER, fusionBatches, FusionConfig,
  fusionOutputs, lateFusionProbs, meanVector, PhotoFeatureSource, trainFusion,
} from '../src/models/fusion';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fusion-test-'));
before(async () => {
  await initTf();
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A feature source over a fixed table of vectors. */
function source(table: Record<string, number[]>): PhotoFeatureSource {
  const dim = Object.values(table)[0].length;
  return {
    dim,
    readInto(id, out, offset = 0) {
      const v = table[id];
      if (!v) throw new Error(`no ${id}`);
      out.set(v, offset);
    },
  };
}

describe('combinePhotos', () => {
  test('mean over photos and views; zeros and false without photos', () => {
    const plain = source({ a: [1, 2], b: [3, 4] });
    const mirrored = source({ a: [5, 6], b: [7, 8] });
    const out = new Float32Array(6).fill(9);
    assert.equal(combinePhotos(['a', 'b'], [plain, mirrored], out, 2), true);
    assert.deepEqual(Array.from(out), [9, 9, 4, 5, 9, 9]);
    assert.equal(combinePhotos(['a'], [plain], out, 0), true);
    assert.deepEqual(Array.from(out.subarray(0, 2)), [1, 2]);
    assert.equal(combinePhotos([], [plain], out, 4), false);
    assert.deepEqual(Array.from(out.subarray(4)), [0, 0]);
  });

  test('meanVector averages what it is given and checks widths', () => {
    assert.deepEqual(Array.from(meanVector([[1, 3], [3, 5]], 2)), [2, 4]);
    assert.deepEqual(Array.from(meanVector([], 2)), [0, 0]);
    assert.throws(() => meanVector([[1]], 2), /expected 2/);
  });
});

describe('buildFusionRows', () => {
  const plain = source({ a: [1, 1], b: [3, 3], c: [10, 0] });
  const mirrored = source({ a: [1, 3], b: [3, 5], c: [0, 10] });
  const texts: Record<string, number[]> = { p1: [1, 0, 0], p2: [0, 1, 0], p3: [0, 0, 1] };
  const products = [
    { productId: 'p1', label: 0, imageIds: ['a', 'b'] },
    { productId: 'p2', label: 1, imageIds: [] },
    { productId: 'p3', label: 2, imageIds: ['c'] },
  ];

  test('one row per product: image mean, photo flag, text, labels; training views kept', () => {
    const rows = buildFusionRows(products, { plain, mirrored }, (id) => texts[id], 3, { trainingViews: true });
    assert.deepEqual(rows.productIds, ['p1', 'p2', 'p3']);
    assert.deepEqual(rows.labels, [0, 1, 2]);
    assert.deepEqual(Array.from(rows.hasImage), [1, 0, 1]);
    assert.deepEqual(Array.from(rows.image), [2, 3, 0, 0, 5, 5]);
    assert.deepEqual(Array.from(rows.imagePlain as Float32Array), [2, 2, 0, 0, 10, 0]);
    assert.deepEqual(Array.from(rows.imageMirrored as Float32Array), [2, 4, 0, 0, 0, 10]);
    assert.deepEqual(Array.from(rows.text), [1, 0, 0, 0, 1, 0, 0, 0, 1]);
  });

  test('a product without text is an error', () => {
    assert.throws(() => buildFusionRows(products, { plain }, (id) => (id === 'p2' ? undefined : texts[id]), 3), /no text embedding for product p2/);
  });
});

describe('fusionBatches', () => {
  const n = 400;
  const rows = {
    productIds: Array.from({ length: n }, (_, i) => `p${i}`), labels: Array.from({ length: n }, (_, i) => i % 3), imageDim: 2, textDim: 1,
    image: new Float32Array(n * 2).fill(1), imagePlain: new Float32Array(n * 2).fill(2), imageMirrored: new Float32Array(n * 2).fill(3),
    hasImage: new Uint8Array(n).fill(1), text: new Float32Array(n).fill(5),
  };

  test('without augmentation: every row once, inputs as stored', () => {
    let seen = 0;
    for (const b of fusionBatches(rows, { batchSize: 64 })) {
      assert.deepEqual(b.x[0].shape[1], 2);
      assert.ok((b.x[0].dataSync() as Float32Array).every((v) => v === 1));
      assert.ok((b.x[1].dataSync() as Float32Array).every((v) => v === 5));
      seen += b.y.shape[0];
      tf.dispose([...b.x, b.y]);
    }
    assert.equal(seen, n);
  });

  test('modality dropout near the asked rates, never both; flip draws both views; reproducible', () => {
    const stats = (seed: number) => {
      let textDropped = 0, imageDropped = 0, both = 0, plainViews = 0, mirroredViews = 0;
      const labels: number[] = [];
      for (const b of fusionBatches(rows, { batchSize: 50, shuffle: true, seed, augment: { flip: true, textDrop: 0.4, imageDrop: 0.2 } })) {
        const img = b.x[0].dataSync() as Float32Array;
        const txt = b.x[1].dataSync() as Float32Array;
        labels.push(...Array.from(b.y.dataSync()));
        for (let k = 0; k < txt.length; k++) {
          const t0 = txt[k] === 0;
          const i0 = img[2 * k] === 0;
          if (t0) textDropped++;
          if (i0) imageDropped++;
          if (t0 && i0) both++;
          if (img[2 * k] === 2) plainViews++;
          if (img[2 * k] === 3) mirroredViews++;
        }
        tf.dispose([...b.x, b.y]);
      }
      return { textDropped, imageDropped, both, plainViews, mirroredViews, labels };
    };
    const s = stats(7);
    assert.equal(s.both, 0);
    assert.ok(s.textDropped > 0.3 * n && s.textDropped < 0.5 * n, `text dropped ${s.textDropped}/${n}`);
    // image is dropped only when text is kept: 0.2 × 0.6 = 12 %
    assert.ok(s.imageDropped > 0.06 * n && s.imageDropped < 0.2 * n, `image dropped ${s.imageDropped}/${n}`);
    assert.ok(s.plainViews > 0.3 * (n - s.imageDropped) && s.mirroredViews > 0.3 * (n - s.imageDropped));
    assert.deepEqual(stats(7), s);
  });

  test('flip without training views is an error', () => {
    const { imagePlain, imageMirrored, ...plainRows } = rows;
    void imagePlain; void imageMirrored;
    assert.throws(() => fusionBatches(plainRows, { batchSize: 8, augment: { flip: true } }).next(), /trainingViews/);
  });
});

describe('late fusion', () => {
  test('alignProbs follows the product order, null where missing', () => {
    const aligned = alignProbs({ productIds: ['b', 'a'], probs: [[0, 1], [1, 0]] }, ['a', 'c', 'b']);
    assert.deepEqual(aligned, [[1, 0], null, [0, 1]]);
  });

  test('weighted average; text alone without an image row', () => {
    const p = lateFusionProbs([[1, 0], null], [[0, 1], [0.3, 0.7]], 0.25);
    assert.deepEqual(p, [[0.25, 0.75], [0.3, 0.7]]);
    assert.throws(() => lateFusionProbs([[1, 0]], [[0, 1]], 1.5), /\[0, 1\]/);
  });
});

describe('early-fusion model', () => {
  const config: FusionConfig = { imageDim: 6, textDim: 4, numClasses: 3, branchWidth: 8, imageInputDropout: 0.1, textInputDropout: 0.1, dropout: 0.1, seed: 3 };

  test('two inputs, a fused embedding twice the branch width, logits per class', () => {
    const model = buildFusionModel(config);
    assert.equal(model.inputs.length, 2);
    assert.deepEqual(model.getLayer(FUSION_EMBEDDING_LAYER).outputShape, [null, 16]);
    assert.deepEqual(model.outputs[0].shape, [null, 3]);
    model.dispose();
  });

  test('learns a problem only the two inputs together solve', async () => {
    // class = (image says A or B) + (text says X or Y) → 3 classes: AX→0, AY/BX→1, BY→2.
    const make = (n: number, seed: number) => {
      let s = seed;
      const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      const image = new Float32Array(n * 6);
      const text = new Float32Array(n * 4);
      const labels: number[] = [];
      for (let i = 0; i < n; i++) {
        const a = rand() < 0.5 ? 0 : 1;
        const b = rand() < 0.5 ? 0 : 1;
        for (let j = 0; j < 6; j++) image[i * 6 + j] = (j < 3 ? 1 - a : a) + 0.2 * rand();
        for (let j = 0; j < 4; j++) text[i * 4 + j] = (j < 2 ? 1 - b : b) + 0.2 * rand();
        labels.push(a + b);
      }
      return { productIds: labels.map((_, i) => `p${seed}_${i}`), labels, imageDim: 6, textDim: 4, image, hasImage: new Uint8Array(n).fill(1), text };
    };
    const train = make(300, 1);
    const val = make(100, 2);
    const { model } = await trainFusion({
      stage: 'fusion_test', fusion: config, train, val, augment: { textDrop: 0.1 }, batchSize: 32, quiet: true, modelsDir: tmp,
      settings: { epochs: 40, optimizer: { kind: 'adam' }, schedule: { kind: 'constant', base: 0.02 } },
    });
    const out = fusionOutputs(model, val.image, val.text);
    const acc = out.probs.filter((p, i) => p.indexOf(Math.max(...p)) === val.labels[i]).length / val.labels.length;
    assert.ok(acc > 0.9, `val accuracy ${acc}`);
    assert.equal(out.width, 16);

    model.dispose();
  });
});
