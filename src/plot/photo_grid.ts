/**
 * A grid of photos with a caption per row (and optionally per photo), as one PNG: shows in
 * any notebook view (trusted or not), in the HTML export and in the report.
 */
import sharp, { OverlayOptions } from 'sharp';

export interface PhotoGridRow {
  /** Row caption, drawn on the left. */
  label: string;
  /** Image files or encoded images (JPEG/PNG), or raw RGB squares. */
  photos: Array<string | Buffer | { rgb: Uint8Array; size: number }>;
  /** Optional caption under each photo (same order as photos). */
  captions?: string[];
}

export interface PhotoGridOptions {
  /** Side of each thumbnail in pixels (default 96). */
  thumb?: number;
  /** Width of the label column in pixels (default 220). */
  labelWidth?: number;
  /** Height reserved under each photo for its caption when any row has captions (default 28). */
  captionHeight?: number;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * A caption without the characters the grid's font (DejaVu Sans) cannot draw, which would
 * show as a missing-glyph box: emoji and other pictographs (listing titles like
 * "✅ALL APPLIANCES…", U+2705), their variation selectors and joiners.
 */
export function drawableText(text: string): string {
  return text.replace(/[\p{Extended_Pictographic}\u{1F1E6}-\u{1F1FF}\u{1F3FB}-\u{1F3FF}\uFE0E\uFE0F\u200D\u20E3]/gu, ' ').replace(/\s+/g, ' ').trim();
}

/** Break a caption into at most `maxLines` lines of about `width` characters. */
export function wrapText(text: string, width: number, maxLines: number): string[] {
  const lines: string[] = [];
  let line = '';
  text = drawableText(text);
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && (line + ' ' + word).length > width) {
      lines.push(line);
      line = '';
      if (lines.length === maxLines) break;
    }
    line = line ? line + ' ' + word : word;
  }
  if (line && lines.length < maxLines) lines.push(line);
  if (lines.length === maxLines && lines.join(' ').length < text.trim().length) {
    lines[maxLines - 1] = lines[maxLines - 1].replace(/.{0,1}$/, '…');
  }
  return lines;
}

function textSvg(lines: string[], width: number, height: number, fontSize: number, anchorMiddle = false): Buffer {
  const x = anchorMiddle ? width / 2 : 4;
  const tspans = lines
    .map((l, i) => `<text x="${x}" y="${fontSize + i * (fontSize + 2)}" font-family="DejaVu Sans, sans-serif" font-size="${fontSize}" fill="#222"${anchorMiddle ? ' text-anchor="middle"' : ''}>${escapeXml(l)}</text>`)
    .join('');
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${tspans}</svg>`);
}

async function thumbnail(photo: PhotoGridRow['photos'][number], side: number): Promise<Buffer> {
  const input =
    typeof photo === 'string' || Buffer.isBuffer(photo)
      ? sharp(photo)
      : sharp(Buffer.from(photo.rgb.buffer, photo.rgb.byteOffset, photo.rgb.byteLength), {
          raw: { width: photo.size, height: photo.size, channels: 3 },
        });
  return input.resize(side, side, { fit: 'contain', background: { r: 0, g: 0, b: 0 } }).png().toBuffer();
}

/**
 * Compose the grid into one PNG, quantised to 256 colours: photos in a true-colour PNG take
 * ~2 MB per grid, which would make every executed notebook heavy; dithered, thumbnails look
 * the same at a quarter of the size.
 */
export async function photoGridPng(rows: PhotoGridRow[], opts: PhotoGridOptions = {}): Promise<Buffer> {
  if (rows.length === 0) throw new Error('photoGridPng: no rows to draw');
  const thumb = opts.thumb ?? 96;
  const labelWidth = opts.labelWidth ?? 220;
  const gap = 4;
  const captionHeight = rows.some((r) => r.captions?.length) ? opts.captionHeight ?? 28 : 0;
  const cols = Math.max(...rows.map((r) => r.photos.length), 1);
  const rowHeight = thumb + captionHeight + gap;
  const width = labelWidth + cols * (thumb + gap);
  const height = rows.length * rowHeight + gap;

  const layers: OverlayOptions[] = [];
  for (let r = 0; r < rows.length; r++) {
    const top = gap + r * rowHeight;
    const row = rows[r];
    layers.push({ input: textSvg(wrapText(row.label, 26, 4), labelWidth, thumb, 13), top, left: 0 });
    for (let c = 0; c < row.photos.length; c++) {
      const left = labelWidth + c * (thumb + gap);
      layers.push({ input: await thumbnail(row.photos[c], thumb), top, left });
      const caption = row.captions?.[c];
      if (caption && captionHeight > 0) {
        const lines = wrapText(caption, Math.floor(thumb / 6), 2);
        layers.push({ input: textSvg(lines, thumb, captionHeight, 10, true), top: top + thumb, left });
      }
    }
  }
  return sharp({ create: { width, height, channels: 3, background: { r: 255, g: 255, b: 255 } } })
    .composite(layers)
    .png({ palette: true, colours: 256, dither: 1, effort: 7 })
    .toBuffer();
}
