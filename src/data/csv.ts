/**
 * A small RFC-4180 CSV reader for the marketplace files: checks the encoding, and sets broken
 * records aside (quarantine, with line and reason) instead of stopping at the first one.
 *
 * Why not a generic reader: Products.csv descriptions contain bare carriage returns (`\r`),
 * some inside quoted fields and some in UNQUOTED fields. Readers that treat `\r` as a row end
 * (Python's csv, many JS parsers) split about 4,000 rows apart. Here a record ends only at a
 * `\n` outside quotes; a `\r` directly before that `\n` belongs to the line ending
 * (Images.csv uses `\r\n`), every other `\r` is data.
 */
import * as fs from 'fs';

export class CsvError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(`${file}, line ${line}: ${message}`);
    this.name = 'CsvError';
  }
}

/** One parsed record with the 1-based line of the file where it starts (lines counted at `\n`). */
export interface CsvRawRecord {
  line: number;
  fields: string[];
}

/** A record as an object keyed by header name. */
export interface CsvRecord {
  line: number;
  values: Record<string, string>;
}

/** Why a record could not be split into the header's fields. */
export type CsvRowProblem = 'unbalanced_quote' | 'text_after_closing_quote' | 'wrong_field_count';

/** A record set aside whole: where it starts, why, and its text (the physical line). */
export interface CsvQuarantinedRecord {
  line: number;
  reason: CsvRowProblem;
  detail: string;
  raw: string;
}

/** How the bytes were read: UTF-8, or Windows-1252 with a note saying why. */
export interface TextEncodingNote {
  encoding: 'utf-8' | 'windows-1252';
  note: string | null;
}

export interface CsvTable {
  /** File name used in error messages (e.g. "Products.csv"). */
  source: string;
  header: string[];
  /** Records with as many fields as the header. */
  records: CsvRecord[];
  /** Records that could not be read (rows in = records + quarantined). */
  quarantined: CsvQuarantinedRecord[];
  encoding: TextEncodingNote;
}

export interface CsvReadOptions {
  /** Columns that must be present in the header; a missing one is an error naming the file. */
  requiredColumns?: string[];
  /**
   * Name given to an empty header cell. pandas writes its index as an unnamed first column
   * (the header line starts with ","), which would otherwise be the key "".
   */
  unnamedColumnName?: string;
}

const QUOTE = 34; // "
const COMMA = 44; // ,
const LF = 10; // \n
const CR = 13; // \r

// A string discriminant: tslab compiles without strictNullChecks, where `ok: true | false` does not narrow.
type RecordRead =
  | { kind: 'record'; fields: string[]; next: number; nextLine: number }
  | { kind: 'problem'; reason: CsvRowProblem; detail: string; problemLine: number };

/**
 * Reads the record starting at `pos` (on line `line`).
 * Rules: fields separated by `,`; a field that starts with `"` is quoted, may contain `,`,
 * `\n`, `\r`, and `""` for a quote; a `"` inside an unquoted field is kept as data (as pandas
 * does); anything but `,` or a line end after a closing quote is a problem.
 */
function readRecord(text: string, pos: number, line: number): RecordRead {
  const length = text.length;
  const fields: string[] = [];
  for (;;) {
    if (text.charCodeAt(pos) === QUOTE) {
      // Quoted field: read up to the closing quote, turning "" into ".
      const quoteLine = line;
      let value = '';
      let chunkStart = pos + 1;
      pos++;
      for (;;) {
        if (pos >= length) {
          return { kind: 'problem', reason: 'unbalanced_quote', detail: 'quoted field is never closed (unbalanced ")', problemLine: quoteLine };
        }
        const code = text.charCodeAt(pos);
        if (code === QUOTE) {
          if (text.charCodeAt(pos + 1) === QUOTE) {
            value += text.slice(chunkStart, pos + 1);
            pos += 2;
            chunkStart = pos;
            continue;
          }
          value += text.slice(chunkStart, pos);
          pos++;
          break;
        }
        if (code === LF) line++;
        pos++;
      }
      fields.push(value);
      // After a closing quote only a separator or a line end may follow.
      const after = pos < length ? text.charCodeAt(pos) : LF;
      if (after === COMMA) {
        pos++;
        if (pos >= length) {
          fields.push('');
          return { kind: 'record', fields, next: pos, nextLine: line };
        }
      } else if (after === LF) {
        return { kind: 'record', fields, next: pos + 1, nextLine: line + 1 };
      } else if (after === CR && (pos + 1 >= length || text.charCodeAt(pos + 1) === LF)) {
        return { kind: 'record', fields, next: pos + 2, nextLine: line + 1 };
      } else {
        return {
          kind: 'problem', reason: 'text_after_closing_quote', problemLine: line,
          detail: `unexpected ${JSON.stringify(text[pos])} after the closing quote of field ${fields.length}`,
        };
      }
    } else {
      // Unquoted field: runs to the next comma or \n; a bare \r is data.
      const start = pos;
      while (pos < length) {
        const code = text.charCodeAt(pos);
        if (code === COMMA || code === LF) break;
        pos++;
      }
      let end = pos;
      const atLineEnd = pos >= length || text.charCodeAt(pos) === LF;
      // "\r\n" ends the line: that \r is part of the line ending, not of the field.
      if (atLineEnd && end > start && text.charCodeAt(end - 1) === CR) end--;
      fields.push(text.slice(start, end));
      if (pos >= length) return { kind: 'record', fields, next: pos, nextLine: line };
      if (text.charCodeAt(pos) === COMMA) {
        pos++;
        if (pos >= length) {
          fields.push('');
          return { kind: 'record', fields, next: pos, nextLine: line };
        }
      } else {
        return { kind: 'record', fields, next: pos + 1, nextLine: line + 1 };
      }
    }
  }
}

/** End of the physical line that starts at `pos` (index of its \n, or the text's length). */
function lineEnd(text: string, pos: number): number {
  const lf = text.indexOf('\n', pos);
  return lf < 0 ? text.length : lf;
}

/**
 * Split CSV text into records, setting broken ones aside instead of stopping.
 *
 * With `headerWidth`, a record with another number of fields than the first (the header) is
 * quarantined too. A broken
 * record that spans several lines (an unbalanced quote swallowing the next rows) is not
 * trusted as a unit: only its FIRST line is quarantined and reading resumes on the next line,
 * so the rows it swallowed get their own chance. Every line ends up in exactly one kept or
 * quarantined record. Blank lines are skipped.
 */
export function scanCsvRecords(
  text: string,
  headerWidth = false,
): { records: CsvRawRecord[]; quarantined: CsvQuarantinedRecord[] } {
  const records: CsvRawRecord[] = [];
  const quarantined: CsvQuarantinedRecord[] = [];
  const length = text.length;
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0; // byte-order mark
  let line = 1;
  const setAsideFirstLine = (reason: CsvRowProblem, detail: string) => {
    const end = lineEnd(text, pos);
    quarantined.push({ line, reason, detail, raw: text.slice(pos, end).replace(/\r$/, '') });
    pos = end + 1;
    line++;
  };
  while (pos < length) {
    // A line with nothing on it is not a record (a trailing newline, or an empty line).
    if (text.charCodeAt(pos) === LF || (text.charCodeAt(pos) === CR && text.charCodeAt(pos + 1) === LF)) {
      pos += text.charCodeAt(pos) === CR ? 2 : 1;
      line++;
      continue;
    }
    const read = readRecord(text, pos, line);
    if (read.kind === 'problem') {
      setAsideFirstLine(read.reason, read.problemLine === line ? read.detail : `${read.detail} (from line ${read.problemLine})`);
      continue;
    }
    const expected = headerWidth && records.length > 0 ? records[0].fields.length : undefined;
    if (expected !== undefined && read.fields.length !== expected) {
      const detail = `expected ${expected} fields but found ${read.fields.length}` +
        (read.nextLine - line > 1 ? ` over lines ${line}-${read.nextLine - 1}` : '') +
        ' (an unquoted comma or an unbalanced quote in this record?)';
      setAsideFirstLine('wrong_field_count', detail);
      continue;
    }
    records.push({ line, fields: read.fields });
    pos = read.next;
    line = read.nextLine;
  }
  return { records, quarantined };
}

/** Split CSV text into records of string fields; the first broken record is an error naming its line. */
export function parseCsvText(text: string, source: string): CsvRawRecord[] {
  const { records, quarantined } = scanCsvRecords(text);
  if (quarantined.length > 0) throw new CsvError(source, quarantined[0].line, quarantined[0].detail);
  return records;
}

/**
 * Parse CSV text with a header line into objects keyed by column name. A record that cannot be
 * read, or has another number of fields than the header, is quarantined with its line and
 * reason (see scanCsvRecords); a broken header, an empty file or a header with no rows is an
 * error naming the file.
 */
export function parseCsv(text: string, source: string, options: CsvReadOptions = {}, encoding?: TextEncodingNote): CsvTable {
  if (text.replace(/^\ufeff/, '').trim() === '') throw new CsvError(source, 1, 'file is empty (no header line, no rows)');
  const scanned = scanCsvRecords(text, true);
  // The header is the first record read; a broken line before it means the header itself is broken.
  const first = scanned.records[0];
  const brokenHeader = scanned.quarantined[0];
  if (!first || (brokenHeader && brokenHeader.line < first.line)) {
    throw new CsvError(source, brokenHeader?.line ?? 1, `the header line cannot be read: ${brokenHeader?.detail ?? 'no header'}`);
  }
  const unnamed = options.unnamedColumnName ?? 'index';
  const header = first.fields.map((name, i) => {
    const trimmed = name.trim();
    if (trimmed !== '') return trimmed;
    if (i === 0) return unnamed;
    throw new CsvError(source, first.line, `column ${i + 1} of the header has no name`);
  });
  const seen = new Set<string>();
  for (const name of header) {
    if (seen.has(name)) throw new CsvError(source, first.line, `column "${name}" appears twice in the header`);
    seen.add(name);
  }
  for (const required of options.requiredColumns ?? []) {
    if (!seen.has(required)) {
      throw new CsvError(
        source,
        first.line,
        `required column "${required}" is missing (header: ${header.map((h) => JSON.stringify(h)).join(', ')})`,
      );
    }
  }
  const records: CsvRecord[] = [];
  for (const { line, fields } of scanned.records.slice(1)) {
    const values: Record<string, string> = {};
    for (let c = 0; c < header.length; c++) values[header[c]] = fields[c];
    records.push({ line, values });
  }
  if (records.length === 0 && scanned.quarantined.length === 0) {
    throw new CsvError(source, first.line, `the file has a header (${header.join(', ')}) but no rows`);
  }
  return { source, header, records, quarantined: scanned.quarantined, encoding: encoding ?? { encoding: 'utf-8', note: null } };
}

/** Bytes that Windows-1252 leaves undefined: a file holding them is neither UTF-8 nor Windows-1252. */
const CP1252_UNDEFINED = new Set([0x81, 0x8d, 0x8f, 0x90, 0x9d]);

/**
 * Bytes → text. Valid UTF-8 (with or without a BOM) is read as is. Otherwise the file is read as
 * Windows-1252 (a spreadsheet saved on Windows: "£" is byte 0xA3) with a note saying so, unless
 * it is UTF-16 or binary or uses bytes Windows-1252 does not define: then an error names the
 * file and the encoding found.
 */
export function decodeCsvBytes(bytes: Uint8Array, source: string): { text: string; encoding: TextEncodingNote } {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    const which = bytes[0] === 0xff ? 'UTF-16LE' : 'UTF-16BE';
    throw new CsvError(source, 1, `the file is ${which} (byte-order mark ${bytes[0].toString(16).toUpperCase()} ${bytes[1].toString(16).toUpperCase()}); save it as UTF-8`);
  }
  // UTF-16 without a byte-order mark, or a binary file, is full of 0x00 bytes (every other byte, for UTF-16 text);
  // a stray NUL inside one field of a text file is that row's problem, not the file's (db:load quarantines it).
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    let nuls = 0;
    const sample = Math.min(bytes.length, 1 << 16);
    for (let i = 0; i < sample; i++) if (bytes[i] === 0) nuls++;
    if (nuls > sample / 100) {
      throw new CsvError(source, lineAt(bytes, nul), `byte 0x00 at offset ${nul} (${nuls} of the first ${sample} bytes are 0x00): UTF-16 without a byte-order mark or a binary file, not CSV text; save it as UTF-8`);
    }
  }
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), encoding: { encoding: 'utf-8', note: null } };
  } catch {
    // not UTF-8: look further below
  }
  const bad = firstInvalidUtf8(bytes);
  const undefinedAt = bytes.findIndex((b) => CP1252_UNDEFINED.has(b));
  if (undefinedAt >= 0) {
    throw new CsvError(source, lineAt(bytes, undefinedAt), `neither UTF-8 (invalid byte 0x${hex(bytes[bad])} at offset ${bad}) nor Windows-1252 (byte 0x${hex(bytes[undefinedAt])} at offset ${undefinedAt} is undefined there): unknown encoding; save it as UTF-8`);
  }
  const note = `${source} is not valid UTF-8 (byte 0x${hex(bytes[bad])} on line ${lineAt(bytes, bad)}); read as Windows-1252`;
  return { text: decodeWindows1252(bytes), encoding: { encoding: 'windows-1252', note } };
}

/** Windows-1252's 0x80-0x9F (the rest is Latin-1); 0 marks the five undefined bytes. */
const CP1252_HIGH = [
  0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017d, 0,
  0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178,
];

/** Node's TextDecoder('windows-1252') decodes as Latin-1 (0x92 stays U+0092), so map it here. */
function decodeWindows1252(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 8192) {
    const chunk = Array.from(bytes.subarray(i, i + 8192), (b) => (b >= 0x80 && b <= 0x9f ? CP1252_HIGH[b - 0x80] : b));
    out += String.fromCharCode(...chunk);
  }
  return out;
}

function hex(byte: number): string {
  return byte.toString(16).toUpperCase().padStart(2, '0');
}

/** 1-based line of a byte offset. */
function lineAt(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (bytes[i] === LF) line++;
  return line;
}

/** Offset of the first byte that breaks UTF-8 (the file is known not to be valid UTF-8). */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    const need = b < 0x80 ? 0 : b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    if (need < 0) return i;
    for (let k = 1; k <= need; k++) if (i + k >= bytes.length || (bytes[i + k] & 0xc0) !== 0x80) return i;
    i += need + 1;
  }
  return 0;
}

/**
 * The one entry point for a raw marketplace CSV (Products.csv, Images.csv), as text or bytes:
 * encoding checked, header checked, broken records quarantined with line, reason and raw text.
 * Returns the kept records, the quarantined ones and the encoding note.
 */
export function parseCsvInput(input: string | Uint8Array, source: string, options: CsvReadOptions = {}): CsvTable {
  const { text, encoding } = typeof input === 'string' ? { text: input, encoding: undefined } : decodeCsvBytes(input, source);
  return parseCsv(text, source, options, encoding);
}

/** Read and parse a CSV file (see parseCsvInput); errors name the file by its base name and line. */
export function readCsvFile(filePath: string, options: CsvReadOptions = {}): CsvTable {
  const source = filePath.split(/[\\/]/).pop() || filePath;
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(filePath);
  } catch (err) {
    throw new Error(`${source}: cannot read ${filePath} (${(err as Error).message})`);
  }
  return parseCsvInput(bytes, source, options);
}
