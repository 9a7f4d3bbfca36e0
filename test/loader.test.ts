/**
 * The batch loader on a small synthetic set: shapes, labels, seeded shuffle and
 * augmentation, normalisations, the smoke subset, and no tensors left behind.
 */
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ImagePixelSource, MarketplaceData, ImageBatch } from '../src/data/loader';
import type { Listing, SplitFile } from '../src/data/types';

const SIZE = 8;
const BYTES = SIZE * SIZE * 3;

/** Image k: pixel (y, x, c) = (k * 16 + x * 8 + y + c) % 256, so flips and shifts are visible. */
function imagePixels(k: number): Uint8Array {
  const px = new Uint8Array(BYTES);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      for (let c = 0; c < 3; c++) px[(y * SIZE + x) * 3 + c] = (k * 16 + x * 8 + y + c + 1) % 256;
    }
  }
  return px;
}

class MemorySource implements ImagePixelSource {
  readonly size = SIZE;
  reads = 0;
  constructor(private readonly images: Map<string, Uint8Array>) {}
  has(id: string): boolean {
    return this.images.has(id);
  }
  readInto(id: string, target: Uint8Array, offset: number): void {
    const px = this.images.get(id);
    if (!px) throw new Error(`no image ${id}`);
    this.reads += 1;
    target.set(px, offset);
  }
}

function listing(id: string, mainCategory: string, imageIds: string[]): Listing {
  return {
    id, title: `title ${id}`, description: `description ${id}`, category: `${mainCategory} / Sub`, mainCategory,
    subCategory: 'Sub', price: 10, town: 'Town', county: 'County', flags: [], family: id, imageIds,
  };
}

const categories = ['Video Games & Consoles', 'Appliances', 'Baby & Kids Stuff'];
const listings: Listing[] = [];
const images = new Map<string, Uint8Array>();
const split: SplitFile = { seed: 1, ratios: { train: 0.6, val: 0.2, test: 0.2 }, products: { train: [], val: [], test: [] } };
let imageCount = 0;

before(async () => {
  await tf.setBackend('cpu');
  // 10 products per category; product p has p % 3 photos (so some have none).
  categories.forEach((category, c) => {
    for (let p = 0; p < 10; p++) {
      const id = `p${c}-${p}`;
      const imageIds = Array.from({ length: p % 3 }, (_, i) => `${id}-img${i}`);
      for (const imageId of imageIds) images.set(imageId, imagePixels(imageCount++));
      listings.push(listing(id, category, imageIds));
      split.products[p < 6 ? 'train' : p < 8 ? 'val' : 'test'].push(id);
    }
  });
});

function fullData(source = new MemorySource(images)): MarketplaceData {
  return new MarketplaceData({ listings, split, images: [source], maxProductsPerCategory: null });
}

function collect(data: MarketplaceData, options: Parameters<MarketplaceData['imageBatches']>[1], split: 'train' | 'val' | 'test' = 'train') {
  const out: Array<{ x: Float32Array; shape: number[]; y: number[]; ids: string[] }> = [];
  for (const batch of data.imageBatches(split, options)) {
    out.push({ x: batch.x.dataSync() as Float32Array, shape: batch.x.shape, y: Array.from(batch.y.dataSync()), ids: batch.imageIds });
    tf.dispose([batch.x, batch.y]);
  }
  return out;
}

test('labels index the sorted main categories', () => {
  const data = fullData();
  assert.deepEqual(data.categories, ['Appliances', 'Baby & Kids Stuff', 'Video Games & Consoles']);
  assert.equal(data.numClasses, 3);
  const rows = data.productRows('train');
  assert.equal(rows.length, 18);
  for (const row of rows) assert.equal(data.categories[row.label], row.mainCategory);
  assert.equal(rows[0].title, 'title p0-0');
});

test('image examples: one per photo, products without photos give none', () => {
  const data = fullData();
  const train = data.imageExamples('train');
  // p = 0..5 per category have 0,1,2,0,1,2 photos → 6 per category.
  assert.equal(train.length, 18);
  assert.ok(train.every((e) => e.imageId.startsWith(e.productId + '-')));
  const productsOf = (s: 'train' | 'val' | 'test') => new Set(data.imageExamples(s).map((e) => e.productId));
  for (const id of productsOf('test')) assert.ok(!productsOf('train').has(id), 'no test product in train');
});

test('batch shapes, last partial batch, dropLast', () => {
  const data = fullData();
  const batches = collect(data, { size: SIZE, batchSize: 5 });
  assert.deepEqual(batches.map((b) => b.shape[0]), [5, 5, 5, 3]);
  assert.deepEqual(batches[0].shape, [5, SIZE, SIZE, 3]);
  assert.equal(data.imageBatchCount('train', 5), 4);
  assert.deepEqual(collect(data, { size: SIZE, batchSize: 5, dropLast: true }).map((b) => b.shape[0]), [5, 5, 5]);
  assert.equal(data.imageBatchCount('train', 5, true), 3);
});

test('labels and pixels match the examples', () => {
  const data = fullData();
  const examples = new Map(data.imageExamples('train').map((e) => [e.imageId, e]));
  for (const batch of collect(data, { size: SIZE, batchSize: 4, shuffle: true, seed: 3 })) {
    batch.ids.forEach((id, k) => {
      assert.equal(batch.y[k], (examples.get(id) as { label: number }).label);
      const expected = Array.from(images.get(id) as Uint8Array, (v) => v / 255);
      const got = Array.from(batch.x.subarray(k * BYTES, (k + 1) * BYTES));
      got.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6));
    });
  }
});

test('shuffle: every example once, same order for a seed, another for another seed', () => {
  const data = fullData();
  const order = (seed: number) => collect(data, { size: SIZE, batchSize: 7, shuffle: true, seed }).flatMap((b) => b.ids);
  const plain = collect(data, { size: SIZE, batchSize: 7 }).flatMap((b) => b.ids);
  assert.deepEqual(plain, data.imageExamples('train').map((e) => e.imageId));
  assert.deepEqual([...order(1)].sort(), [...plain].sort());
  assert.deepEqual(order(1), order(1));
  assert.notDeepEqual(order(1), order(2));
});

test('augmentation: deterministic per seed; each image is a flipped and/or shifted copy', () => {
  const data = fullData();
  const options = { size: SIZE, batchSize: 18, seed: 9, normalize: 'raw' as const, augment: { flip: true, crop: 2 } };
  const a = collect(data, options)[0];
  const b = collect(data, options)[0];
  assert.deepEqual(Array.from(a.x), Array.from(b.x));
  const c = collect(data, { ...options, seed: 10 })[0];
  assert.notDeepEqual(Array.from(a.x), Array.from(c.x));

  let flipped = 0;
  let shifted = 0;
  a.ids.forEach((id, k) => {
    const src = images.get(id) as Uint8Array;
    const out = a.x.subarray(k * BYTES, (k + 1) * BYTES);
    const match = findTransform(src, out);
    assert.ok(match, `image ${id} is not a flip/shift of its source`);
    if (match.mirrored) flipped += 1;
    if (match.dx !== 0 || match.dy !== 0) shifted += 1;
  });
  assert.ok(flipped > 0 && flipped < 18, `some but not all flipped (${flipped})`);
  assert.ok(shifted > 0, 'some shifted');
});

/** Finds the flip and shift (|d| ≤ 2, black outside) that turns src into out. */
function findTransform(src: Uint8Array, out: Float32Array): { mirrored: boolean; dx: number; dy: number } | null {
  for (const mirrored of [false, true]) {
    for (let dy = -2; dy <= 2; dy++) {
      for (let dx = -2; dx <= 2; dx++) {
        let same = true;
        for (let y = 0; y < SIZE && same; y++) {
          for (let x = 0; x < SIZE && same; x++) {
            const sx = (mirrored ? SIZE - 1 - x : x) + dx;
            const sy = y + dy;
            for (let ch = 0; ch < 3; ch++) {
              const want = sx >= 0 && sx < SIZE && sy >= 0 && sy < SIZE ? src[(sy * SIZE + sx) * 3 + ch] : 0;
              if (out[(y * SIZE + x) * 3 + ch] !== want) same = false;
            }
          }
        }
        if (same) return { mirrored, dx, dy };
      }
    }
  }
  return null;
}

test('normalisations: unit, caffe (BGR minus means), mean/std; one-hot labels', () => {
  const data = fullData();
  const first = (normalize: Parameters<MarketplaceData['imageBatches']>[1]['normalize']) =>
    collect(data, { size: SIZE, batchSize: 1, normalize })[0];
  const id = data.imageExamples('train')[0].imageId;
  const src = images.get(id) as Uint8Array;
  const unit = first('unit');
  assert.ok(Math.abs(unit.x[0] - src[0] / 255) < 1e-6);
  const caffe = first('caffe');
  assert.ok(Math.abs(caffe.x[0] - (src[2] - 103.939)) < 1e-4, 'channel 0 is blue minus its mean');
  assert.ok(Math.abs(caffe.x[2] - (src[0] - 123.68)) < 1e-4, 'channel 2 is red minus its mean');
  const std = first({ mean: [0.5, 0.5, 0.5], std: [0.25, 0.5, 1] });
  assert.ok(Math.abs(std.x[1] - (src[1] / 255 - 0.5) / 0.5) < 1e-5);

  for (const batch of data.imageBatches('train', { size: SIZE, batchSize: 4, labels: 'onehot' })) {
    assert.deepEqual(batch.y.shape, [batch.labels.length, 3]);
    const hot = batch.y.arraySync() as number[][];
    hot.forEach((row, k) => assert.deepEqual(row, [0, 1, 2].map((c) => (c === batch.labels[k] ? 1 : 0))));
    assert.equal(batch.y.dtype, 'float32');
    tf.dispose([batch.x, batch.y]);
  }
});

test('no tensor leak over an epoch, including an early break', () => {
  const data = fullData();
  const before = tf.memory().numTensors;
  for (let epoch = 0; epoch < 2; epoch++) {
    for (const batch of data.imageBatches('train', { size: SIZE, batchSize: 4, shuffle: true, seed: epoch, augment: { flip: true, crop: true } })) {
      tf.dispose([batch.x, batch.y]);
    }
  }
  for (const batch of data.imageBatches('train', { size: SIZE, batchSize: 4 })) {
    tf.dispose([batch.x, batch.y]);
    break;
  }
  assert.equal(tf.memory().numTensors, before);
});

test('pixels stay in memory per split unless asked not to; both paths give the same batches', () => {
  const source = new MemorySource(images);
  const data = fullData(source);
  const options = { size: SIZE, batchSize: 5, shuffle: true, seed: 4, augment: { flip: true, crop: 1 } };
  const cached = collect(data, options);
  collect(data, options);
  assert.equal(source.reads, 18, 'read once, then served from memory');
  assert.equal(data.pixels('train', SIZE).length, 18 * BYTES);
  const streamed = collect(data, { ...options, cacheInMemory: false });
  assert.equal(source.reads, 36);
  assert.deepEqual(streamed.map((b) => Array.from(b.x)), cached.map((b) => Array.from(b.x)));
  data.releasePixels();
  collect(data, options);
  assert.equal(source.reads, 54, 'read again after release');
});

test('smoke subset: at most N products per category and split, seeded', () => {
  const data = new MarketplaceData({ listings, split, images: [new MemorySource(images)], maxProductsPerCategory: 2, seed: 5 });
  for (const s of ['train', 'val', 'test'] as const) {
    const counts = new Map<string, number>();
    for (const row of data.productRows(s)) counts.set(row.mainCategory, (counts.get(row.mainCategory) ?? 0) + 1);
    assert.deepEqual([...counts.values()], [2, 2, 2], s);
  }
  const again = new MarketplaceData({ listings, split, maxProductsPerCategory: 2, seed: 5 });
  assert.deepEqual(again.products, data.products);
  assert.deepEqual(data.categories, fullData().categories, 'labels do not depend on the subset');
});

test('clear errors: unknown split product, missing cache size, image not cached', () => {
  const badSplit: SplitFile = { ...split, products: { ...split.products, test: [...split.products.test, 'ghost'] } };
  assert.throws(() => new MarketplaceData({ listings, split: badSplit, maxProductsPerCategory: null }), /product ghost/);
  const data = fullData();
  assert.throws(() => data.imageBatches('train', { size: 64, batchSize: 4 }).next(), /no 64 px image cache/);
  const partial = new Map(images);
  partial.delete('p0-1-img0');
  const holey = fullData(new MemorySource(partial));
  assert.throws(() => holey.pixels('train', SIZE), /p0-1-img0 .* not in the 8 px image cache/);
  let batches: ImageBatch[] = [];
  assert.throws(() => { batches = [...fullData().imageBatches('train', { size: SIZE, batchSize: 0 })]; }, /batchSize/);
  assert.equal(batches.length, 0);
});
