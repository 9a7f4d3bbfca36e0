/**
 * Products.csv → cleaned listings.
 *
 * Two outcomes for a row:
 *  - QUARANTINED, with one named reason, when no stage can use it (no id, no category, an exact
 *    duplicate, no alphabetic text at all). Quarantined rows are listed in the cleaning report.
 *  - KEPT, possibly with FLAGS, when only some stage cannot use it. A listing priced at £0 is no
 *    good for price regression but is still a fine example of its category.
 * The report counts both, and rows in = kept + quarantined exactly.
 */
import { assignFamilies, CrossPostReport } from './crosspost';
import { CsvTable, readCsvFile, TextEncodingNote } from './csv';
import { Listing } from './types';

export const PRODUCTS_SOURCE = 'Products.csv';
export const PRODUCT_COLUMNS = ['id', 'product_name', 'category', 'product_description', 'price', 'location'];

/**
 * The 13 main categories in a fixed order (alphabetical): use it for class indices so every
 * stage numbers the classes the same way.
 */
export const MAIN_CATEGORIES: readonly string[] = [
  'Appliances',
  'Baby & Kids Stuff',
  'Clothes, Footwear & Accessories',
  'Computers & Software',
  'DIY Tools & Materials',
  'Health & Beauty',
  'Home & Garden',
  'Music, Films, Books & Games',
  'Office Furniture & Equipment',
  'Other Goods',
  'Phones, Mobile Phones & Telecoms',
  'Sports, Leisure & Travel',
  'Video Games & Consoles',
];

/** Prices outside (PRICE_MIN_EXCLUSIVE, PRICE_MAX_INCLUSIVE] are placeholders or typos, not prices. */
export const PRICE_MIN_EXCLUSIVE = 0;
export const PRICE_MAX_INCLUSIVE = 10000;

/** Why a row was set aside. One reason per row: the first check that fails. */
export type QuarantineReason =
  | 'missing_id'
  | 'missing_category'
  | 'unknown_main_category'
  | 'text_empty'
  | 'text_non_alphabetic'
  | 'duplicate_row'
  | 'duplicate_id_conflict';
// (plus `malformed_<problem>` for records the CSV reader could not split: see malformedRows)

/** Flags a kept listing may carry; a stage skips listings with flags it cannot use. */
export type ListingFlag =
  | 'price_implausible' // ≤ £0 or > £10,000: excluded from price regression
  | 'price_missing' // empty or unreadable price text: excluded from price regression
  | 'title_empty' // title is empty once the suffix is removed; the description carries the text
  | 'title_non_alphabetic' // title has no letters (e.g. a phone number)
  | 'no_image_rows'; // Images.csv has no row for this product (set by linkImagesToListings)

export const PRICE_EXCLUDING_FLAGS: readonly string[] = ['price_implausible', 'price_missing'];

/** True when the listing's price can be a regression target. */
export function hasUsablePrice(listing: Listing): listing is Listing & { price: number } {
  return listing.price !== null && !listing.flags.some((f) => PRICE_EXCLUDING_FLAGS.includes(f));
}

export interface QuarantinedRow {
  source: string;
  /** Line in the source file where the record starts. */
  line: number;
  id: string;
  reason: string;
  field: string;
  detail: string;
  /** The record's text, for rows that could not be split into fields (cut at RAW_TEXT_MAX_CHARS). */
  raw?: string;
}

const RAW_TEXT_MAX_CHARS = 500;

/**
 * Records the CSV reader could not split into the header's fields (csv.ts), as quarantined rows:
 * reason `malformed_<problem>`, with the record's line and raw text.
 */
export function malformedRows(table: CsvTable): QuarantinedRow[] {
  // The record's id, when a uuid can still be seen in it (both tables put their id first): lets
  // Images.csv rows of a malformed product be reported as "quarantined product", not "unknown".
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  return table.quarantined.map((q) => ({
    source: table.source, line: q.line, id: q.raw.split(',').find((f) => uuid.test(f.trim()))?.trim() ?? '',
    reason: `malformed_${q.reason}`, field: '(record)', detail: q.detail,
    raw: q.raw.length > RAW_TEXT_MAX_CHARS ? `${q.raw.slice(0, RAW_TEXT_MAX_CHARS)}…` : q.raw,
  }));
}

/** What happened to one input table. */
export interface TableCleaningReport {
  source: string;
  /** Records in the file (header excluded), readable or not. */
  rowsIn: number;
  kept: number;
  quarantined: number;
  quarantinedByReason: Record<string, number>;
  /** Kept rows carrying each flag. */
  flags: Record<string, number>;
  /** Repairs and observations that did not change a row's fate (e.g. titles without the suffix). */
  notes: Record<string, number>;
  quarantinedRows: QuarantinedRow[];
  /** How the file's bytes were decoded (a note when it was not UTF-8). */
  encoding?: TextEncodingNote;
}

export interface PriceSummary {
  minExclusive: number;
  maxInclusive: number;
  parsed: number;
  unparseable: number;
  atOrBelowMin: number;
  aboveMax: number;
  median: number | null;
  max: number | null;
}

export interface ProductCleaning {
  listings: Listing[];
  report: TableCleaningReport;
  prices: PriceSummary;
  crossPosts: CrossPostReport;
  /** Kept listings per main category, largest first. */
  mainCategories: Record<string, number>;
}

// ---------------------------------------------------------------------------------------------
// Field parsers (exported for tests and notebooks)

// Zero-width characters and the BOM carry nothing but break equality and tokenisation.
const ZERO_WIDTH = /[\u200b-\u200d\u2060\ufeff]/g;
// Control characters other than \n (handled separately in multi-line text).
const CONTROL_EXCEPT_LF = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g;

/** One-line text: NFC, every whitespace or control run (incl. \r, \n, NBSP) → one space, trimmed. */
export function normaliseInlineText(text: string): string {
  return text
    .normalize('NFC')
    .replace(ZERO_WIDTH, '')
    .replace(/[\s\u0000-\u001f\u007f-\u009f]+/g, ' ')
    .trim();
}

/**
 * Multi-line text (descriptions): NFC; \r\n, bare \r and Unicode line separators become \n
 * (the scraped descriptions use bare \r between lines); other control characters become
 * spaces; spaces are collapsed and trimmed per line; runs of blank lines shrink to one.
 */
export function normaliseMultilineText(text: string): string {
  const lines = text
    .normalize('NFC')
    .replace(ZERO_WIDTH, '')
    .replace(/\r\n?|[\u2028\u2029\u0085]/g, '\n')
    .replace(CONTROL_EXCEPT_LF, ' ')
    .split('\n')
    .map((line) => line.replace(/\s+/g, ' ').trim());
  const kept: string[] = [];
  for (const line of lines) {
    if (line === '' && (kept.length === 0 || kept[kept.length - 1] === '')) continue;
    kept.push(line);
  }
  while (kept.length > 0 && kept[kept.length - 1] === '') kept.pop();
  return kept.join('\n');
}

/** True when the text has at least one letter in any script. */
export function hasLetters(text: string): boolean {
  return /\p{L}/u.test(text);
}

/**
 * Price text → GBP, or null when it is not a price. Accepts "£1,250.00", "1250", "£ 5",
 * "-£5.00"; commas must be thousands separators ("1,25" is rejected, not read as 125).
 */
export function parsePrice(text: string): number | null {
  let s = text.trim().replace(/\s+/g, '');
  let sign = 1;
  if (s.startsWith('-')) {
    sign = -1;
    s = s.slice(1);
  }
  if (s.startsWith('£')) s = s.slice(1);
  if (sign === 1 && s.startsWith('-')) {
    sign = -1;
    s = s.slice(1);
  }
  if (!/^(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$/.test(s)) return null;
  return sign * Number(s.replace(/,/g, ''));
}

/**
 * product_name → title without the "| in Town, County | Gumtree" suffix. Titles may contain
 * "|" themselves ("BED|BASE||SINGLE"), so the suffix is the LAST "| in … | Gumtree".
 */
export function stripTitleSuffix(productName: string): { title: string; suffixLocation: string | null } {
  const name = normaliseInlineText(productName);
  const match = /^(.*)\|\s*in\s+([^|]*?)\s*\|\s*Gumtree$/i.exec(name);
  if (!match) return { title: name, suffixLocation: null };
  return { title: match[1].trim(), suffixLocation: match[2].trim() };
}

/** "Town, County" → parts. A single name ("London") is the town; the county is then "". */
export function parseLocation(location: string): { town: string; county: string } {
  const text = normaliseInlineText(location);
  const comma = text.lastIndexOf(',');
  if (comma < 0) return { town: text, county: '' };
  return { town: text.slice(0, comma).trim(), county: text.slice(comma + 1).trim() };
}

/** "Main / Sub / Leaf" → main category and the path below it (parts trimmed, empty parts dropped). */
export function splitCategory(path: string): { category: string; mainCategory: string; subCategory: string } {
  const parts = normaliseInlineText(path)
    .split('/')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  return {
    category: parts.join(' / '),
    mainCategory: parts[0] ?? '',
    subCategory: parts.slice(1).join(' / '),
  };
}

// ---------------------------------------------------------------------------------------------
// Cleaning

function increment(counts: Record<string, number>, key: string, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by;
}

function median(sorted: number[]): number | null {
  if (sorted.length === 0) return null;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Clean a parsed Products.csv table (see the module comment for the rules). */
export function cleanProducts(table: CsvTable): ProductCleaning {
  const source = table.source;
  for (const column of PRODUCT_COLUMNS) {
    if (!table.header.includes(column)) {
      throw new Error(`${source}: required column "${column}" is missing (header: ${table.header.join(', ')})`);
    }
  }
  const knownMain = new Set(MAIN_CATEGORIES);
  const quarantinedRows: QuarantinedRow[] = malformedRows(table);
  const flags: Record<string, number> = {};
  const notes: Record<string, number> = {};
  const quarantine = (line: number, id: string, reason: QuarantineReason, field: string, detail: string) =>
    quarantinedRows.push({ source, line, id, reason, field, detail });

  // Rows by id, to tell exact duplicates (same id, same content) from conflicts (same id, other content).
  const contentOf = (values: Record<string, string>) => PRODUCT_COLUMNS.map((c) => values[c]).join('\u0001');
  const contentsById = new Map<string, Set<string>>();
  for (const { values } of table.records) {
    const id = values.id.trim();
    if (id === '') continue;
    const set = contentsById.get(id) ?? new Set<string>();
    set.add(contentOf(values));
    contentsById.set(id, set);
  }

  const candidates: Array<{ line: number; listing: Listing; content: string }> = [];
  const seenIds = new Set<string>();
  const priced: number[] = [];
  let unparseable = 0;
  let atOrBelowMin = 0;
  let aboveMax = 0;

  for (const { line, values } of table.records) {
    const id = values.id.trim();
    if (id === '') {
      quarantine(line, '', 'missing_id', 'id', 'id is empty');
      continue;
    }
    const category = splitCategory(values.category);
    if (category.mainCategory === '') {
      quarantine(line, id, 'missing_category', 'category', 'category is empty');
      continue;
    }
    if (!knownMain.has(category.mainCategory)) {
      quarantine(line, id, 'unknown_main_category', 'category', `"${category.mainCategory}" is not one of the 13 main categories`);
      continue;
    }
    const { title, suffixLocation } = stripTitleSuffix(values.product_name);
    const description = normaliseMultilineText(values.product_description);
    if (title === '' && description === '') {
      quarantine(line, id, 'text_empty', 'product_name+product_description', 'title and description are both empty');
      continue;
    }
    if (!hasLetters(title) && !hasLetters(description)) {
      quarantine(line, id, 'text_non_alphabetic', 'product_name+product_description', `no letters in title ${JSON.stringify(title)} or description`);
      continue;
    }
    if ((contentsById.get(id)?.size ?? 0) > 1) {
      quarantine(line, id, 'duplicate_id_conflict', 'id', 'this id is on other rows with different content; none can be trusted');
      continue;
    }
    if (seenIds.has(id)) {
      quarantine(line, id, 'duplicate_row', 'id', 'exact copy of an earlier row');
      continue;
    }
    seenIds.add(id);

    const listingFlags: ListingFlag[] = [];
    const price = parsePrice(values.price);
    if (price === null) {
      listingFlags.push('price_missing');
      unparseable++;
    } else {
      priced.push(price);
      if (price <= PRICE_MIN_EXCLUSIVE) atOrBelowMin++;
      if (price > PRICE_MAX_INCLUSIVE) aboveMax++;
      if (price <= PRICE_MIN_EXCLUSIVE || price > PRICE_MAX_INCLUSIVE) listingFlags.push('price_implausible');
    }
    if (title === '') listingFlags.push('title_empty');
    else if (!hasLetters(title)) listingFlags.push('title_non_alphabetic');

    if (suffixLocation === null) increment(notes, 'title_without_gumtree_suffix');
    if (/\r/.test(values.product_description)) increment(notes, 'description_with_carriage_returns');
    let location = parseLocation(values.location);
    if (location.town === '' && suffixLocation) {
      location = parseLocation(suffixLocation);
      increment(notes, 'location_taken_from_title_suffix');
    }
    if (location.town === '') increment(notes, 'location_missing');
    else if (location.county === '') increment(notes, 'location_without_county');

    candidates.push({
      line,
      content: PRODUCT_COLUMNS.filter((c) => c !== 'id').map((c) => values[c]).join('\u0001'),
      listing: {
        id,
        title,
        description,
        category: category.category,
        mainCategory: category.mainCategory,
        subCategory: category.subCategory,
        price,
        town: location.town,
        county: location.county,
        flags: listingFlags,
        family: id,
        imageIds: [],
      },
    });
  }

  // Same content under another id: a re-post, not a copy. It keeps its own photos; the
  // cross-post family puts both in one split.
  const contentCounts = new Map<string, number>();
  for (const c of candidates) contentCounts.set(c.content, (contentCounts.get(c.content) ?? 0) + 1);
  for (const count of contentCounts.values()) {
    if (count > 1) increment(notes, 'identical_content_under_other_id', count - 1);
  }

  const listings = candidates.map((c) => c.listing);
  // Text rules only here; notebook 00 joins families again once the photos are hashed.
  const crossPosts = assignFamilies(listings);
  for (const listing of listings) for (const flag of listing.flags) increment(flags, flag);

  const quarantinedByReason: Record<string, number> = {};
  for (const row of quarantinedRows) increment(quarantinedByReason, row.reason);
  const mainCounts: Record<string, number> = {};
  for (const listing of listings) increment(mainCounts, listing.mainCategory);
  const mainCategories: Record<string, number> = {};
  for (const [name, count] of Object.entries(mainCounts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) {
    mainCategories[name] = count;
  }

  priced.sort((a, b) => a - b);
  const report: TableCleaningReport = {
    source,
    rowsIn: table.records.length + table.quarantined.length,
    kept: listings.length,
    quarantined: quarantinedRows.length,
    quarantinedByReason,
    flags,
    notes,
    quarantinedRows,
    encoding: table.encoding,
  };
  assertTableBalanced(report);
  return {
    listings,
    report,
    prices: {
      minExclusive: PRICE_MIN_EXCLUSIVE,
      maxInclusive: PRICE_MAX_INCLUSIVE,
      parsed: priced.length,
      unparseable,
      atOrBelowMin,
      aboveMax,
      median: median(priced),
      max: priced.length ? priced[priced.length - 1] : null,
    },
    crossPosts,
    mainCategories,
  };
}

/** Read and clean Products.csv. */
export function cleanProductsFile(filePath: string): ProductCleaning {
  return cleanProducts(readCsvFile(filePath, { requiredColumns: PRODUCT_COLUMNS }));
}

// ---------------------------------------------------------------------------------------------
// The cleaning report (data/clean/cleaning_report.json)

export interface CleaningReport {
  createdAt: string;
  products: TableCleaningReport;
  prices: PriceSummary;
  mainCategories: Record<string, number>;
  crossPosts: CrossPostReport;
  images: TableCleaningReport;
}

/** Throw unless rows in = kept + quarantined and the reason counts add up to the quarantined rows. */
export function assertTableBalanced(report: TableCleaningReport): void {
  const byReason = Object.values(report.quarantinedByReason).reduce((a, b) => a + b, 0);
  if (report.rowsIn !== report.kept + report.quarantined || byReason !== report.quarantined) {
    throw new Error(
      `${report.source}: cleaning does not balance: in ${report.rowsIn} ≠ kept ${report.kept} + ` +
        `quarantined ${report.quarantined} (reasons add up to ${byReason})`,
    );
  }
}

/**
 * The whole report. Flag counts are taken again from the listings, because flags are added
 * after product cleaning (e.g. 'no_image_rows' when images are linked).
 */
export function buildCleaningReport(products: ProductCleaning, images: TableCleaningReport): CleaningReport {
  assertTableBalanced(products.report);
  assertTableBalanced(images);
  const flags: Record<string, number> = {};
  for (const listing of products.listings) for (const flag of listing.flags) increment(flags, flag);
  return {
    createdAt: new Date().toISOString(),
    products: { ...products.report, flags },
    prices: products.prices,
    mainCategories: products.mainCategories,
    crossPosts: products.crossPosts,
    images,
  };
}
