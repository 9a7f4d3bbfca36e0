/**
 * The HTTP layer of the search service (node:http, no framework), mirroring the seeds' FastAPI:
 *
 *   GET  /healthcheck               status, what is loaded, memory
 *   POST /predict/category          image and/or text → class probabilities
 *   POST /predict/feature_embedding image and/or text → embeddings (image, text, fused)
 *   POST /predict/similar           image and/or text (+ k) → top-k listings: id, title, price, score
 *
 * Requests are multipart/form-data (file field "image", 0 to MAX_PHOTOS times; text fields
 * "title", "description", "k", each at most once) or a JSON object for text-only queries. Every
 * bad input is answered with a 4xx JSON `{"error": reason}`; an unexpected failure with a 500,
 * and the process keeps serving.
 *
 * Bounds on work (so hostile requests cannot starve normal ones):
 *  - a photo's header is checked (size, sides, aspect: photo_limits.ts) BEFORE the request may
 *    queue, so an oversized or elongated image is refused in milliseconds and never decoded;
 *  - photo requests go through a bounded queue (work_queue.ts): `photoConcurrency` at once,
 *    `maxQueuedPhotos` waiting, 503 + Retry-After beyond that;
 *  - every request has a time budget (`requestBudgetMs`): past it, the answer is 503 and
 *    queued work for it is dropped; so no request, normal or not, waits longer than that;
 *  - slow clients: `headersTimeoutMs` / `requestTimeoutMs` answer 408 and close.
 * The Host header must name this server (localhost, 127.0.0.1, [::1], the bound host, or one of
 * `allowedHosts`): a page on another site that rebinds its DNS to 127.0.0.1 is refused (403).
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';
import { InputError } from './input_error';
import { drain, readRequestBody } from './http_body';
import { checkPhotoHeader } from './photo_limits';
import { MAX_K, MAX_PHOTOS, Query, SearchService } from './service';
import { DeadlineError, QueueFullError, WorkQueue } from './work_queue';

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
  /** Photo requests processed at once (default 2: the backbone's workers). */
  photoConcurrency?: number;
  /** Photo requests waiting at most; beyond, 503 + Retry-After (default 8). */
  maxQueuedPhotos?: number;
  /** Time budget of one request, ms (default 15 s): past it, 503. */
  requestBudgetMs?: number;
  /** Time to receive the request headers, ms (default 10 s): past it, 408. */
  headersTimeoutMs?: number;
  /** Time to receive the whole request, ms (default 30 s): past it, 408. */
  requestTimeoutMs?: number;
  /** Host names accepted in the Host header besides localhost, 127.0.0.1, [::1] and the bound host. */
  allowedHosts?: string[];
}

export interface RunningServer {
  server: http.Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

export const DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024;
export const DEFAULT_REQUEST_BUDGET_MS = 15_000;
/** Photo requests decoded and featurised at once: enough to fill a micro-batch of the backbone (up to 2 views each). */
export const DEFAULT_PHOTO_CONCURRENCY = 4;
export const DEFAULT_MAX_QUEUED_PHOTOS = 8;
/** One cap for a text field, in multipart and in JSON. */
export const MAX_FIELD_BYTES = 64 * 1024;

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

/** k as a plain decimal integer 1..MAX_K ("0x10", "1e1", "5.0" and " 5" are refused). */
export function parseK(raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const k = /^[0-9]{1,3}$/.test(raw) ? Number(raw) : NaN;
  if (!(k >= 1 && k <= MAX_K)) throw new InputError(400, `k must be a decimal integer from 1 to ${MAX_K}, got "${raw.slice(0, 20)}"`);
  return k;
}

const KNOWN_FIELDS = new Set(['title', 'description', 'k']);

function toQuery(body: { fields: Record<string, string>; files: Array<{ field: string; data: Buffer }> }): Query {
  for (const f of body.files) if (f.field !== 'image') throw new InputError(400, `unexpected file field "${f.field}": send each photo as "image"`);
  for (const name of Object.keys(body.fields)) {
    if (!KNOWN_FIELDS.has(name)) throw new InputError(400, `unexpected field "${name}": the fields are image, title, description and k`);
  }
  if (body.files.length > MAX_PHOTOS) throw new InputError(400, `too many photos: ${body.files.length} (at most ${MAX_PHOTOS} "image" files per listing)`);
  body.files.forEach((f, i) => { if (f.data.length === 0) throw new InputError(400, `image file ${i + 1} is empty`); });
  return { images: body.files.map((f) => f.data), title: body.fields.title, description: body.fields.description };
}

/** Host names this server answers to (lower case, no port). */
export function allowedHostNames(boundHost: string | undefined, extra: string[] = []): Set<string> {
  const names = new Set(['localhost', '127.0.0.1', '[::1]', ...extra.map((h) => h.toLowerCase())]);
  if (boundHost && !['0.0.0.0', '::', ''].includes(boundHost)) names.add(boundHost.includes(':') && !boundHost.startsWith('[') ? `[${boundHost}]` : boundHost.toLowerCase());
  return names;
}

/** The Host header's name without its port ("[::1]:8080" → "[::1]"); '' when absent. */
function hostName(header: string | undefined): string {
  if (!header) return '';
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  return h.replace(/:\d*$/, '');
}

/** /healthcheck shows no absolute paths: the bundle by folder name, paths in text by file name. */
function withoutPaths(value: unknown, key = ''): unknown {
  if (typeof value === 'string') {
    if (key === 'bundle') return path.basename(value);
    return value.replace(/(?:[A-Za-z]:)?(?:[\\/][\w.@+-]+){2,}/g, (p) => path.basename(p));
  }
  if (Array.isArray(value)) return value.map((v) => withoutPaths(v));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutPaths(v, k)]));
  return value;
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
  const budgetMs = options.requestBudgetMs ?? DEFAULT_REQUEST_BUDGET_MS;
  const queue = new WorkQueue({
    concurrency: options.photoConcurrency ?? DEFAULT_PHOTO_CONCURRENCY,
    maxWaiting: options.maxQueuedPhotos ?? DEFAULT_MAX_QUEUED_PHOTOS,
  });
  const hosts = allowedHostNames(options.host ?? '127.0.0.1', options.allowedHosts);
  const started = Date.now();

  return (req, res) => {
    const t0 = performance.now();
    const deadline = Date.now() + budgetMs;
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const finish = (status: number) => options.log?.(`${method} ${url.pathname} ${status} ${round(performance.now() - t0)} ms`);

    const handle = async (): Promise<{ status: number; body: unknown; headers?: Record<string, string> }> => {
      const host = hostName(req.headers.host);
      if (host !== '' && !hosts.has(host)) {
        drain(req, 1 << 20);
        return { status: 403, body: { error: `host "${host.slice(0, 100)}" is not served here (allowed: ${[...hosts].join(', ')}; add it with --allowed-hosts)` } };
      }
      const allowed = ROUTES[url.pathname];
      if (!allowed) {
        drain(req, 1 << 20);
        return { status: 404, body: { error: `no route ${url.pathname}: use ${Object.entries(ROUTES).map(([p, m]) => `${m} ${p}`).join(', ')}` } };
      }
      if (method !== allowed && !(allowed === 'GET' && method === 'HEAD')) {
        drain(req, 1 << 20);
        return { status: 405, body: { error: `${url.pathname} takes ${allowed}, not ${method}` }, headers: { allow: allowed === 'GET' ? 'GET, HEAD' : allowed } };
      }
      if (url.pathname === '/healthcheck') {
        const mem = process.memoryUsage();
        return {
          status: 200,
          body: withoutPaths({
            status: 'ok', uptime_seconds: Math.round((Date.now() - started) / 1000), max_upload_bytes: maxUploadBytes, max_k: MAX_K,
            max_photos: MAX_PHOTOS, request_budget_ms: budgetMs, photo_queue: queue.stats(),
            memory: { rss_mb: round(mem.rss / 2 ** 20), heap_used_mb: round(mem.heapUsed / 2 ** 20) }, ...service.info(),
          }),
        };
      }
      const body = await readRequestBody(req, { maxUploadBytes, maxFiles: MAX_PHOTOS, maxFieldBytes: MAX_FIELD_BYTES, fileField: 'image' });
      const query = toQuery(body);
      const kQuery = url.searchParams.getAll('k');
      if (kQuery.length > 1 || (kQuery.length === 1 && body.fields.k !== undefined)) throw new InputError(400, 'field "k" appears twice: send it once');
      const k = url.pathname === '/predict/similar' ? parseK(body.fields.k ?? kQuery[0], defaultK) : 0;
      // Header checks first: a photo that would be refused never takes a place in the queue.
      for (const image of query.images) await checkPhotoHeader(image);
      const encoded = query.images.length > 0 ? await queue.run(() => service.encode(query), deadline) : await service.encode(query);
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

    // The time budget: whatever is still running when it ends, the client gets its answer now.
    let timer: NodeJS.Timeout | undefined;
    const overBudget = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new InputError(503, `the request took longer than its ${budgetMs / 1000} s budget; retry later`)), budgetMs);
    });
    const answered = Promise.race([handle(), overBudget]).finally(() => clearTimeout(timer));
    answered.then(
      (r) => {
        sendJson(res, r.status, r.body, r.headers);
        finish(r.status);
      },
      (err: unknown) => {
        if (err instanceof QueueFullError) {
          drain(req, 1 << 20);
          sendJson(res, 503, { error: err.message }, { 'retry-after': String(err.retryAfterSeconds) });
          finish(503);
        } else if (err instanceof DeadlineError || (err instanceof InputError && err.status === 503)) {
          drain(req, 1 << 20);
          sendJson(res, 503, { error: err.message }, { 'retry-after': String(queue.retryAfterSeconds()) });
          finish(503);
        } else if (err instanceof InputError) {
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
  const server = http.createServer({
    headersTimeout: options.headersTimeoutMs ?? 10_000,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    // How often Node checks those timeouts (default 30 s: a slow client would be cut late).
    connectionsCheckingInterval: 500,
  } as http.ServerOptions, createHandler(service, options)); // (Node 18.?+ options; this @types/node predates them)
  // A malformed request line/headers: 400; too slow: 408 (instead of dropping the connection silently).
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) return socket.destroy();
    const [status, reason] = err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? ['408 Request Timeout', 'the request was not received in time']
      : err.code === 'HPE_HEADER_OVERFLOW' ? ['431 Request Header Fields Too Large', 'request headers too large'] : ['400 Bad Request', 'malformed HTTP request'];
    const body = JSON.stringify({ error: reason });
    socket.end(`HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE' ? portInUse(options.host ?? '127.0.0.1', options.port ?? 8080) : err));
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => {
      server.removeAllListeners('error');
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

function portInUse(host: string, port: number): Error {
  return new Error(`port ${port} on ${host} is already in use (another service running?): stop it or choose another with --port`);
}

/** Fails fast, before anything heavy is loaded, when the port cannot be bound. */
export function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = http.createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE' ? portInUse(host, port) : new Error(`cannot listen on ${host}:${port}: ${err.message}`)));
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}
