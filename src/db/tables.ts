/**
 * The database's tables, described once: the DDL, the schema check, the loader and the reader
 * all work from these specs, so a column is named and typed in one place.
 *
 * The tables hold the listings AS PUBLISHED (cleaning is notebook 00's job): text columns keep
 * the CSV text exactly, typed columns hold values whose text form round-trips exactly (a
 * lower-case uuid, a canonical integer, an ISO date). Each row keeps the line of the CSV file it
 * came from, so notebook 00 reads back the same records, in the same order, with the same line
 * numbers in its cleaning report. A row the typed tables cannot hold (a broken id, a repeated
 * primary key, an image of a product that is not loaded, a NUL character) goes, verbatim, to
 * `load_quarantine` instead: counted, never dropped.
 */
import { PRODUCTS_SOURCE } from '../data/listings';
import { IMAGES_SOURCE } from '../data/images_table';

/** Environment variable with the connection URL; when set, notebook 00 reads from the database. */
export const DATABASE_URL_ENV = 'DATABASE_URL';

export type ColumnType = 'uuid' | 'integer' | 'date' | 'text' | 'numeric';

export interface ColumnSpec {
  /** Column name in the database. */
  name: string;
  type: ColumnType;
  /** The CSV column it holds (absent for derived columns, which are not read back). */
  csv?: string;
  notNull?: boolean;
  primaryKey?: boolean;
  unique?: boolean;
  /** Foreign key: "table(column)". */
  references?: string;
  /** Why the column is there, as a COMMENT in the database. */
  comment: string;
}

export interface TableSpec {
  name: string;
  /** The CSV file the rows come from (the `source` of their line numbers). */
  source: string;
  columns: ColumnSpec[];
}

/** The line of the source CSV where the row starts: the order, and the key of the round trip. */
const SOURCE_LINE: ColumnSpec = { name: 'source_line', type: 'integer', notNull: true, unique: true, comment: 'line of the CSV file where this row starts' };
const CSV_INDEX: ColumnSpec = { name: 'csv_index', type: 'integer', csv: 'index', comment: "the CSV's unnamed pandas index column" };

export const PRODUCTS_TABLE: TableSpec = {
  name: 'products',
  source: PRODUCTS_SOURCE,
  columns: [
    SOURCE_LINE,
    CSV_INDEX,
    { name: 'id', type: 'uuid', csv: 'id', primaryKey: true, comment: 'product id' },
    { name: 'product_name', type: 'text', csv: 'product_name', comment: 'title with the "| in Town, County | Gumtree" suffix, as published' },
    { name: 'category', type: 'text', csv: 'category', comment: '" / "-separated category path' },
    { name: 'product_description', type: 'text', csv: 'product_description', comment: 'description as published (bare \\r included)' },
    { name: 'price', type: 'text', csv: 'price', comment: 'price text as published, e.g. £1,250.00' },
    { name: 'price_gbp', type: 'numeric', comment: 'price parsed by parsePrice (src/data/listings.ts); NULL when the text is not a price' },
    { name: 'location', type: 'text', csv: 'location', comment: '"Town, County"' },
  ],
};

export const IMAGES_TABLE: TableSpec = {
  name: 'images',
  source: IMAGES_SOURCE,
  columns: [
    SOURCE_LINE,
    CSV_INDEX,
    { name: 'id', type: 'uuid', csv: 'id', primaryKey: true, comment: 'image id = file name in images/' },
    { name: 'product_id', type: 'uuid', csv: 'product_id', notNull: true, references: 'products(id)', comment: 'the product the photo shows' },
    { name: 'bucket_link', type: 'text', csv: 'bucket_link', comment: 'where the original lived (not reachable)' },
    { name: 'image_ref', type: 'text', csv: 'image_ref', comment: 'marketplace image reference' },
    { name: 'create_time', type: 'date', csv: 'create_time', comment: 'date the listing photo was scraped' },
  ],
};

export const LOAD_QUARANTINE_TABLE: TableSpec = {
  name: 'load_quarantine',
  source: '',
  columns: [
    { name: 'source', type: 'text', notNull: true, comment: 'Products.csv or Images.csv' },
    { name: 'source_line', type: 'integer', notNull: true, comment: 'line of that file where the row starts' },
    { name: 'reason', type: 'text', notNull: true, comment: 'why the typed tables cannot hold the row' },
    { name: 'field', type: 'text', notNull: true, comment: 'the column at fault' },
    { name: 'detail', type: 'text', notNull: true, comment: 'the fault in words' },
    // text, not jsonb: jsonb cannot hold \u0000, and a NUL is one of the reasons a row lands here.
    { name: 'fields_json', type: 'text', notNull: true, comment: "the row's CSV fields, verbatim, as a JSON object" },
  ],
};

/** Every table, parents before children (creation order; truncation and dropping go in reverse). */
export const TABLES: readonly TableSpec[] = [PRODUCTS_TABLE, IMAGES_TABLE, LOAD_QUARANTINE_TABLE];

const SQL_TYPES: Record<ColumnType, string> = { uuid: 'uuid', integer: 'integer', date: 'date', text: 'text', numeric: 'numeric' };

function createTableSql(table: TableSpec): string {
  const lines = table.columns.map((c) => {
    let sql = `  ${c.name} ${SQL_TYPES[c.type]}`;
    if (c.primaryKey) sql += ' PRIMARY KEY';
    else if (c.notNull) sql += ' NOT NULL';
    if (c.unique) sql += ' UNIQUE';
    if (c.references) sql += ` REFERENCES ${c.references}`;
    return sql;
  });
  if (table === LOAD_QUARANTINE_TABLE) lines.push('  PRIMARY KEY (source, source_line)');
  const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
  return [
    `CREATE TABLE IF NOT EXISTS ${table.name} (\n${lines.join(',\n')}\n);`,
    ...table.columns.map((c) => `COMMENT ON COLUMN ${table.name}.${c.name} IS ${quote(c.comment)};`),
  ].join('\n');
}

/** CREATE TABLE IF NOT EXISTS for every table, in dependency order. */
export function createTablesSql(): string {
  return TABLES.map(createTableSql).join('\n');
}

/** information_schema's data_type for each of our types. */
const INFORMATION_SCHEMA_TYPES: Record<ColumnType, string> = { uuid: 'uuid', integer: 'integer', date: 'date', text: 'text', numeric: 'numeric' };

export interface ExistingColumn {
  table: string;
  column: string;
  dataType: string;
}

/**
 * Differences between the tables found in the database and the specs, in words; [] when they
 * match. A table that does not exist yet is fine (it will be created).
 */
export function schemaDifferences(existing: readonly ExistingColumn[]): string[] {
  const problems: string[] = [];
  for (const table of TABLES) {
    const found = existing.filter((c) => c.table === table.name);
    if (found.length === 0) continue;
    for (const column of table.columns) {
      const f = found.find((c) => c.column === column.name);
      if (!f) problems.push(`table ${table.name} has no column ${column.name} (${SQL_TYPES[column.type]})`);
      else if (f.dataType !== INFORMATION_SCHEMA_TYPES[column.type]) {
        problems.push(`column ${table.name}.${column.name} is ${f.dataType}, expected ${SQL_TYPES[column.type]}`);
      }
    }
    for (const f of found) {
      if (!table.columns.some((c) => c.name === f.column)) problems.push(`table ${table.name} has an unexpected column ${f.column} (${f.dataType})`);
    }
  }
  return problems;
}
