/**
 * Notebook 02's runs: the ablation changes one lever per run; a distilling run trains on packed
 * teacher targets and is keyed on its teacher; products combine by mean probability or mean
 * log-probability; their photo predictions are cached by the weights.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initTf, tf } from '../src/tf/runtime';
import { ImagePixelSource, MarketplaceData } from '../src/data/loader';
import type { Listing, SplitFile } from '../src/data/types';
import { ablationRuns, evaluateCnn, recipeRun, trainCnnRun } from '../src/models/cnn_runs';
import { buildCnn } from '../src/models/cnn';
import { withTeacherTargets } from '../src/train/distillation';
import { productLevel } from '../src/eval/product_eval';

// Cached results (src/artifacts/result_cache.ts) go to a temporary folder, not data/clean/results.
process.env.RESULT_CACHE_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'result-cache-'));
after(() => fs.rmSync(process.env.RESULT_CACHE_DIR as string, { recursive: true, force: true }));

const SIZE = 64;
class MemorySource implements ImagePixelSource {
  readonly size = SIZE;
  constructor(private readonly images: Map<string, Uint8Array>) {}
  has(id: string): boolean { return this.images.has(id); }
  readInto(id: string, target: Uint8Array, offset: number): void { target.set(this.images.get(id) as Uint8Array, offset); }
}

let tmp: string;
let data: MarketplaceData;
before(async () => {
  await initTf({ backend: 'wasm' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cnn-runs-'));
  // 3 categories × 6 products × 2 photos; a photo's brightest channel is its category.
  const categories = ['Appliances', 'Baby & Kids Stuff', 'Video Games & Consoles'];
  const listings: Listing[] = [];
  const images = new Map<string, Uint8Array>();
  const split: SplitFile = { seed: 1, ratios: { train: 0.6, val: 0.2, test: 0.2 }, products: { train: [], val: [], test: [] } };
  categories.forEach((mainCategory, c) => {
    for (let p = 0; p < 6; p++) {
      const id = `p${c}-${p}`;
      const imageIds = [`${id}-a`, `${id}-b`];
      imageIds.forEach((imageId, k) => images.set(imageId, Uint8Array.from({ length: SIZE * SIZE * 3 }, (_, i) => (i % 3 === c ? 200 : 40) + ((i * 7 + p * 13 + k) % 50))));
      listings.push({ id, title: id, description: id, category: `${mainCategory} / Sub`, mainCategory, subCategory: 'Sub', price: 1, town: 'T', county: 'C', flags: [], family: id, imageIds });
      split.products[p < 4 ? 'train' : p < 5 ? 'val' : 'test'].push(id);
    }
  });
  data = new MarketplaceData({ listings, split, images: [new MemorySource(images)], maxProductsPerCategory: null });
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const teacherFor = (d: MarketplaceData, sharp: number) => {
  const ex = d.imageExamples('train');
  const probs = new Float32Array(ex.length * d.numClasses).fill((1 - sharp) / (d.numClasses - 1));
  ex.forEach((e, i) => (probs[i * d.numClasses + e.label] = sharp));
  return { ids: ex.map((e) => e.imageId), probs, classes: d.numClasses };
};

describe('CNN runs of notebook 02', () => {
  test('each ablation run changes exactly one lever of the recipe', () => {
    const [recipe, ...variants] = ablationRuns(3);
    const levers = (r: typeof recipe) => ({ architecture: JSON.stringify(r.architecture), augment: JSON.stringify(r.augment), distillation: JSON.stringify(r.distillation) });
    for (const v of variants) {
      const a = levers(recipe);
      const b = levers(v);
      const changed = (Object.keys(a) as Array<keyof typeof a>).filter((k) => a[k] !== b[k]);
      assert.equal(changed.length, 1, `${v.key} changes ${changed.join(', ')}`);
      assert.equal(v.epochs, recipe.epochs);
    }
    assert.ok(recipe.distillation && recipe.augment, 'the recipe distils and augments');
  });

  test('a distilling run trains on packed targets, is keyed on its teacher, and needs one', async () => {
    const run = { ...recipeRun(1), key: 'tiny' };
    const common = { data, run, size: SIZE, batchSize: 4, modelsDir: tmp, quiet: true };
    await assert.rejects(trainCnnRun(common), /distils but no teacher labels/);
    const a = await trainCnnRun({ ...common, teacher: teacherFor(data, 0.8) });
    assert.equal(a.result.history.length, 1);
    assert.ok(Number.isFinite(a.result.history[0].loss));
    assert.deepEqual(a.settings.distillation, run.distillation);
    const b = await trainCnnRun({ ...common, teacher: teacherFor(data, 0.6) });
    assert.notEqual(a.result.hash, b.result.hash, 'another teacher, another checkpoint');
    const ev = evaluateCnn(a.model, data, 'val', SIZE, 'mean_log_probability');
    assert.equal(ev.product.n, data.products.val.length);
    // Photo predictions are cached by the weights: a second call re-reads them; another model gets its own.
    const cached = () => fs.readdirSync(process.env.RESULT_CACHE_DIR as string).filter((f) => f.startsWith('cnn_photo_predictions_')).length;
    const files = cached();
    assert.deepEqual(evaluateCnn(a.model, data, 'val', SIZE, 'mean_log_probability'), ev);
    assert.equal(cached(), files);
    // The same weights in a model built later (its layers numbered differently) are the same key.
    const copy = buildCnn(a.config);
    copy.setWeights(a.model.getWeights());
    assert.notDeepEqual(copy.weights.map((w) => w.name), a.model.weights.map((w) => w.name));
    assert.deepEqual(evaluateCnn(copy, data, 'val', SIZE, 'mean_log_probability'), ev);
    assert.equal(cached(), files);
    copy.dispose();
    const other = evaluateCnn(b.model, data, 'val', SIZE, 'mean_log_probability');
    assert.equal(cached(), files + 1);
    assert.notDeepEqual(other.images.probs, ev.images.probs);
    a.model.dispose();
    b.model.dispose();
  });

  test('withTeacherTargets packs [one-hot | teacher] rows and names a photo without a teacher row', () => {
    const teacher = teacherFor(data, 0.9);
    const batches = [...withTeacherTargets(data.imageBatches('train', { size: SIZE, batchSize: 5 }), teacher)];
    const first = batches[0];
    const y = first.y.arraySync() as number[][];
    assert.deepEqual(first.y.shape, [5, 6]);
    y.forEach((row, i) => {
      assert.equal(row[first.labels[i]], 1);
      assert.ok(Math.abs(row[3 + first.labels[i]] - 0.9) < 1e-6);
    });
    for (const b of batches) tf.dispose([b.x, b.y]);
    const partial = { ...teacher, ids: teacher.ids.slice(1), probs: teacher.probs.slice(3) };
    assert.throws(() => { for (const b of withTeacherTargets(data.imageBatches('train', { size: SIZE, batchSize: 64 }), partial)) tf.dispose([b.x, b.y]); },
      new RegExp(`no teacher soft label for photo ${teacher.ids[0]}`));
  });

  test('products by mean probability or by mean log-probability (renormalised geometric mean)', () => {
    // Photo b all but rules class 1 out: the geometric mean weighs that more than the arithmetic mean does.
    const pred = { probs: [[0.2, 0.8], [0.99, 0.01]], labels: [0, 0], ids: ['a', 'b'], productIds: ['p', 'p'] };
    const mean = productLevel(pred).probs[0];
    const geo = productLevel(pred, 'mean_log_probability').probs[0];
    assert.ok(Math.abs(mean[0] - 0.595) < 1e-9);
    const g0 = Math.sqrt(0.2 * 0.99);
    const g1 = Math.sqrt(0.8 * 0.01);
    assert.ok(Math.abs(geo[0] - g0 / (g0 + g1)) < 1e-9);
    assert.ok(Math.abs(geo[0] + geo[1] - 1) < 1e-12);
  });
});
