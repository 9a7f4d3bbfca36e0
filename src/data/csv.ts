/**
 * A small RFC-4180 CSV reader for the marketplace files.
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

export interface CsvTable {
  /** File name used in error messages (e.g. "Products.csv"). */
  source: string;
  header: string[];
  records: CsvRecord[];
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

/**
 * Split CSV text into records of string fields.
 * Rules: fields separated by `,`; a field that starts with `"` is quoted, may contain `,`,
 * `\n`, `\r`, and `""` for a quote; a `"` inside an unquoted field is kept as data (as pandas
 * does); anything but `,` or a line end after a closing quote is an error. Blank lines are skipped.
 */
export function parseCsvText(text: string, source: string): CsvRawRecord[] {
  const records: CsvRawRecord[] = [];
  const length = text.length;
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0; // byte-order mark
  let line = 1;

  while (pos < length) {
    const recordLine = line;
    const fields: string[] = [];
    let recordDone = false;

    // A line with nothing on it is not a record (a trailing newline, or an empty line).
    if (text.charCodeAt(pos) === LF || (text.charCodeAt(pos) === CR && text.charCodeAt(pos + 1) === LF)) {
      pos += text.charCodeAt(pos) === CR ? 2 : 1;
      line++;
      continue;
    }

    while (!recordDone) {
      if (text.charCodeAt(pos) === QUOTE) {
        // Quoted field: read up to the closing quote, turning "" into ".
        const quoteLine = line;
        let value = '';
        let chunkStart = pos + 1;
        pos++;
        for (;;) {
          if (pos >= length) {
            throw new CsvError(source, quoteLine, 'quoted field is never closed (unbalanced ")');
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
            recordDone = true;
          }
        } else if (after === LF) {
          pos++;
          line++;
          recordDone = true;
        } else if (after === CR && (pos + 1 >= length || text.charCodeAt(pos + 1) === LF)) {
          pos += 2;
          line++;
          recordDone = true;
        } else {
          throw new CsvError(
            source,
            line,
            `unexpected ${JSON.stringify(text[pos])} after the closing quote of field ${fields.length}`,
          );
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
        if (pos >= length) {
          recordDone = true;
        } else if (text.charCodeAt(pos) === COMMA) {
          pos++;
          if (pos >= length) {
            fields.push('');
            recordDone = true;
          }
        } else {
          pos++;
          line++;
          recordDone = true;
        }
      }
    }
    records.push({ line: recordLine, fields });
  }
  return records;
}

/**
 * Parse CSV text with a header line into objects keyed by column name.
 * Every record must have as many fields as the header; an error names the file and line.
 */
export function parseCsv(text: string, source: string, options: CsvReadOptions = {}): CsvTable {
  const raw = parseCsvText(text, source);
  if (raw.length === 0) throw new CsvError(source, 1, 'file is empty (no header line)');
  const unnamed = options.unnamedColumnName ?? 'index';
  const header = raw[0].fields.map((name, i) => {
    const trimmed = name.trim();
    if (trimmed !== '') return trimmed;
    if (i === 0) return unnamed;
    throw new CsvError(source, raw[0].line, `column ${i + 1} of the header has no name`);
  });
  const seen = new Set<string>();
  for (const name of header) {
    if (seen.has(name)) throw new CsvError(source, raw[0].line, `column "${name}" appears twice in the header`);
    seen.add(name);
  }
  for (const required of options.requiredColumns ?? []) {
    if (!seen.has(required)) {
      throw new CsvError(
        source,
        raw[0].line,
        `required column "${required}" is missing (header: ${header.map((h) => JSON.stringify(h)).join(', ')})`,
      );
    }
  }
  const records: CsvRecord[] = [];
  for (let r = 1; r < raw.length; r++) {
    const { line, fields } = raw[r];
    if (fields.length !== header.length) {
      throw new CsvError(
        source,
        line,
        `expected ${header.length} fields (${header.join(', ')}) but found ${fields.length}` +
          ' (an unquoted comma or an unbalanced quote in this record?)',
      );
    }
    const values: Record<string, string> = {};
    for (let c = 0; c < header.length; c++) values[header[c]] = fields[c];
    records.push({ line, values });
  }
  return { source, header, records };
}

/** Read and parse a UTF-8 CSV file; errors name the file by its base name and line. */
export function readCsvFile(filePath: string, options: CsvReadOptions = {}): CsvTable {
  const source = filePath.split(/[\\/]/).pop() || filePath;
  let text: string;
  try {
    text = fs.readFileSync(filePath, 'utf8');
  } catch (err) {
    throw new Error(`${source}: cannot read ${filePath} (${(err as Error).message})`);
  }
  return parseCsv(text, source, options);
}
