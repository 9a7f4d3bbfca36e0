/**
 * The database source against a REAL PostgreSQL: a throwaway server (Debian's initdb + pg_ctl,
 * unix socket in a temporary directory) started here, stopped and removed at the end even when
 * a test fails. No mocks.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { writeCleaningReport, writeListings, writeSplit } from '../src/data/clean_store';
import { cleanImageTable, linkImagesToListings } from '../src/data/images_table';
import { buildCleaningReport, cleanProducts } from '../src/data/listings';
import { readRawListingTables, readRawTablesFromCsv, readRawTablesFromDatabase, RawListingTables } from '../src/data/raw_tables';
import { makeSplit } from '../src/data/split';
import { connectDatabase, DatabaseError, describeDatabaseUrl } from '../src/db/connection';
import { copyTextField, loadTables, planLoad } from '../src/db/load';
import { LocalPostgres, startLocalPostgres } from '../src/db/local_server';
import { schemaDifferences } from '../src/db/tables';

const FIXTURE_DIR = path.join(__dirname, 'fixtures', 'db');
const ROOT = path.join(__dirname, '..');
let server: LocalPostgres;
let databases = 0;

before(() => {
  server = startLocalPostgres();
  // A crash between before() and after() must not leave a server behind either.
  process.once('exit', () => server.stop());
});

after(() => {
  const dir = server.dir;
  server.stop();
  assert.equal(fs.existsSync(dir), false, 'the server directory is removed');
});

/** A fresh, empty database per test. */
function freshDatabase(): string {
  return server.createDatabase(`t${++databases}`);
}

async function loadFixture(url: string) {
  const raw = readRawTablesFromCsv(FIXTURE_DIR);
  const client = await connectDatabase(url);
  try {
    return await loadTables(client, planLoad(raw.products, raw.images));
  } finally {
    await client.end();
  }
}

/** What notebook 00 makes of the raw tables: the files it writes (minus the timestamp), as bytes. */
function cleanAndSplit(raw: RawListingTables, dir: string): Record<string, string> {
  const products = cleanProducts(raw.products);
  const images = cleanImageTable(raw.images, {
    kept: products.listings.map((l) => l.id),
    quarantined: products.report.quarantinedRows.map((r) => r.id),
  });
  linkImagesToListings(products.listings, images.images);
  const report = { ...buildCleaningReport(products, images.report), createdAt: 'fixed' };
  const files = [writeListings(products.listings, dir), writeSplit(makeSplit(products.listings, { seed: 42 }), dir), writeCleaningReport(report, dir)];
  return Object.fromEntries(files.map((f) => [path.basename(f), fs.readFileSync(f, 'utf8')]));
}

test('planLoad quarantines what the typed tables cannot hold, with line, field and reason', () => {
  const raw = readRawTablesFromCsv(FIXTURE_DIR);
  const plan = planLoad(raw.products, raw.images);
  const reasons = (q: typeof plan.products.quarantined) => q.map((r) => `${r.line}:${r.field}:${r.reason}`);
  assert.deepEqual(reasons(plan.products.quarantined), [
    '12:id:id_not_uuid', // empty id
    '14:id:duplicate_primary_key', // exact repeat of the first row
    '24:id:duplicate_primary_key', // same id, other content
    '26:id:id_not_uuid', // upper-case uuid: would come back lower-case
    '27:product_description:nul_character',
    '29:index:index_not_integer',
  ]);
  assert.equal(plan.products.rows.length + plan.products.quarantined.length, raw.products.records.length);
  assert.deepEqual(reasons(plan.images.quarantined), [
    '7:create_time:create_time_not_date',
    '8:product_id:foreign_key_not_loaded', // product not in Products.csv
    '10:id:duplicate_primary_key',
    '12:id:duplicate_primary_key',
    '15:id:id_not_uuid',
    '16:product_id:product_id_not_uuid',
    '18:product_id:foreign_key_not_loaded', // its product row was quarantined at load
  ]);
  assert.equal(plan.images.rows.length, 10);
  // Quarantined rows keep their fields verbatim (the NUL included).
  assert.match(plan.products.quarantined[4].values.product_description, /\u0000/);
});

test('copyTextField escapes what COPY text format needs escaped', () => {
  assert.equal(copyTextField(null), '\\N');
  assert.equal(copyTextField('a\\b\tc\r\nd'), 'a\\\\b\\tc\\r\\nd');
  assert.equal(copyTextField('\\N'), '\\\\N');
  assert.equal(copyTextField(''), '');
});

test('describeDatabaseUrl hides the password and rejects malformed URLs clearly', () => {
  assert.equal(describeDatabaseUrl('postgres://me:secret@db.example:5433/shop'), 'postgres://me@db.example:5433/shop');
  assert.equal(describeDatabaseUrl('postgres://postgres@/shop?host=%2Ftmp%2Fpg'), 'postgres://postgres@/shop (socket /tmp/pg)');
  assert.throws(() => describeDatabaseUrl('not a url'), (e: Error) => e instanceof DatabaseError && /is not a URL/.test(e.message));
  assert.throws(() => describeDatabaseUrl('mysql://me:secret@host/db'), /must start with postgres:\/\//);
  assert.throws(() => describeDatabaseUrl('postgres://me@host'), /names no database/);
  assert.throws(() => describeDatabaseUrl('postgres://me:secret@host:notaport/db'), (e: Error) => !e.message.includes('secret'));
});

test('schemaDifferences names missing, retyped and unexpected columns; no tables is fine', () => {
  assert.deepEqual(schemaDifferences([]), []);
  const problems = schemaDifferences([
    { table: 'products', column: 'id', dataType: 'text' },
    { table: 'products', column: 'title', dataType: 'text' },
  ]);
  assert.ok(problems.includes('column products.id is text, expected uuid'));
  assert.ok(problems.includes('table products has no column price (text)'));
  assert.ok(problems.includes('table products has an unexpected column title (text)'));
});

test('db:load on the fixture: counts add up, and a re-run replaces the data', async () => {
  const url = freshDatabase();
  const first = await loadFixture(url);
  assert.deepEqual(first.products, { rowsIn: 28, loaded: 22, quarantined: 6 });
  assert.deepEqual(first.images, { rowsIn: 17, loaded: 10, quarantined: 7 });
  const second = await loadFixture(url);
  assert.deepEqual({ ...second, seconds: 0 }, { ...first, seconds: 0 });
  const client = await connectDatabase(url);
  try {
    const counts = await client.query('SELECT (SELECT count(*) FROM products)::int AS p, (SELECT count(*) FROM images)::int AS i, (SELECT count(*) FROM load_quarantine)::int AS q');
    assert.deepEqual(counts.rows[0], { p: 22, i: 10, q: 13 });
    // Types, keys and the foreign key are the database's, not only the loader's.
    const price = await client.query(`SELECT price, price_gbp::text FROM products WHERE id = '00000000-0000-4000-8000-000000000003'`);
    assert.deepEqual(price.rows[0], { price: '£1,250.00', price_gbp: '1250' });
    await assert.rejects(client.query(`INSERT INTO images (source_line, id, product_id) VALUES (999, gen_random_uuid(), gen_random_uuid())`), /foreign key/);
    await assert.rejects(client.query(`INSERT INTO products (source_line, id) VALUES (999, '00000000-0000-4000-8000-000000000001')`), /duplicate key/);
  } finally {
    await client.end();
  }
});

test('a failed load rolls back: the previous data stays', async () => {
  const url = freshDatabase();
  await loadFixture(url);
  const raw = readRawTablesFromCsv(FIXTURE_DIR);
  const plan = planLoad(raw.products, raw.images);
  // Break the plan behind the planner's back: COPY fails on the last image row.
  plan.images.rows[plan.images.rows.length - 1][2] = 'not-a-uuid';
  const client = await connectDatabase(url);
  try {
    await assert.rejects(loadTables(client, plan), /uuid/);
    const n = await client.query('SELECT count(*)::int AS n FROM images');
    assert.equal(n.rows[0].n, 10);
  } finally {
    await client.end();
  }
});

test('the same data gives the same records, cleaning report, listings and split from CSV and from the database', async () => {
  const url = freshDatabase();
  await loadFixture(url);
  const fromCsv = readRawTablesFromCsv(FIXTURE_DIR);
  const fromDb = await readRawListingTables({ DATABASE_URL: url }, '/nonexistent');
  assert.equal(fromCsv.source, 'csv');
  assert.equal(fromDb.source, 'database');
  assert.deepEqual(fromDb.products.records, fromCsv.products.records);
  assert.deepEqual(fromDb.images.records, fromCsv.images.records);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'db-equality-'));
  try {
    const csvFiles = cleanAndSplit(fromCsv, path.join(tmp, 'csv'));
    const dbFiles = cleanAndSplit(fromDb, path.join(tmp, 'db'));
    assert.deepEqual(Object.keys(dbFiles).sort(), ['cleaning_report.json', 'listings.json', 'splits.json']);
    for (const name of Object.keys(csvFiles)) assert.equal(dbFiles[name], csvFiles[name], `${name} differs between the sources`);
    // The fixture exercises cleaning: some rows kept, some quarantined, a non-trivial split.
    const report = JSON.parse(csvFiles['cleaning_report.json']);
    assert.ok(report.products.quarantined > 0 && report.products.kept > 10 && report.images.quarantined > 0);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('clear errors: unreachable server, missing database, missing tables, another schema', async () => {
  const nowhere = fs.mkdtempSync(path.join(os.tmpdir(), 'no-pg-'));
  try {
    await assert.rejects(connectDatabase(`postgres://postgres@/x?host=${encodeURIComponent(nowhere)}`), /cannot connect .*nothing is listening/);
  } finally {
    fs.rmSync(nowhere, { recursive: true, force: true });
  }
  await assert.rejects(connectDatabase(server.url('no_such_db')), /database does not exist/);
  const empty = freshDatabase();
  await assert.rejects(readRawTablesFromDatabase(empty), /no table products, images, load_quarantine: load it first/);
  const other = freshDatabase();
  const client = await connectDatabase(other);
  try {
    await client.query('CREATE TABLE products (id text PRIMARY KEY, title text)');
    const raw = readRawTablesFromCsv(FIXTURE_DIR);
    await assert.rejects(loadTables(client, planLoad(raw.products, raw.images)), (e: Error) =>
      e instanceof DatabaseError && /another schema/.test(e.message) && /products\.id is text, expected uuid/.test(e.message));
  } finally {
    await client.end();
  }
  await assert.rejects(readRawTablesFromDatabase(other), /another schema/);
});

test('npm run db:load (the script) reports counts and quarantined lines, and fails clearly without DATABASE_URL', () => {
  const url = freshDatabase();
  const tsx = path.join(ROOT, 'node_modules', '.bin', 'tsx');
  const env = { ...process.env, MARKETPLACE_DATA: FIXTURE_DIR, DATABASE_URL: url };
  const out = execFileSync(tsx, [path.join(ROOT, 'scripts', 'db_load.ts')], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.match(out, /products: 28 rows in = 22 loaded \+ 6 quarantined/);
  assert.match(out, /images: 17 rows in = 10 loaded \+ 7 quarantined/);
  assert.match(out, /Products\.csv, line 27, field product_description: nul_character/);
  const { DATABASE_URL: _unset, ...noUrl } = env;
  assert.throws(
    () => execFileSync(tsx, [path.join(ROOT, 'scripts', 'db_load.ts')], { env: noUrl, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
    (e: { stderr: string }) => /DATABASE_URL is not set/.test(e.stderr),
  );
});
