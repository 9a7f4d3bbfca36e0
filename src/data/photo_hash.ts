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

export interface PairDistancesByGroup extends PairDistances {
  /** The same, only pairs whose products are in different groups (main categories): almost all unrelated. */
  otherGroupHistogram: number[];
  otherGroupPairs: number;
  /** Pairs of byte-identical files (all at distance 0): the exact rule joins them anyway. */
  sameFilePairs: number;
  sameFilePairsAcrossGroups: number;
}

/** pairDistanceHistogram plus the histogram of pairs across groups, the null the threshold is read against. */
export function pairDistancesByGroup(photos: readonly HashedPhoto[], groupOf: (productId: string) => string, keptUpTo = 16): PairDistancesByGroup {
  const base = pairDistanceHistogram(photos, keptUpTo);
  // Pairs across groups at every distance: count them from the complement (same-group pairs), which is far cheaper.
  const sameGroup = new Array<number>(65).fill(0);
  let sameGroupPairs = 0;
  const byGroup = new Map<string, number[]>();
  photos.forEach((p, i) => {
    const g = groupOf(p.productId);
    const list = byGroup.get(g);
    if (list) list.push(i);
    else byGroup.set(g, [i]);
  });
  for (const members of byGroup.values()) {
    for (let x = 0; x < members.length; x++) {
      for (let y = x + 1; y < members.length; y++) {
        const a = photos[members[x]];
        const b = photos[members[y]];
        if (a.productId === b.productId) continue;
        sameGroup[hammingDistance(a.dHash, b.dHash)]++;
        sameGroupPairs++;
      }
    }
  }
  const sameFile = base.close.filter((c) => photos[c.a].md5 === photos[c.b].md5);
  const sameFilePairsAcrossGroups = sameFile.filter((c) => groupOf(photos[c.a].productId) !== groupOf(photos[c.b].productId)).length;
  return {
    ...base,
    otherGroupHistogram: base.histogram.map((n, d) => n - sameGroup[d]),
    otherGroupPairs: base.pairs - sameGroupPairs,
    sameFilePairs: sameFile.length,
    sameFilePairsAcrossGroups,
  };
}

export interface ThresholdChoice {
  /** Largest distance still called "the same photo"; -1 when even distance 0 fails the bar. */
  threshold: number;
  maxFalseShare: number;
  /** Share of all pairs that are across groups: what a random pair looks like. */
  nullShare: number;
  /** Per distance: pairs (byte-identical files left out), across-group pairs, and the estimated false share up to it. */
  table: Array<{ distance: number; pairs: number; acrossGroups: number; estimatedFalseShareUpTo: number }>;
}

/**
 * Reads the near-duplicate threshold off the measured histograms. Unrelated photos fall across
 * main categories at the null share (≈ 0.92 with 13 categories); copies of one photo almost never
 * do. So among pairs within distance T, across-group pairs / null share estimates how many are
 * chance. T is the largest distance, scanning up from 0, at which that estimated false share of
 * the pairs the rule would ADD (byte-identical files excluded: the exact rule has them) stays
 * ≤ maxFalseShare. The estimate is conservative: a real copy listed under two categories counts
 * as chance. The default bar (20 %) leans towards joining: a false join only makes one family
 * bigger, a missed copy is a photo shared by train and test.
 */
export const DEFAULT_MAX_FALSE_SHARE = 0.2;
/** Never further than this (bits of 64), whatever a small sample suggests: beyond, pictures merely look alike. */
export const MAX_DHASH_THRESHOLD = 10;

export function chooseDHashThreshold(d: PairDistancesByGroup, maxFalseShare = DEFAULT_MAX_FALSE_SHARE, maxThreshold = Math.min(MAX_DHASH_THRESHOLD, d.keptUpTo)): ThresholdChoice {
  const nullShare = d.otherGroupPairs / Math.max(1, d.pairs);
  const table: ThresholdChoice['table'] = [];
  let pairs = 0;
  let across = 0;
  let threshold = -1;
  let failed = false;
  for (let t = 0; t <= maxThreshold; t++) {
    const atT = d.histogram[t] - (t === 0 ? d.sameFilePairs : 0);
    pairs += atT;
    const acrossAtT = d.otherGroupHistogram[t] - (t === 0 ? d.sameFilePairsAcrossGroups : 0);
    across += acrossAtT;
    const share = pairs > 0 ? Math.min(1, across / nullShare / pairs) : 0;
    table.push({ distance: t, pairs: atT, acrossGroups: acrossAtT, estimatedFalseShareUpTo: share });
    if (!failed && share <= maxFalseShare) threshold = t;
    else failed = true;
  }
  return { threshold, maxFalseShare, nullShare, table };
}

/** Everything notebook 00 needs for rules 3 and 4: the measured distances, the chosen threshold, the links. */
export function measurePhotoLinks(
  photos: readonly HashedPhoto[],
  groupOf: (productId: string) => string,
  maxFalseShare = DEFAULT_MAX_FALSE_SHARE,
): { distances: PairDistancesByGroup; choice: ThresholdChoice; links: { photos: readonly HashedPhoto[]; nearPairs: Array<{ a: number; b: number }>; dHashThreshold: number } } {
  const distances = pairDistancesByGroup(photos, groupOf);
  const choice = chooseDHashThreshold(distances, maxFalseShare);
  const nearPairs = distances.close.filter((c) => c.distance <= choice.threshold);
  return { distances, choice, links: { photos, nearPairs, dHashThreshold: choice.threshold } };
}
