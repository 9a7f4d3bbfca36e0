/**
 * Image cleaning on synthetic files made at test time (no binaries in the repo): each kind
 * of bad or unusual file gets the right status, conversions give S×S×3 with black padding
 * where expected, and the per-size cache resumes and invalidates as it should.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import type { Sharp } from 'sharp';
import { inspectImages, toRgbSquare, usableImageIds, usableImagesByProduct, ImageInspection, ImageCheck } from '../src/data/images';
import { ensureImageCache, ImageCache } from '../src/data/image_cache';
import type { ImageRow } from '../src/data/types';

let dir: string;
let imagesDir: string;
let inspection: ImageInspection;

const KEPT = 'product-kept';
const DROPPED = 'product-dropped';

/** Noise, so a JPEG of it has a long entropy-coded body that truncation cuts into. */
function noise(width: number, height: number, channels: 3 | 4 = 3): Buffer {
  const px = Buffer.alloc(width * height * channels);
  let state = 12345;
  for (let i = 0; i < px.length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    px[i] = state >>> 24;
  }
  return px;
}

function solid(width: number, height: number, rgb: [number, number, number]): Sharp {
  return sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
}

async function writeFixtures(): Promise<ImageRow[]> {
  const write = (name: string, data: Buffer | string) => fs.writeFileSync(path.join(imagesDir, name + '.jpg'), data);
  write('good', await sharp(noise(256, 256), { raw: { width: 256, height: 256, channels: 3 } }).jpeg({ quality: 85 }).toBuffer());
  const full = await sharp(noise(256, 256), { raw: { width: 256, height: 256, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
  write('truncated', full.subarray(0, Math.floor(full.length * 0.6)));
  write('cmyk', await solid(64, 64, [200, 100, 50]).toColourspace('cmyk').jpeg().toBuffer());
  write('gray', await solid(50, 40, [200, 100, 50]).toColourspace('b-w').jpeg().toBuffer());
  // PNG with an opaque red left half and a fully transparent (but white underneath) right half.
  const rgba = Buffer.alloc(40 * 40 * 4);
  for (let y = 0; y < 40; y++) {
    for (let x = 0; x < 40; x++) {
      const o = (y * 40 + x) * 4;
      if (x < 20) rgba.set([255, 0, 0, 255], o);
      else rgba.set([255, 255, 255, 0], o);
    }
  }
  write('alpha', await sharp(rgba, { raw: { width: 40, height: 40, channels: 4 } }).png().toBuffer());
  write('tiny', await solid(1, 1, [10, 20, 30]).jpeg().toBuffer());
  write('huge', await solid(6000, 4000, [0, 128, 255]).jpeg().toBuffer());
  write('wide', await solid(300, 100, [255, 255, 255]).jpeg({ quality: 100 }).toBuffer());
  write('empty', Buffer.alloc(0));
  write('text', 'this is not an image\n');
  write('orphan', await solid(32, 32, [1, 2, 3]).jpeg().toBuffer());
  write('dropped', await solid(32, 32, [1, 2, 3]).jpeg().toBuffer());
  fs.writeFileSync(path.join(imagesDir, 'notes.txt'), 'not a .jpg: ignored');
  const ids = ['good', 'truncated', 'cmyk', 'gray', 'alpha', 'tiny', 'huge', 'wide', 'empty', 'text', 'missing'];
  return [
    ...ids.map((id) => ({ id, productId: KEPT })),
    { id: 'dropped', productId: DROPPED },
    { id: 'good', productId: KEPT }, // the same image listed twice
  ];
}

function check(id: string, status?: string): ImageCheck {
  const found = inspection.checks.find((c) => c.id === id && (status === undefined || c.status === status));
  assert.ok(found, `no check for ${id}`);
  return found;
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'images-test-'));
  imagesDir = path.join(dir, 'images');
  fs.mkdirSync(imagesDir);
  const rows = await writeFixtures();
  const progress: number[] = [];
  inspection = await inspectImages(imagesDir, rows, new Set([KEPT]), { onProgress: (done) => progress.push(done) });
  assert.equal(progress[progress.length - 1], 12, 'progress reaches every decoded file');
});

after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

test('each kind of file gets its status', () => {
  const expected: Record<string, string> = {
    good: 'ok', truncated: 'corrupt', cmyk: 'ok', gray: 'ok', alpha: 'ok', tiny: 'too_small', huge: 'ok',
    wide: 'ok', empty: 'corrupt', text: 'corrupt', missing: 'missing_file', dropped: 'unknown_product', orphan: 'orphan_file',
  };
  for (const [id, status] of Object.entries(expected)) assert.equal(check(id).status, status, id);
  assert.equal(inspection.checks.filter((c) => c.id === 'good').map((c) => c.status).join(), 'ok,duplicate_row');
  assert.deepEqual(inspection.counts, {
    ok: 6, missing_file: 1, dangling_link: 0, not_a_file: 0, unreadable: 0, duplicate_row: 1, orphan_file: 1, unknown_product: 1, corrupt: 3, too_small: 1,
  });
  assert.deepEqual(inspection.folder, { entries: 13, imageNames: 12, other: { other_file_name: 1, other_folder: 0, other_link: 0, other_special: 0 } });
  assert.equal(inspection.rows, 13);
  assert.equal(inspection.files, 12, 'notes.txt is not an image file');
});

test('corrupt files carry sharp\'s reason', () => {
  assert.match(check('truncated').error ?? '', /premature end/i);
  assert.match(check('empty').error ?? '', /empty/i);
  assert.match(check('text').error ?? '', /unsupported image format/i);
  assert.equal(check('missing').file, null);
});

test('conversions needed are noted', () => {
  assert.deepEqual(check('cmyk').notes, ['cmyk']);
  assert.deepEqual(check('gray').notes, ['grayscale', 'odd_size']);
  assert.deepEqual(check('alpha').notes, ['alpha', 'not_jpeg']);
  assert.deepEqual(check('huge').notes, ['odd_size', 'huge']);
  assert.deepEqual(check('wide').notes, ['odd_size']);
  assert.deepEqual(check('good').notes, []);
  assert.equal(inspection.notes.odd_size, 3);
});

test('usable images by product and in cache order', () => {
  assert.deepEqual(usableImagesByProduct(inspection).get(KEPT), ['good', 'cmyk', 'gray', 'alpha', 'huge', 'wide']);
  assert.equal(usableImagesByProduct(inspection).has(DROPPED), false);
  assert.deepEqual(usableImageIds(inspection), ['alpha', 'cmyk', 'good', 'gray', 'huge', 'wide']);
});

test('inspection cache: a re-run decodes only new or changed files', async () => {
  const cacheFile = path.join(dir, 'inspection.json');
  const rows = inspection.checks.filter((c) => c.productId !== null).map((c) => ({ id: c.id, productId: c.productId as string }));
  const first = await inspectImages(imagesDir, rows, new Set([KEPT]), { cacheFile });
  assert.equal(first.decoded, 11, '12 files, two of them identical (orphan and dropped): decoded once');
  const again = await inspectImages(imagesDir, rows, new Set([KEPT]), { cacheFile });
  assert.equal(again.decoded, 0);
  assert.deepEqual(again.checks, first.checks, 'cached results are the same results');
  assert.deepEqual(again.counts, inspection.counts);
  fs.writeFileSync(path.join(imagesDir, 'extra.jpg'), await solid(20, 20, [9, 9, 9]).jpeg().toBuffer());
  fs.writeFileSync(path.join(imagesDir, 'tiny.jpg'), await solid(64, 64, [9, 9, 9]).jpeg().toBuffer());
  try {
    const changed = await inspectImages(imagesDir, rows, new Set([KEPT]), { cacheFile });
    assert.equal(changed.decoded, 2, 'the new orphan and the rewritten file');
    assert.equal(changed.checks.find((c) => c.id === 'tiny')?.status, 'ok');
    const stricter = await inspectImages(imagesDir, rows, new Set([KEPT]), { cacheFile, minSide: 33 });
    assert.equal(stricter.decoded, 12, 'another minSide decodes every distinct file again');
  } finally {
    fs.rmSync(path.join(imagesDir, 'extra.jpg'));
    fs.writeFileSync(path.join(imagesDir, 'tiny.jpg'), await solid(1, 1, [10, 20, 30]).jpeg().toBuffer());
  }
});

const file = (id: string) => path.join(imagesDir, id + '.jpg');
const pixel = (img: Buffer, size: number, x: number, y: number) => Array.from(img.subarray((y * size + x) * 3, (y * size + x) * 3 + 3));

test('every usable file converts to S×S×3 RGB', async () => {
  for (const id of usableImageIds(inspection)) {
    for (const size of [64, 224]) {
      const img = await toRgbSquare(file(id), size);
      assert.equal(img.length, size * size * 3, `${id} at ${size}`);
    }
  }
});

test('non-square images are padded with black at the bottom/right', async () => {
  const wide = await toRgbSquare(file('wide'), 66); // 300×100 → 66×22 of white, then black
  assert.deepEqual(pixel(wide, 66, 0, 0), [255, 255, 255]);
  assert.deepEqual(pixel(wide, 66, 65, 20), [255, 255, 255]);
  assert.deepEqual(pixel(wide, 66, 0, 23), [0, 0, 0]);
  assert.deepEqual(pixel(wide, 66, 65, 65), [0, 0, 0]);
  const huge = await toRgbSquare(file('huge'), 60); // 3:2 → 60×40
  assert.ok(pixel(huge, 60, 30, 10)[2] > 240, 'content at the top');
  assert.deepEqual(pixel(huge, 60, 30, 50), [0, 0, 0]);
});

test('grayscale, CMYK and alpha become plain RGB', async () => {
  const gray = await toRgbSquare(file('gray'), 50);
  const [r, g, b] = pixel(gray, 50, 10, 10);
  assert.ok(r === g && g === b && r > 0, 'gray replicated to 3 equal channels');
  const cmyk = await toRgbSquare(file('cmyk'), 64);
  const [cr, cg, cb] = pixel(cmyk, 64, 32, 32);
  assert.ok(Math.abs(cr - 200) < 12 && Math.abs(cg - 100) < 12 && Math.abs(cb - 50) < 35, `cmyk → ${cr},${cg},${cb}`);
  const alpha = await toRgbSquare(file('alpha'), 40);
  assert.deepEqual(pixel(alpha, 40, 5, 20), [255, 0, 0]);
  assert.deepEqual(pixel(alpha, 40, 35, 20), [0, 0, 0], 'transparent flattened onto black, not the white underneath');
});

test('converting a corrupt file names it', async () => {
  await assert.rejects(toRgbSquare(file('truncated'), 64), (err: Error) => err.message.includes('truncated.jpg'));
});

test('cache: builds, re-runs from cache, matches the conversion', async () => {
  const cacheDir = path.join(dir, 'cache-a');
  const ids = usableImageIds(inspection);
  const first = await ensureImageCache({ cacheDir, sourceDir: imagesDir, size: 32, ids });
  assert.equal(first.source, 'built');
  assert.equal(first.converted, ids.length);
  assert.equal(first.cache.readMany(ids).length, ids.length * 32 * 32 * 3);
  for (const id of ids) assert.deepEqual(Buffer.from(first.cache.read(id)), await toRgbSquare(file(id), 32), id);
  first.cache.close();
  const again = await ensureImageCache({ cacheDir, sourceDir: imagesDir, size: 32, ids });
  assert.equal(again.source, 'cached');
  assert.equal(again.converted, 0);
  const other = await ensureImageCache({ cacheDir, sourceDir: imagesDir, size: 16, ids });
  assert.equal(other.source, 'built', 'another size is another cache');
  assert.throws(() => again.cache.read('nope'), /nope is not in/);
});

test('cache: an interrupted build resumes where it stopped', async () => {
  const cacheDir = path.join(dir, 'cache-b');
  const ids = usableImageIds(inspection);
  await assert.rejects(
    ensureImageCache({
      cacheDir, sourceDir: imagesDir, size: 24, ids, appendEvery: 2,
      onProgress: (done) => { if (done === 4) throw new Error('interrupted'); },
    }),
    /interrupted/,
  );
  const dataFile = fs.readdirSync(cacheDir).find((n) => n.endsWith('.u8')) as string;
  // A kill in the middle of an append leaves part of an image: it is dropped and redone.
  fs.appendFileSync(path.join(cacheDir, dataFile), Buffer.alloc(100, 7));
  assert.throws(() => new ImageCache(path.join(cacheDir, dataFile.replace('.u8', '.json'))), /incomplete/);
  const resumed = await ensureImageCache({ cacheDir, sourceDir: imagesDir, size: 24, ids, appendEvery: 2 });
  assert.equal(resumed.reused, 4);
  assert.equal(resumed.converted, ids.length - 4);
  for (const id of ids) assert.deepEqual(Buffer.from(resumed.cache.read(id)), await toRgbSquare(file(id), 24), id);
});

test('cache: a subset reuses a complete cache; changed sources rebuild', async () => {
  const cacheDir = path.join(dir, 'cache-c');
  const ids = usableImageIds(inspection);
  await ensureImageCache({ cacheDir, sourceDir: imagesDir, size: 20, ids });
  const subset = await ensureImageCache({ cacheDir, sourceDir: imagesDir, size: 20, ids: ['wide', 'good'] });
  assert.equal(subset.source, 'superset');
  assert.deepEqual(Buffer.from(subset.cache.read('wide')), await toRgbSquare(file('wide'), 20));

  // A new modification time with the same bytes (a copied or re-provisioned data set) keeps the cache.
  const later = new Date(Date.now() + 60_000);
  fs.utimesSync(file('good'), later, later);
  const touched = await ensureImageCache({ cacheDir, sourceDir: imagesDir, size: 20, ids });
  assert.equal(touched.source, 'cached');
  assert.equal(touched.converted, 0);

  // New bytes of the same size and time (overwritten in place): converted again.
  const original = fs.readFileSync(file('good'));
  const before = fs.statSync(file('good'));
  const edited = Buffer.from(original);
  edited[edited.length - 3] ^= 0xff; // inside the entropy-coded data, before the end marker
  fs.writeFileSync(file('good'), edited);
  fs.utimesSync(file('good'), before.atime, before.mtime);
  const rebuilt = await ensureImageCache({ cacheDir, sourceDir: imagesDir, size: 20, ids });
  assert.equal(rebuilt.source, 'built');
  assert.equal(rebuilt.converted, ids.length);
  fs.writeFileSync(file('good'), original);
  fs.utimesSync(file('good'), before.atime, before.mtime);

  // An index of an older format (v1 stamped sources by mtime) is rebuilt, not an error.
  const indexFile = fs.readdirSync(cacheDir).map((f) => path.join(cacheDir, f)).find((f) => f.endsWith('.json') && JSON.parse(fs.readFileSync(f, 'utf8')).ids.length === ids.length) as string;
  fs.writeFileSync(indexFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(indexFile, 'utf8')), formatVersion: 1 }));
  const upgraded = await ensureImageCache({ cacheDir, sourceDir: imagesDir, size: 20, ids });
  assert.equal(upgraded.source, 'built');
  assert.equal(JSON.parse(fs.readFileSync(indexFile, 'utf8')).formatVersion, 2);
});

test('cache: clear errors for bad input', async () => {
  const cacheDir = path.join(dir, 'cache-d');
  await assert.rejects(ensureImageCache({ cacheDir, sourceDir: imagesDir, size: 20, ids: ['missing'] }), /missing\.jpg: source image not found/);
  await assert.rejects(ensureImageCache({ cacheDir, sourceDir: imagesDir, size: 20, ids: ['good', 'good'] }), /listed twice/);
  await assert.rejects(ensureImageCache({ cacheDir, sourceDir: imagesDir, size: 20, ids: [] }), /no image ids/);
});

test('links, dangling links, loops, folders and pipes get a named status; nothing throws', async () => {
  const odd = path.join(dir, 'odd');
  fs.mkdirSync(odd);
  const good = path.join(imagesDir, 'good.jpg');
  fs.symlinkSync(good, path.join(odd, 'linked.jpg'));
  fs.symlinkSync(path.join(dir, 'nowhere.jpg'), path.join(odd, 'dangling.jpg'));
  fs.symlinkSync(path.join(odd, 'loop-b.jpg'), path.join(odd, 'loop-a.jpg'));
  fs.symlinkSync(path.join(odd, 'loop-a.jpg'), path.join(odd, 'loop-b.jpg'));
  fs.mkdirSync(path.join(odd, 'folder.jpg'));
  require('child_process').execFileSync('mkfifo', [path.join(odd, 'pipe.jpg')]);
  fs.mkdirSync(path.join(odd, 'sub'));
  fs.symlinkSync(good, path.join(odd, 'link-without-jpg-name'));
  const ids = ['linked', 'dangling', 'loop-a', 'loop-b', 'folder', 'pipe'];
  const result = await inspectImages(odd, ids.map((id) => ({ id, productId: KEPT })), new Set([KEPT]));
  const status = Object.fromEntries(result.checks.map((c) => [c.id, c.status]));
  assert.deepEqual(status, { linked: 'ok', dangling: 'dangling_link', 'loop-a': 'unreadable', 'loop-b': 'unreadable', folder: 'not_a_file', pipe: 'not_a_file' });
  assert.deepEqual(result.checks[0].notes, ['symlink']);
  assert.equal(result.notes.symlink, 1);
  assert.match(result.checks[1].error ?? '', /link to .*nowhere\.jpg, which does not exist/);
  assert.match(result.checks[2].error ?? '', /ELOOP|too many symbolic links/i);
  assert.match(result.checks[5].error ?? '', /named pipe/);
  assert.deepEqual(result.folder, { entries: 8, imageNames: 6, other: { other_file_name: 0, other_folder: 1, other_link: 1, other_special: 0 } });
  assert.equal(result.checks[0].md5, check('good').md5, 'a link is read through');
});

test('a photo overwritten in place, same size and time, is inspected again (the cache is keyed by content)', async () => {
  const folder = path.join(dir, 'overwrite');
  fs.mkdirSync(folder);
  const file = path.join(folder, 'p.jpg');
  fs.copyFileSync(path.join(imagesDir, 'good.jpg'), file);
  const cacheFile = path.join(dir, 'overwrite.json');
  const rows = [{ id: 'p', productId: KEPT }];
  assert.equal((await inspectImages(folder, rows, new Set([KEPT]), { cacheFile })).checks[0].status, 'ok');
  const before = fs.statSync(file);
  fs.writeFileSync(file, Buffer.alloc(before.size));
  fs.utimesSync(file, before.atime, before.mtime);
  const after = fs.statSync(file);
  assert.equal(after.size, before.size);
  const again = await inspectImages(folder, rows, new Set([KEPT]), { cacheFile });
  assert.equal(again.decoded, 1);
  assert.equal(again.checks[0].status, 'corrupt');
});

test('dHash: the same photo re-encoded and resized stays close, another photo is far', async () => {
  const { hammingDistance } = await import('../src/data/photo_hash');
  const folder = path.join(dir, 'near');
  fs.mkdirSync(folder);
  // A smooth picture (gradients and a disc), so the thumbnail has structure, as a photo does.
  const w = 256;
  const px = Buffer.alloc(w * w * 3);
  for (let y = 0; y < w; y++) for (let x = 0; x < w; x++) {
    const inDisc = (x - 90) ** 2 + (y - 140) ** 2 < 50 ** 2;
    px.set([inDisc ? 230 : x, inDisc ? 40 : y, (x + y) >> 1], (y * w + x) * 3);
  }
  const original = sharp(px, { raw: { width: w, height: w, channels: 3 } });
  fs.writeFileSync(path.join(folder, 'a.jpg'), await original.clone().jpeg({ quality: 95 }).toBuffer());
  fs.writeFileSync(path.join(folder, 'b.jpg'), await original.clone().resize(180, 180).jpeg({ quality: 40 }).toBuffer());
  fs.writeFileSync(path.join(folder, 'c.jpg'), await original.clone().flop().rotate(90).jpeg().toBuffer());
  const r = await inspectImages(folder, ['a', 'b', 'c'].map((id) => ({ id, productId: KEPT })), new Set([KEPT]));
  const [a, b, c] = r.checks.map((x) => x.dHash as string);
  assert.match(a, /^[0-9a-f]{16}$/);
  assert.notEqual(r.checks[0].md5, r.checks[1].md5);
  assert.ok(hammingDistance(a, b) <= 4, `re-encoded: ${hammingDistance(a, b)} bits`);
  assert.ok(hammingDistance(a, c) >= 20, `another picture: ${hammingDistance(a, c)} bits`);
});
