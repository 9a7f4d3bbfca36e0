/**
 * Reading a request body for the search service: multipart/form-data (busboy, streaming, with
 * limits: the seeds' FastAPI takes `UploadFile`s the same way) or a JSON object (text-only
 * queries from scripts). Every problem becomes an InputError with a 4xx status and a reason:
 * empty body, unsupported content type, malformed multipart, oversized upload or field, too
 * many files or fields, text that is not UTF-8, a field sent twice. Text fields have the same
 * byte cap in JSON and in multipart.
 */
import type { IncomingMessage } from 'http';
import busboy from 'busboy';
import { InputError } from './input_error';

export interface UploadedFile {
  field: string;
  filename: string;
  mimeType: string;
  data: Buffer;
}

export interface RequestBody {
  fields: Record<string, string>;
  files: UploadedFile[];
}

export interface BodyLimits {
  /** Largest uploaded file, bytes. */
  maxUploadBytes: number;
  /** Largest text field, bytes (default 64 KiB). */
  maxFieldBytes?: number;
  /** Most files per request (default 1). */
  maxFiles?: number;
  /** Name of the file field, for messages (default "image"). */
  fileField?: string;
  /** Most text fields per request (default 16). */
  maxFields?: number;
}

/** Consumes (and discards) what is left of the body, up to a cap, so the client can read our response. */
export function drain(req: IncomingMessage, capBytes: number): void {
  let seen = 0;
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > capBytes) req.destroy();
  });
  req.on('error', () => undefined);
  req.resume();
}

export function readRequestBody(req: IncomingMessage, limits: BodyLimits): Promise<RequestBody> {
  const maxUpload = limits.maxUploadBytes;
  const maxField = limits.maxFieldBytes ?? 64 * 1024;
  const maxFiles = limits.maxFiles ?? 1;
  const maxFields = limits.maxFields ?? 16;
  const fileField = limits.fileField ?? 'image';
  // Whole-body cap: the file limits plus room for the text fields and multipart framing.
  const maxBody = maxUpload * Math.max(1, maxFiles) + maxFields * maxField + 64 * 1024;
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  const declared = Number(req.headers['content-length'] ?? NaN);

  return new Promise<RequestBody>((resolve, reject) => {
    let settled = false;
    const fail = (status: number, reason: string) => {
      if (settled) return;
      settled = true;
      req.unpipe();
      drain(req, 8 * maxBody);
      reject(new InputError(status, reason));
    };
    const done = (body: RequestBody) => {
      if (settled) return;
      settled = true;
      resolve(body);
    };
    req.on('error', (err) => fail(400, `the request body could not be read: ${err.message}`));

    if (declared === 0) return fail(400, 'empty request body: send multipart/form-data with an "image" file and/or "title"/"description" fields');
    if (Number.isFinite(declared) && declared > maxBody) {
      return fail(413, `upload too large: ${declared} bytes (limit ${maxUpload} bytes per image; set --max-upload-mb or MAX_UPLOAD_MB)`);
    }

    if (type.startsWith('application/json')) {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxFields * maxField) fail(413, `JSON body too large (limit ${maxFields * maxField} bytes)`);
        else chunks.push(c);
      });
      req.on('end', () => {
        if (settled) return;
        let text: string;
        try {
          text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks)).trim();
        } catch {
          return fail(400, 'the JSON body is not valid UTF-8');
        }
        if (text === '') return fail(400, 'empty request body');
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          return fail(400, 'the body is not valid JSON');
        }
        if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail(400, 'the JSON body must be an object like {"title": "...", "k": 5}');
        const twice = firstRepeatedKey(text);
        if (twice !== null) return fail(400, `field "${twice}" appears twice: send each field once`);
        const fields: Record<string, string> = {};
        for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
          if (typeof v === 'string' || typeof v === 'number') fields[key] = String(v);
          else return fail(400, `JSON field "${key}" must be a string or a number (images are sent as multipart/form-data)`);
          if (Buffer.byteLength(fields[key]) > maxField) return fail(413, `field "${key}" is too long (limit ${maxField} bytes)`);
        }
        done({ fields, files: [] });
      });
      return;
    }

    if (!type.startsWith('multipart/form-data')) {
      return fail(415, `unsupported content type "${type || '(none)'}": send multipart/form-data (an "image" file and/or "title"/"description" fields) or application/json`);
    }

    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { fileSize: maxUpload, files: maxFiles, fields: maxFields, fieldSize: maxField, parts: maxFiles + maxFields } });
    } catch (err) {
      return fail(400, `malformed multipart request: ${(err as Error).message}`);
    }
    const fields: Record<string, string> = {};
    const files: UploadedFile[] = [];
    let bodyBytes = 0;
    let pendingFiles = 0;
    let finished = false;
    const maybeDone = () => {
      if (finished && pendingFiles === 0) {
        if (bodyBytes === 0) return fail(400, 'empty request body');
        done({ fields, files });
      }
    };

    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) return fail(413, `field "${name}" is too long (limit ${maxField} bytes)`);
      if (info.nameTruncated) return fail(400, 'a field name is too long');
      // busboy decodes as UTF-8 and replaces bad bytes with U+FFFD: treat that as not UTF-8.
      if (value.includes('\ufffd') || name.includes('\ufffd')) return fail(400, `field "${name.replace(/\ufffd/g, '?')}" is not valid UTF-8 text`);
      if (Object.prototype.hasOwnProperty.call(fields, name)) return fail(400, `field "${name}" appears twice: send each field once`);
      fields[name] = value;
    });
    parser.on('file', (name, stream, info) => {
      pendingFiles++;
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('limit', () => fail(413, `upload too large: "${name}" is over the limit of ${maxUpload} bytes (set --max-upload-mb or MAX_UPLOAD_MB)`));
      stream.on('error', (err: Error) => fail(400, `malformed multipart request: ${err.message}`));
      stream.on('close', () => {
        pendingFiles--;
        if (!settled) files.push({ field: name, filename: info.filename ?? '', mimeType: info.mimeType, data: Buffer.concat(chunks) });
        maybeDone();
      });
    });
    parser.on('filesLimit', () => fail(400, `too many files: send at most ${maxFiles} "${fileField}" file${maxFiles === 1 ? '' : 's'} per request`));
    parser.on('fieldsLimit', () => fail(400, `too many fields (limit ${maxFields})`));
    parser.on('partsLimit', () => fail(400, 'too many parts in the multipart body'));
    parser.on('error', (err: Error) => fail(400, `malformed multipart request: ${err.message}`));
    parser.on('close', () => {
      finished = true;
      maybeDone();
    });
    req.on('data', (c: Buffer) => {
      bodyBytes += c.length;
      if (bodyBytes > maxBody) fail(413, `upload too large (limit ${maxUpload} bytes per image)`);
    });
    req.pipe(parser);
  });
}

/**
 * The first key that appears twice at the top level of a JSON object text (JSON.parse keeps the
 * last one silently), or null. The text is known to be valid JSON.
 */
export function firstRepeatedKey(text: string): string | null {
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (seen.has(key)) return key;
        seen.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      depth++;
      if (depth === 1) expectKey = true;
    } else if (c === '}' || c === ']') {
      depth--;
    } else if (c === ',' && depth === 1) {
      expectKey = true;
    }
  }
  return null;
}
