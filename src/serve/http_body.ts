/**
 * Reading a request body for the search service: multipart/form-data (busboy, streaming, with
 * limits: the seeds' FastAPI takes `UploadFile`s the same way) or a JSON object (text-only
 * queries from scripts). Every problem becomes an InputError with a 4xx status and a reason:
 * empty body, unsupported content type, malformed multipart, oversized upload or field, too
 * many files or fields.
 */
import type { IncomingMessage } from 'http';
import busboy from 'busboy';
import { InputError } from './encoders';

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
  // Whole-body cap: the file limit plus room for the text fields and multipart framing.
  const maxBody = maxUpload * maxFiles + maxFields * maxField + 64 * 1024;
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
        const text = Buffer.concat(chunks).toString('utf8').trim();
        if (text === '') return fail(400, 'empty request body');
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          return fail(400, 'the body is not valid JSON');
        }
        if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail(400, 'the JSON body must be an object like {"title": "...", "k": 5}');
        const fields: Record<string, string> = {};
        for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
          if (typeof v === 'string' || typeof v === 'number') fields[key] = String(v);
          else return fail(400, `JSON field "${key}" must be a string or a number (images are sent as multipart/form-data)`);
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
    parser.on('filesLimit', () => fail(400, `too many files: send at most ${maxFiles} "image" files`));
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
