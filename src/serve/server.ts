/**
 * The HTTP layer of the search service (node:http, no framework), mirroring the seeds' FastAPI:
 *
 *   GET  /healthcheck               status, what is loaded, memory
 *   POST /predict/category          image and/or text → class probabilities
 *   POST /predict/feature_embedding image and/or text → embeddings (image, text, fused)
 *   POST /predict/similar           image and/or text (+ k) → top-k listings: id, title, price, score
 *
 * Requests are multipart/form-data (file field "image"; text fields "title", "description", "k")
 * or a JSON object for text-only queries. Every bad input is answered with a 4xx JSON
 * `{"error": reason}`; an unexpected failure with a 500, and the process keeps serving.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import { InputError } from './encoders';
import { drain, readRequestBody } from './http_body';
import { MAX_K, MAX_PHOTOS, Query, SearchService } from './service';

export interface ServerOptions {
  host?: string;
  /** 0 = an ephemeral port. */
  port?: number;
  /** Largest accepted image upload, bytes (default 10 MiB). */
  maxUploadBytes?: number;
  /** Default k of /predict/similar. */
  defaultK?: number;
  /** Access/error log (default: none). */
  log?: (line: string) => void;
}

export interface RunningServer {
  server: http.Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

export const DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

const round = (v: number) => Math.round(v * 100) / 100;

function sendJson(res: http.ServerResponse, status: number, body: unknown, extraHeaders: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...extraHeaders });
  res.end(text);
}

function parseK(raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const k = Number(raw.trim());
  if (!Number.isInteger(k) || k < 1 || k > MAX_K) throw new InputError(400, `k must be an integer from 1 to ${MAX_K}, got "${raw}"`);
  return k;
}

const KNOWN_FIELDS = new Set(['title', 'description', 'k']);

function toQuery(body: { fields: Record<string, string>; files: Array<{ field: string; data: Buffer }> }): Query {
  for (const f of body.files) if (f.field !== 'image') throw new InputError(400, `unexpected file field "${f.field}": send the photo as "image"`);
  for (const name of Object.keys(body.fields)) {
    if (!KNOWN_FIELDS.has(name)) throw new InputError(400, `unexpected field "${name}": the fields are image, title, description and k`);
  }
  if (body.files.length > MAX_PHOTOS) throw new InputError(400, `too many photos: ${body.files.length} (at most ${MAX_PHOTOS} "image" files per listing)`);
  body.files.forEach((f, i) => { if (f.data.length === 0) throw new InputError(400, `image file ${i + 1} is empty`); });
  return { images: body.files.map((f) => f.data), title: body.fields.title, description: body.fields.description };
}

const ROUTES: Record<string, string> = {
  '/healthcheck': 'GET',
  '/predict/category': 'POST',
  '/predict/feature_embedding': 'POST',
  '/predict/similar': 'POST',
};

export function createHandler(service: SearchService, options: ServerOptions = {}): http.RequestListener {
  const maxUploadBytes = options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  const defaultK = options.defaultK ?? 10;
  const started = Date.now();

  return (req, res) => {
    const t0 = performance.now();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const finish = (status: number) => options.log?.(`${method} ${url.pathname} ${status} ${round(performance.now() - t0)} ms`);

    const handle = async (): Promise<{ status: number; body: unknown; headers?: Record<string, string> }> => {
      const allowed = ROUTES[url.pathname];
      if (!allowed) {
        drain(req, 1 << 20);
        return { status: 404, body: { error: `no route ${url.pathname}: use ${Object.entries(ROUTES).map(([p, m]) => `${m} ${p}`).join(', ')}` } };
      }
      if (method !== allowed) {
        drain(req, 1 << 20);
        return { status: 405, body: { error: `${url.pathname} takes ${allowed}, not ${method}` }, headers: { allow: allowed } };
      }
      if (url.pathname === '/healthcheck') {
        const mem = process.memoryUsage();
        return {
          status: 200,
          body: {
            status: 'ok', uptime_seconds: Math.round((Date.now() - started) / 1000), max_upload_bytes: maxUploadBytes, max_k: MAX_K,
            memory: { rss_mb: round(mem.rss / 2 ** 20), heap_used_mb: round(mem.heapUsed / 2 ** 20) }, ...service.info(),
          },
        };
      }
      const body = await readRequestBody(req, { maxUploadBytes, maxFiles: MAX_PHOTOS });
      const query = toQuery(body);
      const k = url.pathname === '/predict/similar' ? parseK(body.fields.k ?? url.searchParams.get('k') ?? undefined, defaultK) : 0;
      const encoded = await service.encode(query);
      const timings = encoded.timings;
      const done = (extra: Record<string, unknown>) => ({
        status: 200,
        body: { query: encoded.kind, ...extra, timings_ms: Object.fromEntries(Object.entries({ ...timings, total_ms: performance.now() - t0 }).map(([key, v]) => [key, round(v)])) },
      });
      if (url.pathname === '/predict/category') {
        return done({ ...service.category(encoded) });
      }
      if (url.pathname === '/predict/feature_embedding') {
        const main = encoded.fused ?? encoded.imageEmbedding ?? (encoded.textEmbedding as Float32Array);
        return done({
          model: encoded.predictor.label, embedding: Array.from(main), dim: main.length,
          ...(encoded.imageEmbedding ? { image_embedding: Array.from(encoded.imageEmbedding) } : {}),
          ...(encoded.textEmbedding ? { text_embedding: Array.from(encoded.textEmbedding) } : {}),
          ...(encoded.fused ? { fused_embedding: Array.from(encoded.fused) } : {}),
        });
      }
      const found = service.similar(encoded, k);
      timings.index_ms = found.index_ms;
      return done({ index: found.index, k, results: found.results });
    };

    handle().then(
      (r) => {
        sendJson(res, r.status, r.body, r.headers);
        finish(r.status);
      },
      (err: unknown) => {
        if (err instanceof InputError) {
          sendJson(res, err.status, { error: err.message });
          finish(err.status);
        } else {
          options.log?.(`error: ${(err as Error)?.stack ?? String(err)}`);
          drain(req, 1 << 20);
          sendJson(res, 500, { error: `internal error: ${(err as Error)?.message ?? String(err)}` });
          finish(500);
        }
      },
    ).catch((err: unknown) => options.log?.(`error while answering: ${String(err)}`));
  };
}

/** Starts listening; resolves once the port is bound. */
export function startServer(service: SearchService, options: ServerOptions = {}): Promise<RunningServer> {
  const server = http.createServer(createHandler(service, options));
  // A malformed request line/headers: answer 400 instead of dropping the connection silently.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) return socket.destroy();
    socket.end('HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"error":"malformed HTTP request"}');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve({
        server, port: address.port, url: `http://${host}:${address.port}`,
        close: () => new Promise<void>((done) => {
          server.close(() => done());
          server.closeAllConnections?.();
        }),
      });
    });
  });
}
