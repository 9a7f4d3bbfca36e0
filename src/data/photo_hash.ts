/**
 * Photo fingerprints for finding the same photo under two products:
 *  - exact: the md5 of the file's bytes (images.ts computes it while inspecting);
 *  - near: a 64-bit difference hash (dHash) of a 9×8 grey thumbnail. Each bit says whether a
 *    pixel is brighter than its right-hand neighbour, so re-encoding, resizing or a small colour
 *    shift leave most bits alone, while different photos differ in about half of them.
 *
 * How close is "the same photo" is not guessed: pairDistanceHistogram measures the Hamming
 * distances of all pairs of photos of different products, and chooseDHashThreshold reads the
 * threshold off that histogram (notebook 00 shows both).
 */

export const DHASH_WIDTH = 9;
export const DHASH_HEIGHT = 8;

/** 9×8 grey pixels (row-major, one byte each) → 16 hex digits. */
export function dHashFromGrey(grey: Uint8Array): string {
  if (grey.length !== DHASH_WIDTH * DHASH_HEIGHT) throw new Error(`dHash needs ${DHASH_WIDTH}×${DHASH_HEIGHT} grey pixels, got ${grey.length} values`);
  const words = [0, 0];
  for (let y = 0; y < DHASH_HEIGHT; y++) {
    for (let x = 0; x < DHASH_WIDTH - 1; x++) {
      const bit = y * 8 + x;
      if (grey[y * DHASH_WIDTH + x] > grey[y * DHASH_WIDTH + x + 1]) words[bit >> 5] |= 1 << (bit & 31);
    }
  }
  return words.map((w) => (w >>> 0).toString(16).padStart(8, '0')).join('');
}

function popcount32(v: number): number {
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Bits in which two dHashes (16 hex digits each) differ: 0..64. */
export function hammingDistance(a: string, b: string): number {
  return popcount32(parseInt(a.slice(0, 8), 16) ^ parseInt(b.slice(0, 8), 16)) + popcount32(parseInt(a.slice(8), 16) ^ parseInt(b.slice(8), 16));
}

/** A usable photo and what it belongs to. */
export interface HashedPhoto {
  id: string;
  productId: string;
  md5: string;
  dHash: string;
}

export interface PairDistances {
  /** Pairs of photos of DIFFERENT products at each Hamming distance 0..64. */
  histogram: number[];
  pairs: number;
  /** Pairs at distance ≤ keptUpTo, for grouping once the threshold is chosen. */
  close: Array<{ a: number; b: number; distance: number }>;
  keptUpTo: number;
}

/** Every pair of photos of different products (n²/2 popcounts: ~1 s for 12,600 photos). */
export function pairDistanceHistogram(photos: readonly HashedPhoto[], keptUpTo = 16): PairDistances {
  const n = photos.length;
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  photos.forEach((p, i) => {
    hi[i] = parseInt(p.dHash.slice(0, 8), 16);
    lo[i] = parseInt(p.dHash.slice(8), 16);
  });
  const product = photos.map((p) => p.productId);
  const histogram = new Array<number>(65).fill(0);
  const close: PairDistances['close'] = [];
  let pairs = 0;
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      if (product[a] === product[b]) continue;
      const d = popcount32(hi[a] ^ hi[b]) + popcount32(lo[a] ^ lo[b]);
      histogram[d]++;
      pairs++;
      if (d <= keptUpTo) close.push({ a, b, distance: d });
    }
  }
  return { histogram, pairs, close, keptUpTo };
}
