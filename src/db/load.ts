/**
 * Parsed CSV tables → the database (`npm run db:load`).
 *
 * 1. `planLoad` decides, row by row, what the typed tables can hold (pure, unit-tested): a row
 *    with a non-uuid id, a repeated primary key, an image whose product is not loaded (the foreign
 *    key), a field PostgreSQL cannot store (NUL) or a value whose text would not come back
 *    unchanged is quarantined with its line, field and reason, and its fields are kept verbatim
 *    in `load_quarantine`. Whether a row is a good LISTING is not decided here: notebook 00's
 *    cleaning decides that, on the same records, whichever source it reads.
 * 2. `loadTables` replaces the data in ONE transaction (create tables if missing, check their
 *    schema, truncate, COPY … FROM STDIN streamed with progress, count): a re-run gives the same
 *    database, and a failure leaves the previous data untouched.
 */
import { Readable } from 'stream';
import { pipeline } from 'stream/promises';
import type { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { CsvTable } from '../data/csv';
import { parsePrice } from '../data/listings';
import { withProgress } from '../progress';
import { DatabaseError } from './connection';
import { ColumnSpec, createTablesSql, ExistingColumn, IMAGES_TABLE, LOAD_QUARANTINE_TABLE, PRODUCTS_TABLE, schemaDifferences, TableSpec, TABLES } from './tables';

/** A row the typed tables cannot hold. */
export interface LoadQuarantineRow {
  source: string;
  line: number;
  reason: string;
  field: string;
  detail: string;
  /** The row's CSV fields, verbatim. */
  values: Record<string, string>;
}

export interface TablePlan {
  table: TableSpec;
  /** One value per column of `table`, in column order (null = SQL NULL). */
  rows: Array<Array<string | null>>;
  quarantined: LoadQuarantineRow[];
  rowsIn: number;
}

export interface LoadPlan {
  products: TablePlan;
  images: TablePlan;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const INTEGER = /^(0|-?[1-9]\d{0,9})$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Why `text` cannot be stored in a column of this type so that it reads back identically; null when it can. */
function typeProblem(column: ColumnSpec, text: string): string | null {
  switch (column.type) {
    case 'uuid':
      return UUID.test(text) ? null : `${JSON.stringify(text.slice(0, 60))} is not a lower-case uuid`;
    case 'integer':
      if (text === '' && !column.notNull) return null;
      return INTEGER.test(text) && Math.abs(Number(text)) <= 2147483647 ? null : `${JSON.stringify(text.slice(0, 60))} is not an integer`;
    case 'date': {
      if (text === '' && !column.notNull) return null;
      const m = ISO_DATE.exec(text);
      const valid = m && new Date(`${text}T00:00:00Z`).toISOString().slice(0, 10) === text;
      return valid ? null : `${JSON.stringify(text.slice(0, 60))} is not a date (YYYY-MM-DD)`;
    }
    default:
      return null;
  }
}

/**
 * Decide which records of `csv` go into `table` and which are quarantined.
 * `parentIds`: ids loaded into the table a foreign key points at (products, for images).
 */
function planTable(table: TableSpec, csv: CsvTable, parentIds?: ReadonlySet<string>): TablePlan {
  const rows: TablePlan['rows'] = [];
  const quarantined: LoadQuarantineRow[] = [];
  const keys = new Set<string>();
  const key = table.columns.find((c) => c.primaryKey)!;
  for (const { line, values } of csv.records) {
    const quarantine = (reason: string, field: string, detail: string) =>
      quarantined.push({ source: csv.source, line, reason, field, detail, values });
    const nul = Object.keys(values).find((name) => values[name].includes('\u0000'));
    if (nul !== undefined) {
      quarantine('nul_character', nul, 'PostgreSQL text cannot hold a NUL character');
      continue;
    }
    let problem: [string, string, string] | null = null;
    for (const column of table.columns) {
      if (!column.csv) continue;
      const text = values[column.csv] ?? '';
      const typeIssue = typeProblem(column, text);
      if (typeIssue) {
        problem = [`${column.csv}_not_${column.type}`, column.csv, typeIssue];
        break;
      }
      if (column.references && parentIds && !parentIds.has(text)) {
        problem = ['foreign_key_not_loaded', column.csv, `${column.references.replace(/\(.*/, '')} ${text} is not in the loaded table`];
        break;
      }
    }
    if (!problem && keys.has(values[key.csv!])) {
      problem = ['duplicate_primary_key', key.csv!, `${key.csv} ${values[key.csv!]} is already loaded from an earlier line`];
    }
    if (problem) {
      quarantine(...problem);
      continue;
    }
    keys.add(values[key.csv!]);
    rows.push(
      table.columns.map((column) => {
        if (column.name === 'source_line') return String(line);
        if (column.name === 'price_gbp') {
          const price = parsePrice(values.price ?? '');
          return price === null ? null : String(price);
        }
        const text = values[column.csv!];
        if (text === undefined) return null; // the CSV has no such column
        return text === '' && column.type !== 'text' ? null : text;
      }),
    );
  }
  return { table, rows, quarantined, rowsIn: csv.records.length };
}

/** What to load from parsed Products.csv and Images.csv. */
export function planLoad(products: CsvTable, images: CsvTable): LoadPlan {
  const productPlan = planTable(PRODUCTS_TABLE, products);
  const loadedIds = new Set(productPlan.rows.map((row) => row[PRODUCTS_TABLE.columns.findIndex((c) => c.name === 'id')] as string));
  return { products: productPlan, images: planTable(IMAGES_TABLE, images, loadedIds) };
}

/** One field in COPY's text format: NULL is \N; backslash, newline, carriage return and tab are escaped. */
export function copyTextField(value: string | null): string {
  if (value === null) return '\\N';
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
}

/** Stream rows into `table` with COPY … FROM STDIN, with progress (rate, ETA). */
async function copyRows(client: Client, table: TableSpec, rows: ReadonlyArray<ReadonlyArray<string | null>>): Promise<void> {
  if (rows.length === 0) return;
  const columns = table.columns.map((c) => c.name).join(', ');
  const sink = client.query(copyFrom(`COPY ${table.name} (${columns}) FROM STDIN`));
  function* lines() {
    for (const row of withProgress(rows, { label: `COPY ${table.name}` })) yield row.map(copyTextField).join('\t') + '\n';
  }
  await pipeline(Readable.from(lines()), sink);
}

export interface LoadResult {
  products: { rowsIn: number; loaded: number; quarantined: number };
  images: { rowsIn: number; loaded: number; quarantined: number };
  quarantinedByReason: Record<string, number>;
  seconds: number;
}

/** Column names and types of our tables as they exist in the current schema. */
async function existingColumns(client: Client): Promise<ExistingColumn[]> {
  const result = await client.query<{ table: string; column: string; data_type: string }>(
    `SELECT table_name AS table, column_name AS column, data_type FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = ANY($1) ORDER BY table_name, ordinal_position`,
    [TABLES.map((t) => t.name)],
  );
  return result.rows.map((r) => ({ table: r.table, column: r.column, dataType: r.data_type }));
}

/** Throw a DatabaseError when tables of ours exist with another schema. */
export async function checkSchema(client: Client): Promise<void> {
  const problems = schemaDifferences(await existingColumns(client));
  if (problems.length > 0) {
    throw new DatabaseError(
      `the database already has tables ${TABLES.map((t) => t.name).join(', ')} with another schema:\n  - ${problems.join('\n  - ')}\n` +
        `Drop them (DROP TABLE ${[...TABLES].reverse().map((t) => t.name).join(', ')};) or point DATABASE_URL at another database.`,
    );
  }
}

/** Replace the database's data with `plan`, in one transaction. */
export async function loadTables(client: Client, plan: LoadPlan): Promise<LoadResult> {
  const started = performance.now();
  const quarantined = [...plan.products.quarantined, ...plan.images.quarantined];
  await client.query('BEGIN');
  try {
    await checkSchema(client);
    await client.query(createTablesSql());
    await client.query(`TRUNCATE ${[...TABLES].reverse().map((t) => t.name).join(', ')}`);
    await copyRows(client, PRODUCTS_TABLE, plan.products.rows);
    await copyRows(client, IMAGES_TABLE, plan.images.rows);
    await copyRows(
      client,
      LOAD_QUARANTINE_TABLE,
      quarantined.map((q) => [q.source, String(q.line), q.reason, q.field, q.detail, JSON.stringify(q.values)]),
    );
    // Count what is there now, inside the transaction: the numbers reported are the database's.
    const count = async (table: TableSpec) => Number((await client.query(`SELECT count(*) AS n FROM ${table.name}`)).rows[0].n);
    const counts = { products: await count(PRODUCTS_TABLE), images: await count(IMAGES_TABLE), quarantine: await count(LOAD_QUARANTINE_TABLE) };
    if (counts.products !== plan.products.rows.length || counts.images !== plan.images.rows.length || counts.quarantine !== quarantined.length) {
      throw new DatabaseError(`row counts after COPY do not match the plan: ${JSON.stringify(counts)}`);
    }
    await client.query('COMMIT');
    const quarantinedByReason: Record<string, number> = {};
    for (const q of quarantined) quarantinedByReason[`${q.source}: ${q.reason}`] = (quarantinedByReason[`${q.source}: ${q.reason}`] ?? 0) + 1;
    return {
      products: { rowsIn: plan.products.rowsIn, loaded: counts.products, quarantined: plan.products.quarantined.length },
      images: { rowsIn: plan.images.rowsIn, loaded: counts.images, quarantined: plan.images.quarantined.length },
      quarantinedByReason,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
