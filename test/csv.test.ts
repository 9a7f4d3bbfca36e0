import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { CsvError, decodeCsvBytes, parseCsv, parseCsvInput, parseCsvText, readCsvFile } from '../src/data/csv';

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
  assert.throws(() => parseCsvText('a,b\n1,2\n"3\n', 'bad.csv'), (err: unknown) => {
    assert.ok(err instanceof CsvError);
    assert.equal(err.file, 'bad.csv');
    assert.equal(err.line, 3);
    assert.match(err.message, /^bad\.csv, line 3: quoted field is never closed/);
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

// Broken records are quarantined with line, reason and raw text; the rest loads.
test('broken rows are quarantined, the rest is kept, rows in = kept + quarantined', () => {
  const text = [
    ',id,name,price',
    '0,a,"Sofa",£5.00', // fine
    '1,b,Chair, with arms,£3.00', // extra unquoted comma: 5 fields
    '2,c,"Lamp"x,£1', // text after a closing quote
    '3,d', // too few fields
    '4,e,"Desk,£9', // quote opened, never closed on its line: swallows what follows
    '5,f,"Bed",£7', // must still be read
    '6,g,"Two',
    'lines",£2', // a real multi-line quoted field stays one record
    '',
  ].join('\n');
  const table = parseCsv(text, 'p.csv');
  assert.deepEqual(table.records.map((r) => [r.line, r.values.id]), [[2, 'a'], [7, 'f'], [8, 'g']]);
  assert.equal(table.records[2].values.name, 'Two\nlines');
  assert.deepEqual(table.quarantined.map((q) => [q.line, q.reason]), [
    [3, 'wrong_field_count'], [4, 'text_after_closing_quote'], [5, 'wrong_field_count'], [6, 'text_after_closing_quote'],
  ]);
  assert.equal(table.quarantined[0].raw, '1,b,Chair, with arms,£3.00');
  assert.match(table.quarantined[3].detail, /after the closing quote .*\(from line 7\)/);
  // Every non-blank line is in exactly one kept or quarantined record.
  assert.equal(table.records.length + table.quarantined.length, 7);
});

test('a quote never closed before the end of the file quarantines one line and reads on', () => {
  const table = parseCsv('a,b\n1,"x\n2,y\n', 'q.csv');
  assert.deepEqual(table.records.map((r) => r.values.a), ['2']);
  assert.deepEqual(table.quarantined.map((q) => [q.line, q.reason, q.raw]), [[2, 'unbalanced_quote', '1,"x']]);
});

test('empty and header-only files are errors naming the file', () => {
  assert.throws(() => parseCsvInput(Buffer.alloc(0), 'Products.csv'), /^CsvError: Products\.csv, line 1: file is empty/);
  assert.throws(() => parseCsvInput(' \n\n', 'Products.csv'), /Products\.csv, line 1: file is empty/);
  assert.throws(() => parseCsvInput(Buffer.from(',id,name\n'), 'Images.csv'), /Images\.csv, line 1: the file has a header \(index, id, name\) but no rows/);
  assert.throws(() => parseCsv('"a,b\n1,2\n', 'h.csv'), /h\.csv, line 1: the header line cannot be read/);
});

test('encoding: UTF-8 as is, Windows-1252 decoded with a note, UTF-16 and undefined bytes refused', () => {
  const utf8 = decodeCsvBytes(Buffer.from('a,price\n1,£5\n', 'utf8'), 'p.csv');
  assert.deepEqual(utf8.encoding, { encoding: 'utf-8', note: null });
  // "£" is 0xA3 and "’" is 0x92 in Windows-1252 (an Excel export on Windows).
  const cp1252 = Buffer.from([...Buffer.from('a,price\nRichard'), 0x92, ...Buffer.from('s,'), 0xa3, ...Buffer.from('5\n')]);
  const table = parseCsvInput(cp1252, 'Products.csv');
  assert.equal(table.records[0].values.price, '£5');
  assert.equal(table.records[0].values.a, 'Richard’s');
  assert.equal(table.encoding.encoding, 'windows-1252');
  assert.match(String(table.encoding.note), /Products\.csv is not valid UTF-8 \(byte 0x92 on line 2\); read as Windows-1252/);
  assert.throws(() => decodeCsvBytes(Buffer.from('\ufeffa,b\n', 'utf16le').subarray(0), 'u.csv'), /u\.csv, line 1: the file is UTF-16LE/);
  assert.throws(() => decodeCsvBytes(Buffer.from('a,b\n', 'utf16le'), 'z.csv'), /byte 0x00 .* not CSV text/);
  // One stray NUL in a long text file is that row's problem (kept in the field), not the file's.
  const stray = decodeCsvBytes(Buffer.concat([Buffer.from('a,b\n' + 'x,y\n'.repeat(100)), Buffer.from([0]), Buffer.from(',z\n')]), 's.csv');
  assert.match(stray.text, /\u0000,z/);
  assert.throws(() => decodeCsvBytes(Buffer.from([0x61, 0x0a, 0x81, 0xa3]), 'x.csv'), /x\.csv, line 2: neither UTF-8 .* nor Windows-1252 .*0x81/);
});
