/**
 * npm run db:load — load Products.csv and Images.csv (data/raw, or MARKETPLACE_DATA) into the
 * PostgreSQL database at DATABASE_URL: tables products, images and load_quarantine, replaced in
 * one transaction. Rows the typed tables cannot hold are quarantined, counted and listed.
 */
import { PATHS } from '../src/config';
import { connectDatabase, databaseUrlFromEnv, DatabaseError, describeDatabaseUrl } from '../src/db/connection';
import { loadTables, planLoad } from '../src/db/load';
import { DATABASE_URL_ENV } from '../src/db/tables';
import { readRawTablesFromCsv } from '../src/data/raw_tables';

/** Quarantined rows listed one per line, up to this many (all are in the table load_quarantine). */
const SHOW_QUARANTINED = 20;

async function main(): Promise<void> {
  const url = databaseUrlFromEnv();
  if (!url) throw new DatabaseError(`${DATABASE_URL_ENV} is not set: e.g. ${DATABASE_URL_ENV}=postgres://postgres@/marketplace?host=/tmp/pg npm run db:load (README: "A local PostgreSQL")`);
  const target = describeDatabaseUrl(url);
  console.log(`[db:load] reading ${PATHS.raw}`);
  const raw = readRawTablesFromCsv(PATHS.raw);
  const plan = planLoad(raw.products, raw.images);
  console.log(`[db:load] loading into ${target}`);
  const client = await connectDatabase(url);
  try {
    const result = await loadTables(client, plan);
    for (const [name, r] of [['products', result.products], ['images', result.images]] as const) {
      console.log(`[db:load] ${name}: ${r.rowsIn} rows in = ${r.loaded} loaded + ${r.quarantined} quarantined`);
    }
    for (const [reason, n] of Object.entries(result.quarantinedByReason)) console.log(`[db:load]   quarantined ${reason}: ${n}`);
    const quarantined = [...plan.products.quarantined, ...plan.images.quarantined];
    for (const q of quarantined.slice(0, SHOW_QUARANTINED)) console.log(`[db:load]   ${q.source}, line ${q.line}, field ${q.field}: ${q.reason} (${q.detail})`);
    if (quarantined.length > SHOW_QUARANTINED) console.log(`[db:load]   … ${quarantined.length - SHOW_QUARANTINED} more in table load_quarantine`);
    console.log(`[db:load] done in ${result.seconds.toFixed(1)} s (one transaction; a re-run replaces the data)`);
  } finally {
    await client.end();
  }
}

main().catch((err: Error) => {
  console.error(`[db:load] ERROR: ${err.name === 'DatabaseError' || err.name === 'CsvError' ? err.message : err.stack ?? err.message}`);
  process.exit(1);
});
