import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { CsvError, parseCsv, parseCsvText, readCsvFile } from '../src/data/csv';

const FIXTURES = path.join(__dirname, 'fixtures');

test('a bare \\r is data, in quoted and in unquoted fields; rows end at \\n only', () => {
  const text = 'a,b\n1,"x\ry"\n2,p\rq\n';
  const records = parseCsvText(text, 't.csv');
  assert.deepEqual(
    records.map((r) => r.fields),
    [['a', 'b'], ['1', 'x\ry'], ['2', 'p\rq']],
  );
});

test('\\r\\n ends a row and is not part of the last field', () => {
  const records = parseCsvText('a,b\r\n1,"2"\r\n3,4\r\n', 't.csv');
  assert.deepEqual(
    records.map((r) => r.fields),
    [['a', 'b'], ['1', '2'], ['3', '4']],
  );
});

test('quoted fields keep commas, newlines and "" escapes; line numbers count \\n', () => {
  const records = parseCsvText('h1,h2\n"a, b","say ""hi""\nsecond line"\nlast,"x"', 't.csv');
  assert.deepEqual(records[1].fields, ['a, b', 'say "hi"\nsecond line']);
  assert.deepEqual(records[2].fields, ['last', 'x']);
  assert.deepEqual(
    records.map((r) => r.line),
    [1, 2, 4],
  );
});

test('empty fields, trailing commas, blank lines and a missing final newline', () => {
  const records = parseCsvText('a,b,c\n,,\n\n1,,3', 't.csv');
  assert.deepEqual(
    records.map((r) => r.fields),
    [['a', 'b', 'c'], ['', '', ''], ['1', '', '3']],
  );
});

test('non-ASCII text (curly quotes, emoji, £) survives untouched', () => {
  const records = parseCsvText('t\n"Richard’s “best” 👉 £5"\n', 't.csv');
  assert.equal(records[1].fields[0], 'Richard’s “best” 👉 £5');
});

test('the unnamed first header cell (a pandas index) becomes "index"', () => {
  const table = parseCsv(',id,name\n0,x,y\n', 'p.csv');
  assert.deepEqual(table.header, ['index', 'id', 'name']);
  assert.deepEqual(table.records[0], { line: 2, values: { index: '0', id: 'x', name: 'y' } });
});

test('errors name the file and the line', () => {
  assert.throws(() => parseCsv('a,b\n1,2\n3\n', 'bad.csv'), (err: unknown) => {
    assert.ok(err instanceof CsvError);
    assert.equal(err.file, 'bad.csv');
    assert.equal(err.line, 3);
    assert.match(err.message, /^bad\.csv, line 3: expected 2 fields/);
    return true;
  });
  assert.throws(() => parseCsvText('a\n"never closed\n\n', 'open.csv'), /open\.csv, line 2: quoted field is never closed/);
  assert.throws(() => parseCsvText('a,b\n"x"y,2\n', 'after.csv'), /after\.csv, line 2: unexpected "y" after the closing quote/);
  assert.throws(() => parseCsv('a,b\n', 'cols.csv', { requiredColumns: ['id'] }), /cols\.csv, line 1: required column "id" is missing/);
  assert.throws(() => parseCsv('a,a\n', 'dup.csv'), /dup\.csv, line 1: column "a" appears twice/);
});

test('the Products fixture parses to one record per listing despite bare \\r in descriptions', () => {
  const table = readCsvFile(path.join(FIXTURES, 'products_sample.csv'));
  assert.equal(table.source, 'products_sample.csv');
  assert.equal(table.records.length, 24);
  for (const record of table.records) assert.equal(Object.keys(record.values).length, 7);
  const steamer = table.records.find((r) => r.values.id.endsWith('000000000002'));
  assert.ok(steamer);
  assert.ok(steamer.values.product_description.includes('3 tier\rBrand new'));
  const sofa = table.records.find((r) => r.values.id.endsWith('000000000003'));
  assert.ok(sofa && sofa.values.product_description.includes('5 Seater\r'), 'bare \\r in an unquoted field is data');
  assert.equal(sofa.values.price, '£1,250.00');
});

test('the Images fixture (\\r\\n line endings) leaves no \\r in the last column', () => {
  const table = readCsvFile(path.join(FIXTURES, 'images_sample.csv'));
  assert.equal(table.records.length, 13);
  for (const record of table.records) assert.equal(record.values.create_time, '2022-02-26');
});
