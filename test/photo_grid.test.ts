import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { drawableText, photoGridPng, wrapText } from '../src/plot/photo_grid';

test('wrapText keeps words whole and marks truncation', () => {
  assert.deepEqual(wrapText('a bb ccc dddd', 6, 3), ['a bb', 'ccc', 'dddd']);
  const lines = wrapText('one two three four five six', 7, 2);
  assert.equal(lines.length, 2);
  assert.ok(lines[1].endsWith('…'));
});

test('captions drop what the font cannot draw (a real title starts with U+2705)', () => {
  assert.equal(drawableText('\u2705ALL APPLIANCES AT RECYK'), 'ALL APPLIANCES AT RECYK');
  assert.equal(drawableText('Sofa \u2764\uFE0F like new \u{1F44D}\u{1F3FD} £50 – café'), 'Sofa like new £50 – café');
  assert.deepEqual(wrapText('\u2705 Washing machine', 20, 2), ['Washing machine']);
});

test('photoGridPng lays out rows × columns with captions', async () => {
  const red = await sharp({ create: { width: 50, height: 30, channels: 3, background: { r: 255, g: 0, b: 0 } } }).jpeg().toBuffer();
  const rgb = new Uint8Array(8 * 8 * 3).fill(200);
  const png = await photoGridPng(
    [
      { label: 'Row one & <two>', photos: [red, red, red], captions: ['a', 'b', 'c'] },
      { label: 'Raw', photos: [{ rgb, size: 8 }] },
    ],
    { thumb: 40, labelWidth: 100, captionHeight: 20 },
  );
  const meta = await sharp(png).metadata();
  assert.equal(meta.width, 100 + 3 * 44);
  assert.equal(meta.height, 2 * (40 + 20 + 4) + 4);
  // The middle of the first thumbnail is the (JPEG-encoded) red photo.
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const px = (x: number, y: number): number[] => Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
  const [r, g, b] = px(100 + 20, 4 + 20);
  assert.ok(r > 240 && g < 15 && b < 15, `expected red, got ${[r, g, b]}`);
  // The label column stays white.
  assert.deepEqual(px(99, 4 + 39), [255, 255, 255]);
  assert.equal(meta.isPalette, true, 'a palette PNG (photos in true colour are ~2 MB per grid)');
});

test('photoGridPng refuses an empty grid', async () => {
  await assert.rejects(photoGridPng([]), /no rows/);
});
