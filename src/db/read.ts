/**
 * The database → the same records the CSV parser gives: every loaded row and every row of
 * `load_quarantine`, merged in the order of their CSV lines, as text keyed by the CSV's column
 * names. Notebook 00's cleaning then runs unchanged on them, so the same data gives the same
 * cleaning report and the same split from either source.
 */
import type { Client } from 'pg';
import type { CsvRecord, CsvTable } from '../data/csv';
import { checkSchema } from './load';
import { DatabaseError } from './connection';
import { IMAGES_TABLE, LOAD_QUARANTINE_TABLE, PRODUCTS_TABLE, TableSpec } from './tables';

async function readTable(client: Client, table: TableSpec): Promise<CsvTable> {
  const csvColumns = table.columns.filter((c) => c.csv);
  // Everything as text: a uuid, an integer or a date comes back exactly as the CSV had it.
  const select = csvColumns.map((c) => `${c.name}::text AS "${c.csv}"`).join(', ');
  const loaded = await client.query<Record<string, string | null> & { source_line: number }>(
    `SELECT source_line, ${select} FROM ${table.name} ORDER BY source_line`,
  );
  const quarantined = await client.query<{ source_line: number; fields_json: string }>(
    `SELECT source_line, fields_json FROM ${LOAD_QUARANTINE_TABLE.name} WHERE source = $1 ORDER BY source_line`,
    [table.source],
  );
  const records: CsvRecord[] = loaded.rows.map((row) => {
    const values: Record<string, string> = {};
    for (const c of csvColumns) values[c.csv!] = row[c.csv!] ?? '';
    return { line: row.source_line, values };
  });
  for (const row of quarantined.rows) {
    try {
      records.push({ line: row.source_line, values: JSON.parse(row.fields_json) as Record<string, string> });
    } catch (err) {
      throw new DatabaseError(`${LOAD_QUARANTINE_TABLE.name}: ${table.source} line ${row.source_line}: fields_json is not JSON (${(err as Error).message}): re-run npm run db:load`);
    }
  }
  records.sort((a, b) => a.line - b.line);
  for (let i = 1; i < records.length; i++) {
    if (records[i].line === records[i - 1].line) {
      throw new DatabaseError(`${table.source} line ${records[i].line} is both in ${table.name} and in ${LOAD_QUARANTINE_TABLE.name}: re-run npm run db:load`);
    }
  }
  return { source: table.source, header: csvColumns.map((c) => c.csv!), records };
}

/** Products and images as CSV-shaped tables; a clear error when the tables are missing or differ. */
export async function readTablesFromDatabase(client: Client): Promise<{ products: CsvTable; images: CsvTable }> {
  await checkSchema(client);
  const present = await client.query<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ANY($1)`,
    [[PRODUCTS_TABLE.name, IMAGES_TABLE.name, LOAD_QUARANTINE_TABLE.name]],
  );
  const missing = [PRODUCTS_TABLE, IMAGES_TABLE, LOAD_QUARANTINE_TABLE].filter((t) => !present.rows.some((r) => r.name === t.name));
  if (missing.length > 0) {
    throw new DatabaseError(`the database has no table ${missing.map((t) => t.name).join(', ')}: load it first (DATABASE_URL=… npm run db:load)`);
  }
  return { products: await readTable(client, PRODUCTS_TABLE), images: await readTable(client, IMAGES_TABLE) };
}
