/**
 * The feature cache: keyed by what produced the vectors, resumable after an interruption
 * (including a torn write), only missing ids computed, float16 storage, embeddings round trip.
 */
import { after, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  decodeHalf,
  encodeHalf,
  extractFeatures,
  featureKey,
  FeatureEngine,
  FeatureSpec,
  FeatureStore,
  fromHalf,
  readImageEmbeddings,
  int8FeatureSpec,
  resnetFeatureSpec,
  toHalf,
  writeImageEmbeddings,
} from '../src/backbone/features';
import { ImagePixelSource } from '../src/data/loader';

const tmpDirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'features-cache-'));
  tmpDirs.push(d);
  return d;
}
after(() => tmpDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const SIZE = 8;
function spec(over: Partial<FeatureSpec> = {}): FeatureSpec {
  return { ...resnetFeatureSpec('w123', { size: SIZE }), dim: 3, ...over };
}

/** Pixels: image "img<k>" is filled with k. */
function pixelSource(): ImagePixelSource {
  return {
    size: SIZE,
    has: (id) => id.startsWith('img'),
    readInto: (id, target, offset) => target.fill(Number(id.slice(3)), offset, offset + SIZE * SIZE * 3),
  };
}

/** Feature = [mean of channel 0, first pixel's channel 2, call count]; counts the images it saw. */
function fakeEngine(seen: number[]): FeatureEngine {
  let calls = 0;
  return {
    describe: () => 'fake',
    concurrency: 2,
    features: async (x, n) => {
      calls++;
      seen.push(n);
      const per = SIZE * SIZE * 3;
      const out = new Float32Array(n * 3);
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let p = 0; p < SIZE * SIZE; p++) s += x[i * per + p * 3];
        out[i * 3] = s / (SIZE * SIZE);
        out[i * 3 + 1] = x[i * per + 2];
        out[i * 3 + 2] = calls;
      }
      await new Promise((r) => setTimeout(r, 1));
      return out;
    },
  };
}

const ids = Array.from({ length: 23 }, (_, k) => `img${k}`);

describe('feature keys', () => {
  test('differ by backbone, weights, size, preprocessing, pixels, flip, dtype; not by key order', () => {
    const base = spec();
    const keys = new Set([
      featureKey(base),
      featureKey({ ...base, backbone: 'other' }),
      featureKey({ ...base, weights: 'w999' }),
      featureKey({ ...base, size: 16 }),
      featureKey({ ...base, preprocessing: 'unit' }),
      featureKey({ ...base, pixels: { ...(base.pixels as object), kernel: 'cubic' } }),
      featureKey({ ...base, flip: true }),
      featureKey({ ...base, dtype: 'float16' }),
    ]);
    assert.equal(keys.size, 8);
    const reordered = Object.fromEntries(Object.entries(base).reverse()) as unknown as FeatureSpec;
    assert.equal(featureKey(reordered), featureKey(base));
  });
});

describe('int8 feature specs', () => {
  const quantization = { scheme: 'qdq_int7_weights_per_channel_uint8_activations_per_tensor' as const, method: 'minmax',
    calibration: { split: 'train' as const, photos: 96, ids_sha256: 'abc' }, fp32_model: 'k1' };

  test('the fp32 ResNet-50 spec and key are unchanged (a cached fp32 extraction depends on them)', () => {
    const fp32 = resnetFeatureSpec('618cc24c40311bb0', { flip: false });
    assert.equal('quantization' in fp32, false);
    // Keys of the real weights' features as committed before int8 existed: changing them orphans every fp32 cache.
    assert.equal(featureKey(fp32), '473ff179a106');
    assert.equal(featureKey(resnetFeatureSpec('618cc24c40311bb0', { flip: true })), '2d717f4e16ff');
  });

  test('int8 features get their own key, per method and calibration set, and their own files', () => {
    const fp32 = spec();
    const a = int8FeatureSpec(fp32, quantization);
    const b = int8FeatureSpec(fp32, { ...quantization, method: 'percentile_99.999' });
    const c = int8FeatureSpec(fp32, { ...quantization, calibration: { ...quantization.calibration, ids_sha256: 'abd' } });
    assert.equal(new Set([fp32, a, b, c].map(featureKey)).size, 4);
    assert.deepEqual({ ...a, quantization: undefined }, { ...fp32, quantization: undefined }, 'the rest of the spec is the fp32 one');
    const dir = tmpDir();
    assert.match(path.basename(new FeatureStore(a, dir).dataFile), /_int8_[0-9a-f]{12}\.bin$/);
    assert.doesNotMatch(path.basename(new FeatureStore(fp32, dir).dataFile), /int8/);
  });
});

describe('extractFeatures + FeatureStore', () => {
  test('computes caffe-preprocessed features, in id order, and reuses them', async () => {
    const dir = tmpDir();
    const seen: number[] = [];
    const store = new FeatureStore(spec(), dir);
    const r1 = await extractFeatures({ ids, pixels: pixelSource(), store, engine: fakeEngine(seen), batchSize: 5 });
    assert.equal(r1.computed, 23);
    assert.equal(r1.reused, 0);
    assert.deepEqual(seen, [5, 5, 5, 5, 3]);
    // caffe: channel 0 is B = pixel - 103.939
    assert.ok(Math.abs(store.get('img7')[0] - (7 - 103.939)) < 1e-4);
    assert.ok(Math.abs(store.get('img7')[1] - (7 - 123.68)) < 1e-4);
    // A new store object on the same files: everything reused, nothing computed.
    const seen2: number[] = [];
    const again = new FeatureStore(spec(), dir);
    const r2 = await extractFeatures({ ids, pixels: pixelSource(), store: again, engine: fakeEngine(seen2) });
    assert.equal(r2.computed, 0);
    assert.equal(r2.reused, 23);
    assert.deepEqual(seen2, []);
    assert.deepEqual(Array.from(again.matrix(['img3', 'img0'])), [...store.get('img3'), ...store.get('img0')]);
  });

  test('an interrupted extraction resumes where it stopped (also after a torn write)', async () => {
    const dir = tmpDir();
    const s = spec();
    const first = new FeatureStore(s, dir);
    const r1 = await extractFeatures({ ids, pixels: pixelSource(), store: first, engine: fakeEngine([]), batchSize: 4, limit: 10 });
    assert.equal(r1.computed, 10);
    first.close();
    // Simulate a crash mid-append: half a record and a partial id line at the ends.
    fs.appendFileSync(first.dataFile, Buffer.alloc(7));
    fs.appendFileSync(first.idsFile, 'img1');
    const resumed = new FeatureStore(s, dir);
    assert.equal(resumed.count, 10, 'the torn tail is not indexed');
    const seen: number[] = [];
    const r2 = await extractFeatures({ ids, pixels: pixelSource(), store: resumed, engine: fakeEngine(seen), batchSize: 4 });
    assert.equal(r2.computed, 13);
    assert.equal(r2.reused, 10);
    assert.equal(seen.reduce((a, b) => a + b, 0), 13);
    const reopened = new FeatureStore(s, dir);
    assert.equal(reopened.count, 23);
    assert.equal(fs.statSync(reopened.dataFile).size, 23 * 3 * 4, 'the torn tail was cut before appending');
    assert.equal(fs.readFileSync(reopened.idsFile, 'utf8').split('\n').length, 24);
    for (const id of ids) assert.ok(Math.abs(reopened.get(id)[0] - (Number(id.slice(3)) - 103.939)) < 1e-4, id);
  });

  test('a record written without its id (crash between the two appends) is dropped', () => {
    const dir = tmpDir();
    const store = new FeatureStore(spec(), dir);
    store.append(['a', 'b'], Float32Array.from([1, 2, 3, 4, 5, 6]));
    fs.appendFileSync(store.dataFile, new Uint8Array(Float32Array.from([7, 8, 9]).buffer));
    const reopened = new FeatureStore(spec(), dir);
    assert.equal(reopened.count, 2);
    assert.deepEqual(Array.from(reopened.get('b')), [4, 5, 6]);
    assert.equal(reopened.missing(['a', 'c', 'c', 'b']).join(), 'c');
  });

  test('a live lock holder blocks a second extraction; a stale lock is taken over', async () => {
    const dir = tmpDir();
    const store = new FeatureStore(spec(), dir);
    const lockFile = store.dataFile.replace(/\.bin$/, '.lock');
    fs.writeFileSync(lockFile, String(process.ppid)); // a live process that is not us
    await assert.rejects(extractFeatures({ ids, pixels: pixelSource(), store, engine: fakeEngine([]) }), /is being extracted by process/);
    fs.writeFileSync(lockFile, '999999999'); // no such process
    const r = await extractFeatures({ ids, pixels: pixelSource(), store, engine: fakeEngine([]) });
    assert.equal(r.computed, 23);
    assert.ok(!fs.existsSync(lockFile), 'released after the run');
  });

  test('a store opened before another writer appended sees the new vectors once it locks', async () => {
    const dir = tmpDir();
    const early = new FeatureStore(spec(), dir);
    const other = new FeatureStore(spec(), dir);
    await extractFeatures({ ids: ids.slice(0, 5), pixels: pixelSource(), store: other, engine: fakeEngine([]) });
    const seen: number[] = [];
    const r = await extractFeatures({ ids, pixels: pixelSource(), store: early, engine: fakeEngine(seen) });
    assert.equal(r.computed, 18);
    assert.equal(new FeatureStore(spec(), dir).count, 23);
  });

  test('flip and non-flip live in different files; flip mirrors the pixels', async () => {
    const dir = tmpDir();
    const plain = new FeatureStore(spec(), dir);
    const flipped = new FeatureStore(spec({ flip: true }), dir);
    assert.notEqual(plain.dataFile, flipped.dataFile);
    // An image whose left column differs: pixel (0,0) comes from (0, SIZE-1) when flipped.
    const px: ImagePixelSource = {
      size: SIZE,
      has: () => true,
      readInto: (_id, target, offset) => {
        for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) for (let c = 0; c < 3; c++) target[offset + (y * SIZE + x) * 3 + c] = x === SIZE - 1 ? 200 : 0;
      },
    };
    await extractFeatures({ ids: ['img1'], pixels: px, store: plain, engine: fakeEngine([]) });
    await extractFeatures({ ids: ['img1'], pixels: px, store: flipped, engine: fakeEngine([]) });
    assert.ok(Math.abs(plain.get('img1')[1] - (0 - 123.68)) < 1e-4);
    assert.ok(Math.abs(flipped.get('img1')[1] - (200 - 123.68)) < 1e-4);
  });

  test('refuses a pixel source of another size', async () => {
    const store = new FeatureStore(spec({ size: 16 }), tmpDir());
    await assert.rejects(extractFeatures({ ids, pixels: pixelSource(), store, engine: fakeEngine([]) }), /8 px, the feature spec wants 16 px/);
  });

  test('float16 storage halves the bytes and keeps ~3 significant digits', () => {
    const store = new FeatureStore(spec({ dtype: 'float16' }), tmpDir());
    store.append(['a'], Float32Array.from([1.2345, -7.5, 0.0001]));
    assert.equal(fs.statSync(store.dataFile).size, 6);
    const v = store.get('a');
    assert.ok(Math.abs(v[0] - 1.2345) < 1e-3 && v[1] === -7.5 && Math.abs(v[2] - 0.0001) < 1e-6);
  });
});

describe('float16', () => {
  test('round trips exactly representable values, rounds to nearest even, saturates', () => {
    for (const v of [0, 1, -2, 0.5, 65504, 2 ** -24, -(2 ** -14), 1024.5]) assert.equal(fromHalf(toHalf(v)), v === 1024.5 ? 1024 : v);
    assert.equal(fromHalf(toHalf(1e6)), Infinity);
    assert.equal(fromHalf(toHalf(1 + 2 ** -11)), 1); // tie → even
    assert.equal(fromHalf(toHalf(1 + 3 * 2 ** -11)), 1 + 2 ** -9);
    const values = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 20);
    const back = decodeHalf(encodeHalf(values));
    for (let i = 0; i < values.length; i++) assert.ok(Math.abs(back[i] - values[i]) <= Math.abs(values[i]) * 2 ** -11 + 1e-7);
  });
});

describe('image embeddings', () => {
  test('write + read round trip', () => {
    const dir = tmpDir();
    const vectors = Float32Array.from({ length: 6 }, (_, i) => i / 3);
    writeImageEmbeddings('emb_test', { ids: ['x', 'y'], productIds: ['p', 'q'], dim: 3, vectors, meta: { model: 'test' } }, dir);
    const back = readImageEmbeddings('emb_test', dir);
    assert.deepEqual(back.ids, ['x', 'y']);
    assert.deepEqual(back.productIds, ['p', 'q']);
    assert.equal(back.dim, 3);
    assert.deepEqual(Array.from(back.vectors), Array.from(vectors));
    assert.deepEqual(back.meta, { model: 'test' });
    assert.throws(() => readImageEmbeddings('missing', dir), /no embeddings 'missing'/);
  });
});
