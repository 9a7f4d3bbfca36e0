/**
 * Cross-post families: listings that are the same item (or the same seller's advert) posted
 * more than once, usually in several towns. They must all land in ONE split, or a model is
 * tested on a listing it has, in effect, already seen in training.
 *
 * Two listings are in one family when
 *  1. their normalised title + normalised description are equal (the same advert re-posted), or
 *  2. their normalised descriptions are equal and at least LONG_DESCRIPTION_MIN_CHARS long, or
 *  3. they have a byte-identical photo (same md5), or
 *  4. they have near-identical photos: dHashes at most `dHashThreshold` bits apart (photo_hash.ts;
 *     the threshold is read off the measured histogram of pair distances, chooseDHashThreshold).
 *
 * Why rules 3 and 4: on the real data 97 groups of products share a byte-identical photo; split
 * apart, a test product would show the model the very photo it trained on.
 *
 * Why rule 2: on the real data the shared long descriptions are sellers' boilerplate
 * (a 1,245-character "graded & reuse appliances" text on 30 listings, a catering-equipment
 * text on 25, ...), each used in one main category only. A text model learns such a text
 * verbatim; with copies in train and test it would score on memory, not on understanding.
 * Grouping them costs little: the largest family is 30 products, well inside one category's
 * 15% share. The length floor keeps short generic texts ("Good condition") from chaining
 * unrelated sellers together.
 *
 * "Normalised" means: Unicode NFKC (full-width and compatibility forms folded), lower case,
 * every run of characters that is not a letter or a digit (punctuation, emoji, symbols,
 * whitespace, control characters) turned into one space, trimmed. So "Sofa!!  NEW 💥" and
 * "sofa new" compare equal, while different words or numbers (sizes, prices) do not.
 */

import type { HashedPhoto } from './photo_hash';

export const LONG_DESCRIPTION_MIN_CHARS = 50;

/** What joins products through their photos (rules 3 and 4). */
export interface PhotoLinks {
  /** Usable photos of kept products, with md5 and dHash. */
  photos: readonly HashedPhoto[];
  /** Pairs of indices into `photos` whose dHashes are within the threshold. */
  nearPairs: ReadonlyArray<{ a: number; b: number }>;
  dHashThreshold: number;
}

/** What crosspost needs from a listing. */
export interface CrossPostInput {
  id: string;
  title: string;
  description: string;
  mainCategory?: string;
}

export interface CrossPostReport {
  rule: string;
  longDescriptionMinChars: number;
  /** Rule 1 alone: listings repeating an earlier title + description, and the groups they form. */
  titleDescriptionRepeats: number;
  titleDescriptionGroups: number;
  /** Rule 2 alone: listings repeating an earlier long description, and the distinct texts shared. */
  longDescriptionRepeats: number;
  longDescriptionGroups: number;
  /** Rule 3 alone: distinct photo files shared by several products, and the products holding them. */
  sameFileGroups?: number;
  sameFileProducts?: number;
  /** Rule 4 alone: groups of several products joined by near-identical photos (connected), and the threshold in bits. */
  similarPhotoGroups?: number;
  similarPhotoProducts?: number;
  dHashThreshold?: number;
  /** All rules together (connected components). */
  families: number;
  familiesWithSeveralProducts: number;
  productsInSharedFamilies: number;
  largestFamily: number;
  /** Families whose products do not all share one main category (the split then follows the majority). */
  familiesSpanningCategories: number;
}

/** Normalise text for equality tests (see the module comment). */
export function normaliseForMatching(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

/** The rule-1 key: normalised title and description, separated by a character neither contains. */
export function titleDescriptionKey(title: string, description: string): string {
  return `${normaliseForMatching(title)}\u0001${normaliseForMatching(description)}`;
}

/** The rule-2 key, or null when the description is too short to identify a seller's text. */
export function longDescriptionKey(description: string): string | null {
  const normalised = normaliseForMatching(description);
  return normalised.length >= LONG_DESCRIPTION_MIN_CHARS ? normalised : null;
}

/** Union–find over array indices. */
class DisjointSets {
  private readonly parent: number[];
  constructor(size: number) {
    this.parent = Array.from({ length: size }, (_, i) => i);
  }
  find(i: number): number {
    let root = i;
    while (this.parent[root] !== root) root = this.parent[root];
    while (this.parent[i] !== root) {
      const next = this.parent[i];
      this.parent[i] = root;
      i = next;
    }
    return root;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
}

/** Group indices by a key (null keys are skipped); returns groups in first-seen order. */
function groupBy(keys: Array<string | null>): number[][] {
  const groups = new Map<string, number[]>();
  keys.forEach((key, i) => {
    if (key === null) return;
    const members = groups.get(key);
    if (members) members.push(i);
    else groups.set(key, [i]);
  });
  return [...groups.values()];
}

/**
 * The family of every listing, by id. A family is named after its smallest product id, so the
 * name is stable whatever order the listings come in, and a lone listing's family is its own id.
 */
export function crossPostFamilies(listings: readonly CrossPostInput[], photoLinks?: PhotoLinks): {
  familyOf: Map<string, string>;
  report: CrossPostReport;
} {
  const sets = new DisjointSets(listings.length);
  const byTitleDescription = groupBy(listings.map((l) => titleDescriptionKey(l.title, l.description)));
  const byLongDescription = groupBy(listings.map((l) => longDescriptionKey(l.description)));
  let photoRules: Pick<CrossPostReport, 'sameFileGroups' | 'sameFileProducts' | 'similarPhotoGroups' | 'similarPhotoProducts' | 'dHashThreshold'> = {};
  const photoGroups: number[][] = [];
  if (photoLinks) {
    const indexOf = new Map(listings.map((l, i) => [l.id, i]));
    const listingOf = (photo: HashedPhoto) => indexOf.get(photo.productId) ?? -1;
    // Rule 3: products holding one file. Rule 4: products joined by near pairs (components of their own).
    const byFile = groupBy(photoLinks.photos.map((p) => (listingOf(p) >= 0 ? p.md5 : null)))
      .map((g) => [...new Set(g.map((i) => listingOf(photoLinks.photos[i])))])
      .filter((g) => g.length > 1);
    const near = new DisjointSets(listings.length);
    const nearMembers = new Set<number>();
    for (const { a, b } of photoLinks.nearPairs) {
      const la = listingOf(photoLinks.photos[a]);
      const lb = listingOf(photoLinks.photos[b]);
      if (la < 0 || lb < 0 || la === lb) continue;
      near.union(la, lb);
      nearMembers.add(la).add(lb);
      photoGroups.push([la, lb]);
    }
    const nearComponents = new Set([...nearMembers].map((i) => near.find(i)));
    photoGroups.push(...byFile);
    photoRules = {
      sameFileGroups: byFile.length,
      sameFileProducts: new Set(byFile.flat()).size,
      similarPhotoGroups: nearComponents.size,
      similarPhotoProducts: nearMembers.size,
      dHashThreshold: photoLinks.dHashThreshold,
    };
  }
  for (const group of [...byTitleDescription, ...byLongDescription, ...photoGroups]) {
    for (let k = 1; k < group.length; k++) sets.union(group[0], group[k]);
  }

  const members = new Map<number, number[]>();
  listings.forEach((_, i) => {
    const root = sets.find(i);
    const list = members.get(root);
    if (list) list.push(i);
    else members.set(root, [i]);
  });

  const familyOf = new Map<string, string>();
  let productsInSharedFamilies = 0;
  let familiesWithSeveralProducts = 0;
  let largestFamily = 0;
  let familiesSpanningCategories = 0;
  for (const indices of members.values()) {
    const ids = indices.map((i) => listings[i].id);
    const name = ids.reduce((a, b) => (b < a ? b : a));
    for (const id of ids) familyOf.set(id, name);
    largestFamily = Math.max(largestFamily, ids.length);
    if (ids.length > 1) {
      familiesWithSeveralProducts++;
      productsInSharedFamilies += ids.length;
      const categories = new Set(indices.map((i) => listings[i].mainCategory ?? ''));
      if (categories.size > 1) familiesSpanningCategories++;
    }
  }

  const shared = (groups: number[][]) => groups.filter((g) => g.length > 1);
  const repeats = (groups: number[][]) => shared(groups).reduce((sum, g) => sum + g.length - 1, 0);
  const report: CrossPostReport = {
    rule:
      'same normalised title + description, or same normalised description of at least ' +
      `${LONG_DESCRIPTION_MIN_CHARS} characters` +
      (photoLinks ? `, or a byte-identical photo, or photos whose dHashes are at most ${photoLinks.dHashThreshold} bits apart` : ''),
    longDescriptionMinChars: LONG_DESCRIPTION_MIN_CHARS,
    titleDescriptionRepeats: repeats(byTitleDescription),
    titleDescriptionGroups: shared(byTitleDescription).length,
    longDescriptionRepeats: repeats(byLongDescription),
    longDescriptionGroups: shared(byLongDescription).length,
    ...photoRules,
    families: members.size,
    familiesWithSeveralProducts,
    productsInSharedFamilies,
    largestFamily,
    familiesSpanningCategories,
  };
  return { familyOf, report };
}

/** Sets every listing's `family` (see crossPostFamilies) and returns the report. */
export function assignFamilies<T extends CrossPostInput & { family: string }>(listings: T[], photoLinks?: PhotoLinks): CrossPostReport {
  const { familyOf, report } = crossPostFamilies(listings, photoLinks);
  for (const listing of listings) listing.family = familyOf.get(listing.id) ?? listing.id;
  return report;
}
