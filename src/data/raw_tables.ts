/**
 * "Read the raw listings tables": Products.csv and Images.csv as parsed records, from the CSV
 * files or, when DATABASE_URL is set, from the PostgreSQL database `npm run db:load` filled.
 * Both give the same records (line numbers included), so cleaning, its report and the split do
 * not depend on the source. This is also the ONE place the CSV files are parsed for cleaning and
 * for db:load.
 */
import * as path from 'path';
import { PATHS } from '../config';
import { connectDatabase, databaseUrlFromEnv, describeDatabaseUrl } from '../db/connection';
import { readTablesFromDatabase } from '../db/read';
import { CsvTable, readCsvFile } from './csv';
import { IMAGE_COLUMNS, IMAGES_SOURCE } from './images_table';
import { PRODUCT_COLUMNS, PRODUCTS_SOURCE } from './listings';

export type ListingSourceKind = 'csv' | 'database';

export interface RawListingTables {
  source: ListingSourceKind;
  /** Where the tables came from, in words (a database URL without its password). */
  origin: string;
  products: CsvTable;
  images: CsvTable;
}

/** A path relative to the repository when it is inside it (no machine-specific prefix in notebook outputs). */
function shownPath(file: string): string {
  const relative = path.relative(PATHS.root, file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}

/** Parse Products.csv and Images.csv in `dir` with the project's CSV reader. */
export function readRawTablesFromCsv(dir: string = PATHS.raw): RawListingTables {
  return {
    source: 'csv',
    origin: `${shownPath(path.join(dir, PRODUCTS_SOURCE))} and ${IMAGES_SOURCE}`,
    products: readCsvFile(path.join(dir, PRODUCTS_SOURCE), { requiredColumns: PRODUCT_COLUMNS }),
    images: readCsvFile(path.join(dir, IMAGES_SOURCE), { requiredColumns: IMAGE_COLUMNS }),
  };
}

/** Read the tables from the database at `url` (see src/db/read.ts). */
export async function readRawTablesFromDatabase(url: string): Promise<RawListingTables> {
  const origin = describeDatabaseUrl(url);
  const client = await connectDatabase(url);
  try {
    const { products, images } = await readTablesFromDatabase(client);
    return { source: 'database', origin: `${origin} (tables products, images, load_quarantine)`, products, images };
  } finally {
    await client.end();
  }
}

/** The source switch: the database when DATABASE_URL is set, else the CSV files in `dir`. */
export async function readRawListingTables(env: NodeJS.ProcessEnv = process.env, dir: string = PATHS.raw): Promise<RawListingTables> {
  const url = databaseUrlFromEnv(env);
  return url ? readRawTablesFromDatabase(url) : readRawTablesFromCsv(dir);
}
