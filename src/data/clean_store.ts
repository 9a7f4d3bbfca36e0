/**
 * data/clean: the cleaned tables and the split that notebook 00 writes and every later
 * notebook reads. Reads check the shape and say which notebook makes a missing file.
 */
import * as fs from 'fs';
import * as path from 'path';
import { PATHS } from '../config';
import { CleaningReport } from './listings';
import { ImageRow, Listing, SPLIT_NAMES, SplitFile } from './types';

export const CLEAN_FILES = {
  listings: 'listings.json',
  images: 'images.json',
  splits: 'splits.json',
  report: 'cleaning_report.json',
} as const;

export type CleanFileKind = keyof typeof CLEAN_FILES;

/** Path of one clean file; `dir` defaults to data/clean (tests pass a temporary folder). */
export function cleanFilePath(kind: CleanFileKind, dir: string = PATHS.clean): string {
  return path.join(dir, CLEAN_FILES[kind]);
}

/** The path as a person reads it in a message: relative to the repository when inside it. */
function shown(filePath: string): string {
  const relative = path.relative(PATHS.root, filePath);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : filePath;
}

/** Write JSON through a temporary file and a rename, so an interrupted run never leaves half a file. */
function writeJson(filePath: string, value: unknown, pretty: boolean): void {
  fs.mkdirSync(path.dirname(filePath), { recursive: true });
  const temporary = `${filePath}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, JSON.stringify(value, null, pretty ? 2 : undefined) + '\n');
  fs.renameSync(temporary, filePath);
}

function readJson(filePath: string): unknown {
  if (!fs.existsSync(filePath)) {
    throw new Error(`${shown(filePath)} missing: run notebook 00 (npm run pipeline -- 00)`);
  }
  const text = fs.readFileSync(filePath, 'utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${shown(filePath)} is not valid JSON (${(err as Error).message}): re-run notebook 00 (npm run pipeline -- 00)`);
  }
}

function fail(filePath: string, where: string, problem: string): never {
  throw new Error(`${shown(filePath)}: ${where}: ${problem}; re-run notebook 00 (npm run pipeline -- 00)`);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/** True when every file notebook 00 writes is present in `dir`. */
export function cleanDataExists(dir: string = PATHS.clean): boolean {
  return (Object.keys(CLEAN_FILES) as CleanFileKind[]).every((kind) => fs.existsSync(cleanFilePath(kind, dir)));
}

// Listings --------------------------------------------------------------------------------------

export function writeListings(listings: readonly Listing[], dir: string = PATHS.clean): string {
  const file = cleanFilePath('listings', dir);
  writeJson(file, listings, false);
  return file;
}

export function readListings(dir: string = PATHS.clean): Listing[] {
  const file = cleanFilePath('listings', dir);
  const data = readJson(file);
  if (!Array.isArray(data)) fail(file, 'top level', 'expected an array of listings');
  data.forEach((item: unknown, i: number) => {
    const l = item as Partial<Listing> | null;
    if (!l || typeof l !== 'object') fail(file, `listing ${i}`, 'not an object');
    for (const field of ['id', 'title', 'description', 'category', 'mainCategory', 'subCategory', 'town', 'county', 'family'] as const) {
      if (typeof l[field] !== 'string') fail(file, `listing ${i} (${String(l.id)})`, `field "${field}" is not a string`);
    }
    if (l.price !== null && typeof l.price !== 'number') fail(file, `listing ${i} (${l.id})`, 'field "price" is neither a number nor null');
    if (!isStringArray(l.flags)) fail(file, `listing ${i} (${l.id})`, 'field "flags" is not a list of strings');
    if (!isStringArray(l.imageIds)) fail(file, `listing ${i} (${l.id})`, 'field "imageIds" is not a list of strings');
  });
  return data as Listing[];
}

// Image rows ------------------------------------------------------------------------------------

export function writeImageRows(images: readonly ImageRow[], dir: string = PATHS.clean): string {
  const file = cleanFilePath('images', dir);
  writeJson(file, images, false);
  return file;
}

export function readImageRows(dir: string = PATHS.clean): ImageRow[] {
  const file = cleanFilePath('images', dir);
  const data = readJson(file);
  if (!Array.isArray(data)) fail(file, 'top level', 'expected an array of image rows');
  data.forEach((item: unknown, i: number) => {
    const row = item as Partial<ImageRow> | null;
    if (!row || typeof row.id !== 'string' || typeof row.productId !== 'string') {
      fail(file, `image row ${i}`, 'expected {"id": string, "productId": string}');
    }
  });
  return data as ImageRow[];
}

// Split -----------------------------------------------------------------------------------------

export function writeSplit(split: SplitFile, dir: string = PATHS.clean): string {
  const file = cleanFilePath('splits', dir);
  writeJson(file, split, true);
  return file;
}

export function readSplit(dir: string = PATHS.clean): SplitFile {
  const file = cleanFilePath('splits', dir);
  const data = readJson(file) as Partial<SplitFile> | null;
  if (!data || typeof data !== 'object') fail(file, 'top level', 'expected an object');
  if (typeof data.seed !== 'number') fail(file, 'field "seed"', 'not a number');
  if (!data.ratios || SPLIT_NAMES.some((n) => typeof data.ratios?.[n] !== 'number')) {
    fail(file, 'field "ratios"', `expected a number for each of ${SPLIT_NAMES.join(', ')}`);
  }
  if (!data.products || SPLIT_NAMES.some((n) => !isStringArray(data.products?.[n]))) {
    fail(file, 'field "products"', `expected a list of product ids for each of ${SPLIT_NAMES.join(', ')}`);
  }
  return data as SplitFile;
}

// Cleaning report -------------------------------------------------------------------------------

export function writeCleaningReport(report: CleaningReport, dir: string = PATHS.clean): string {
  for (const table of [report.products, report.images]) {
    if (table.rowsIn !== table.kept + table.quarantined) {
      throw new Error(`cleaning report for ${table.source} does not balance: in ${table.rowsIn} ≠ kept ${table.kept} + quarantined ${table.quarantined}`);
    }
  }
  const file = cleanFilePath('report', dir);
  writeJson(file, report, true);
  return file;
}

export function readCleaningReport(dir: string = PATHS.clean): CleaningReport {
  const file = cleanFilePath('report', dir);
  const data = readJson(file) as Partial<CleaningReport> | null;
  if (!data || typeof data !== 'object' || !data.products || !data.images || !data.crossPosts) {
    fail(file, 'top level', 'expected an object with "products", "images" and "crossPosts"');
  }
  return data as CleaningReport;
}
