/**
 * The search service, end to end: a real server on loopback (ephemeral port) over a tiny real
 * bundle built in a temporary folder (test/serve_fixture.ts), every endpoint, and every kind of
 * bad input answered with a 4xx and a reason while the process keeps serving. Also the CLI
 * (`npm run serve`): it starts on a bundle and prints where it listens, and refuses to start
 * without one, naming the missing file and saying to run the pipeline.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { initTf } from '../src/tf/runtime';
import { SearchService } from '../src/serve/service';
import { DEFAULT_PHOTO_CONCURRENCY, startServer, RunningServer } from '../src/serve/server';
import { MAX_PHOTOS } from '../src/serve/service';
import { PHOTO_BATCH_QUEUE } from '../src/serve/encoders';
import { MissingArtefactError } from '../src/serve/bundle';
import { parseSettings } from '../src/serve/main';
import { buildTinyBundle, CLASSES, syntheticPhoto, TinyListing } from './serve_fixture';

const ROOT = path.resolve(__dirname, '..');
const MAX_UPLOAD = 64 * 1024;

let tmp = '';
let listings: TinyListing[] = [];
let service: SearchService;
let server: RunningServer;

before(async () => {
  await initTf();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'serve-test-'));
  ({ listings } = await buildTinyBundle(path.join(tmp, 'bundle')));
  service = await SearchService.load(path.join(tmp, 'bundle'), { workers: 1 });
  server = await startServer(service, { host: '127.0.0.1', port: 0, maxUploadBytes: MAX_UPLOAD });
});

after(async () => {
  await server?.close();
  await service?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/**
 * A real PNG (8-bit grey) of width × height zero pixels: an elongated one is tiny on the wire
 * (9,000,000 × 4 is ~35 KB) but expensive to decode.
 */
/** PNG's CRC-32 (this @types/node has no zlib.crc32). */
function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

function elongatedPng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'ascii');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type, 'ascii'), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // 8-bit, greyscale, deflate, no filter method, no interlace
  const rows = Buffer.alloc((width + 1) * height); // filter byte 0 + zeros per row
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(rows, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

function form(parts: { image?: Buffer; images?: Buffer[]; imageName?: string; fields?: Record<string, string>; extraFile?: Buffer }): FormData {
  const f = new FormData();
  if (parts.image) f.append('image', new Blob([parts.image], { type: 'image/jpeg' }), parts.imageName ?? 'photo.jpg');
  for (const [i, bytes] of (parts.images ?? []).entries()) f.append('image', new Blob([bytes], { type: 'image/jpeg' }), `photo-${i}.jpg`);
  if (parts.extraFile) f.append('image2', new Blob([parts.extraFile], { type: 'image/jpeg' }), 'second.jpg');
  for (const [k, v] of Object.entries(parts.fields ?? {})) f.append(k, v);
  return f;
}

async function post(route: string, body: FormData | string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, any> }> {
  const res = await fetch(`${server.url}${route}`, { method: 'POST', body, headers });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

/** A raw request (for bodies fetch will not send: wrong lengths, broken framing). */
function raw(route: string, headers: Record<string, string | number>, body: Buffer | string, method = 'POST'): Promise<{ status: number; json: Record<string, any> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.url}${route}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: { ...JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'), _headers: res.headers, _bytes: Buffer.concat(chunks).length } }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('endpoints', () => {
  test('GET /healthcheck reports what is loaded', async () => {
    const res = await fetch(`${server.url}/healthcheck`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, any>;
    assert.equal(body.status, 'ok');
    assert.equal(body.listings, listings.length);
    assert.deepEqual(Object.keys(body.indexes).sort(), ['fused', 'image', 'text']);
    assert.equal(body.indexes.image.rows, listings.reduce((s, l) => s + l.photos.length, 0));
    assert.ok(body.memory.rss_mb > 0);
    assert.equal(body.max_upload_bytes, MAX_UPLOAD);
  });

  test('POST /predict/category: image, text, both — each answered by its stage\'s predictor, named', async () => {
    for (const [parts, kind, model] of [
      [{ image: listings[0].photoBytes[0] }, 'image', 'tiny image model'],
      [{ fields: { title: 'Gaming laptop', description: 'ssd' } }, 'text', 'tiny text model'],
      [{ image: listings[0].photoBytes[0], fields: { title: 'Fridge freezer' } }, 'image+text', 'tiny late fusion'],
    ] as const) {
      const r = await post('/predict/category', form(parts));
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json.query, kind);
      assert.equal(r.json.model, model);
      assert.deepEqual(Object.keys(r.json.probabilities), CLASSES);
      const sum = Object.values(r.json.probabilities as Record<string, number>).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-4, `probabilities sum to ${sum}`);
      assert.ok(CLASSES.includes(r.json.predicted));
    }
  });

  test('several photos of one listing: aggregated as the image predictor does, up to 10', async () => {
    const l = listings[0];
    const both = await post('/predict/category', form({ images: l.photoBytes }));
    assert.equal(both.status, 200, JSON.stringify(both.json));
    assert.equal(both.json.query, 'image');
    // The served probabilities are the image predictor's for the listing's two photos, computed directly.
    const features = await Promise.all(l.photoBytes.map(async (b) => {
      const q = await service.encode({ images: [b] });
      return q.listing.photos[0];
    }));
    const [direct] = service.image.predict([{ photos: features, title: '', description: '' }]);
    for (const [i, c] of CLASSES.entries()) assert.ok(Math.abs(both.json.probabilities[c] - direct!.probabilities[i]) < 1e-5, c);
    const one = await post('/predict/category', form({ images: [l.photoBytes[0]] }));
    assert.notDeepEqual(one.json.probabilities, both.json.probabilities, 'the second photo counts');
    const similar = await post('/predict/similar', form({ images: l.photoBytes, fields: { k: '2' } }));
    assert.equal(similar.status, 200);
    assert.equal(similar.json.results[0].id, l.id);
    const fused = await post('/predict/similar', form({ images: l.photoBytes, fields: { title: l.title, description: l.description, k: '1' } }));
    assert.equal(fused.json.index, 'fused');
    assert.equal(fused.json.results[0].id, l.id, 'all photos + text is exactly the gallery vector of the listing');
    const eleven = await post('/predict/category', form({ images: Array.from({ length: 11 }, () => l.photoBytes[0]) }));
    assert.equal(eleven.status, 400, JSON.stringify(eleven.json));
    assert.match(eleven.json.error, /at most 10/);
  });

  test('POST /predict/feature_embedding returns the embeddings of what was sent', async () => {
    const both = await post('/predict/feature_embedding', form({ image: listings[1].photoBytes[0], fields: { title: 'Washing machine' } }));
    assert.equal(both.status, 200, JSON.stringify(both.json));
    assert.equal(both.json.image_embedding.length, 16);
    assert.equal(both.json.text_embedding.length, 16);
    assert.equal(both.json.fused_embedding.length, 32);
    assert.deepEqual(both.json.embedding, both.json.fused_embedding);
    const img = await post('/predict/feature_embedding', form({ image: listings[1].photoBytes[0] }));
    assert.equal(img.json.dim, 16);
    assert.equal(img.json.fused_embedding, undefined);
  });

  test('POST /predict/similar: a gallery photo finds its own listing first', async () => {
    for (const l of listings) {
      const r = await post('/predict/similar', form({ image: l.photoBytes[0], fields: { k: '3' } }));
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json.index, 'image');
      assert.equal(r.json.results.length, 3);
      const top = r.json.results.filter((x: any) => x.score > 0.999).map((x: any) => x.id);
      assert.ok(top.includes(l.id), `${l.id} not among the perfect matches ${JSON.stringify(r.json.results)}`);
      assert.equal(new Set(r.json.results.map((x: any) => x.id)).size, 3, 'listings are distinct');
      for (const x of r.json.results) {
        assert.equal(typeof x.title, 'string');
        assert.equal(typeof x.price, 'number');
        assert.ok(x.photo_id.startsWith('photo-'));
      }
      assert.ok(r.json.timings_ms.index_ms >= 0 && r.json.timings_ms.total_ms >= r.json.timings_ms.index_ms);
    }
  });

  test('POST /predict/similar: text (multipart and JSON) and image + text use their indexes', async () => {
    const l = listings[4];
    const text = await post('/predict/similar', form({ fields: { title: l.title, description: l.description } }));
    assert.equal(text.status, 200);
    assert.equal(text.json.index, 'text');
    assert.equal(text.json.results.length, 6, 'k defaults to 10, capped by the listings there are');
    assert.ok(text.json.results.filter((x: any) => x.score > 0.999).some((x: any) => x.id === l.id));
    const json = await post('/predict/similar', JSON.stringify({ title: l.title, description: l.description, k: 2 }), { 'content-type': 'application/json' });
    assert.equal(json.status, 200, JSON.stringify(json.json));
    assert.deepEqual(json.json.results, text.json.results.slice(0, 2));
    const both = await post('/predict/similar?k=2', form({ image: l.photoBytes[0], fields: { title: l.title, description: l.description } }));
    assert.equal(both.json.index, 'fused');
    assert.equal(both.json.results.length, 2);
  });
});

describe('bad input gets a 4xx with a reason, and the server keeps serving', () => {
  const cases: Array<[string, () => Promise<{ status: number; json: Record<string, any> }>, number, RegExp]> = [
    ['not an image', () => post('/predict/similar', form({ image: Buffer.from('just some text, not a photo at all'), imageName: 'x.jpg' })), 415, /not an image/],
    ['a non-photo image format (SVG)', () => post('/predict/category', form({ image: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>') })), 415, /not a photo: svg/],
    ['corrupt image (truncated JPEG)', async () => {
      const jpeg = await syntheticPhoto(99, 200, 160);
      return post('/predict/similar', form({ image: jpeg.subarray(0, Math.floor(jpeg.length * 0.6)) }));
    }, 400, /corrupt image/],
    ['empty image file', () => post('/predict/similar', form({ image: Buffer.alloc(0) })), 400, /empty/],
    ['empty body', () => raw('/predict/similar', { 'content-type': 'multipart/form-data; boundary=x', 'content-length': 0 }, ''), 400, /empty request body/],
    ['oversized upload', () => post('/predict/similar', form({ image: Buffer.alloc(MAX_UPLOAD * 3, 7) })), 413, /too large/],
    ['missing fields', () => post('/predict/similar', form({ fields: { k: '3' } })), 400, /missing fields/],
    ['blank text only', () => post('/predict/similar', form({ fields: { title: '   ' } })), 400, /missing fields/],
    ['k = 0', () => post('/predict/similar', form({ fields: { title: 'laptop', k: '0' } })), 400, /k must be a decimal integer from 1 to 50/],
    ['k = 0x10', () => post('/predict/similar', form({ fields: { title: 'laptop', k: '0x10' } })), 400, /k must be a decimal integer/],
    ['k = 1e1', () => post('/predict/similar?k=1e1', form({ fields: { title: 'laptop' } })), 400, /k must be a decimal integer/],
    ['k = " 5"', () => post('/predict/similar', form({ fields: { title: 'laptop', k: ' 5' } })), 400, /k must be a decimal integer/],
    ['k in the query and the form', () => post('/predict/similar?k=2', form({ fields: { title: 'laptop', k: '3' } })), 400, /"k" appears twice/],
    ['JSON title over the multipart field cap', () => post('/predict/similar', JSON.stringify({ title: 'x'.repeat(70 * 1024) }), { 'content-type': 'application/json' }), 413, /field "title" is too long \(limit 65536 bytes\)/],
    ['JSON that is not UTF-8', () => raw('/predict/similar', { 'content-type': 'application/json' }, Buffer.from([...Buffer.from('{"title": "caf'), 0xe9, ...Buffer.from('"}')])), 400, /not valid UTF-8/],
    ['multipart field that is not UTF-8', () => raw('/predict/similar', { 'content-type': 'multipart/form-data; boundary=b' },
      Buffer.concat([Buffer.from('--b\r\nContent-Disposition: form-data; name="title"\r\n\r\ncaf'), Buffer.from([0xe9]), Buffer.from('\r\n--b--\r\n')])), 400, /field "title" is not valid UTF-8/],
    ['a field sent twice (multipart)', () => { const f = form({ fields: { title: 'laptop' } }); f.append('title', 'sofa'); return post('/predict/similar', f); }, 400, /field "title" appears twice/],
    ['a field sent twice (JSON)', () => post('/predict/similar', '{"title": "laptop", "title": "sofa"}', { 'content-type': 'application/json' }), 400, /field "title" appears twice/],
    ['11 photos', () => { const f = new FormData(); for (let i = 0; i < 11; i++) f.append('image', new Blob([listings[0].photoBytes[0]]), `${i}.jpg`); return post('/predict/similar', f); }, 400, /at most 10 "image" files/],
    ['an elongated image (9,000,000 × 4 PNG header)', () => post('/predict/similar', form({ image: elongatedPng(9_000_000, 4), imageName: 'x.png' })), 413, /too large: 9000000×4 pixels|too elongated/],
    ['a 5000 × 40 strip', () => post('/predict/similar', form({ image: elongatedPng(5000, 40), imageName: 'x.png' })), 413, /too elongated: 5000×40 pixels \(aspect ratio limit 8:1\)/],
    ['a Host header naming another site (DNS rebinding)', () => raw('/predict/similar', { 'content-type': 'application/json', host: 'attacker.example:8080' }, JSON.stringify({ title: 'x' })), 403, /host "attacker\.example" is not served here/],
    ['k = 51', () => post('/predict/similar', form({ fields: { title: 'laptop', k: '51' } })), 400, /k must be a decimal integer/],
    ['k not a number', () => post('/predict/similar?k=abc', form({ fields: { title: 'laptop' } })), 400, /k must be a decimal integer/],
    ['two files', () => post('/predict/similar', form({ image: listings[0].photoBytes[0], extraFile: listings[0].photoBytes[0] })), 400, /too many files|unexpected file field/],
    ['unknown field', () => post('/predict/similar', form({ fields: { titel: 'laptop' } })), 400, /unexpected field "titel"/],
    ['unsupported content type', () => post('/predict/similar', 'title=laptop', { 'content-type': 'text/plain' }), 415, /unsupported content type/],
    ['multipart without a boundary', () => raw('/predict/similar', { 'content-type': 'multipart/form-data', 'content-length': 5 }, 'hello'), 400, /malformed multipart/],
    ['broken multipart framing', () => raw('/predict/similar', { 'content-type': 'multipart/form-data; boundary=abc' },
      '--abc\r\nContent-Disposition: form-data; name="title"\r\n\r\nlaptop'), 400, /malformed multipart|Unexpected end/],
    ['invalid JSON', () => post('/predict/similar', '{"title": ', { 'content-type': 'application/json' }), 400, /not valid JSON/],
    ['JSON that is not an object', () => post('/predict/similar', '[1, 2]', { 'content-type': 'application/json' }), 400, /must be an object/],
    ['oversized text field', () => post('/predict/similar', form({ fields: { description: 'word '.repeat(20000) } })), 413, /too long/],
  ];
  for (const [name, send, status, reason] of cases) {
    test(name, async () => {
      const r = await send();
      assert.equal(r.status, status, `${name}: ${JSON.stringify(r.json)}`);
      assert.match(String(r.json.error), reason);
    });
  }

  test('unknown route → 404, wrong method → 405', async () => {
    const a = await fetch(`${server.url}/predict/nothing`, { method: 'POST' });
    assert.equal(a.status, 404);
    const b = await fetch(`${server.url}/predict/similar`);
    assert.equal(b.status, 405);
    assert.equal(b.headers.get('allow'), 'POST');
    assert.match(((await b.json()) as { error: string }).error, /takes POST/);
  });

  test('still healthy after all of the above', async () => {
    const res = await fetch(`${server.url}/healthcheck`);
    assert.equal(res.status, 200);
    const r = await post('/predict/similar', form({ image: listings[2].photoBytes[0], fields: { k: '1' } }));
    assert.equal(r.status, 200);
  });
});

describe('hardening', () => {
  test('HEAD /healthcheck answers 200 without a body; /healthcheck shows no absolute path', async () => {
    const head = await raw('/healthcheck', {}, '', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.json._bytes, 0);
    const body = await (await fetch(`${server.url}/healthcheck`)).text();
    assert.ok(!body.includes(tmp), `healthcheck shows ${tmp}: ${body}`);
    assert.doesNotMatch(body, /"\/[^"]*\/[^"]*"/, 'no absolute path in any value');
    assert.equal(JSON.parse(body).status, 'ok');
    const get405 = await fetch(`${server.url}/healthcheck`, { method: 'DELETE' });
    assert.equal(get405.headers.get('allow'), 'GET, HEAD');
  });

  test('several photos (the "image" field repeated) are accepted', async () => {
    const f = new FormData();
    for (const l of listings.slice(0, 3)) f.append('image', new Blob([l.photoBytes[0]]), `${l.id}.jpg`);
    f.append('k', '2');
    const r = await post('/predict/similar', f);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.results.length, 2);
  });

  test('slow headers get 408 within the headers timeout, not 400', async () => {
    const srv = await startServer(service, { port: 0, headersTimeoutMs: 1000, requestTimeoutMs: 2000 });
    try {
      const net = await import('net');
      const t0 = Date.now();
      const reply = await new Promise<string>((resolve) => {
        const socket: import('net').Socket = net.connect(srv.port, '127.0.0.1', () => socket.write('GET /healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '));
        let text = '';
        socket.on('data', (c: Buffer) => (text += c));
        socket.on('close', () => resolve(text));
      });
      const seconds = (Date.now() - t0) / 1000;
      assert.match(reply, /^HTTP\/1\.1 408 /);
      assert.ok(seconds < 3, `closed after ${seconds} s`);
    } finally {
      await srv.close();
    }
  });

  test('the backbone batcher holds every view the photo queue admits (no 503 for an admitted request)', () => {
    assert.ok(DEFAULT_PHOTO_CONCURRENCY * MAX_PHOTOS * 2 <= PHOTO_BATCH_QUEUE, `${DEFAULT_PHOTO_CONCURRENCY} requests × ${MAX_PHOTOS} photos × 2 views > ${PHOTO_BATCH_QUEUE}`);
  });

  test('a full photo queue answers 503 with Retry-After; a spent budget answers 503', async () => {
    const busy = await startServer(service, { port: 0, photoConcurrency: 1, maxQueuedPhotos: 0 });
    try {
      const send = () => fetch(`${busy.url}/predict/category`, { method: 'POST', body: form({ image: listings[0].photoBytes[0] }) });
      const answers = await Promise.all(Array.from({ length: 6 }, send));
      const statuses = answers.map((a) => a.status);
      assert.ok(statuses.includes(200), String(statuses));
      const refused = answers.filter((a) => a.status === 503);
      assert.ok(refused.length > 0, `no 503 among ${statuses}`);
      assert.ok(Number(refused[0].headers.get('retry-after')) >= 1);
      assert.match(((await refused[0].json()) as { error: string }).error, /busy/);
    } finally {
      await busy.close();
    }
    const hurried = await startServer(service, { port: 0, requestBudgetMs: 1 });
    try {
      const r = await fetch(`${hurried.url}/predict/category`, { method: 'POST', body: form({ image: listings[1].photoBytes[0] }) });
      assert.equal(r.status, 503);
      assert.match(((await r.json()) as { error: string }).error, /longer than its 0\.001 s budget/);
    } finally {
      await hurried.close();
    }
  });

  // The documented bound (README "Limits"): hostile oversized/elongated photos are refused from
  // their header and never enter the photo queue, so a normal request waits behind them for at
  // most the request budget — in practice for nothing at all.
  test('8 hostile elongated images at once do not hold up a normal photo request', async () => {
    const hostile = elongatedPng(9_000_000, 4);
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    const attacks = Array.from({ length: 8 }, () => post('/predict/similar', form({ image: hostile, imageName: 'strip.png' })));
    const normalStart = performance.now();
    const normal = await post('/predict/similar', form({ image: listings[3].photoBytes[0], fields: { k: '2' } }));
    const normalMs = performance.now() - normalStart;
    const results = await Promise.all(attacks);
    const allMs = performance.now() - t0;
    assert.equal(normal.status, 200, JSON.stringify(normal.json));
    assert.ok(normalMs < 15_000, `normal request took ${normalMs} ms (bound: the 15 s request budget)`);
    assert.deepEqual(results.map((r) => r.status), new Array(8).fill(413));
    const growthMb = (process.memoryUsage().rss - rss0) / 2 ** 20;
    assert.ok(growthMb < 100, `RSS grew ${growthMb} MB`);
    console.log(`hostile load: normal request ${normalMs.toFixed(0)} ms, all 9 answered in ${allMs.toFixed(0)} ms, RSS growth ${growthMb.toFixed(1)} MB`);
  });
});

describe('a bundle serving notebook 05\'s fusion model', () => {
  test('photo + text queries use the fusion model for the fused index and the category', async () => {
    const dir = path.join(tmp, 'bundle-fusion-model');
    const built = await buildTinyBundle(dir, { fusion: 'model' });
    const svc = await SearchService.load(dir, { workers: 1 });
    const srv = await startServer(svc, { port: 0 });
    try {
      const l = built.listings[2];
      const f = new FormData();
      for (const bytes of l.photoBytes) f.append('image', new Blob([bytes], { type: 'image/jpeg' }), 'p.jpg');
      f.append('title', l.title);
      f.append('description', l.description);
      f.append('k', '2');
      const res = await fetch(`${srv.url}/predict/similar`, { method: 'POST', body: f });
      const body = (await res.json()) as Record<string, any>;
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(body.index, 'fused');
      assert.ok(body.results.filter((x: any) => x.score > 0.999).some((x: any) => x.id === l.id), JSON.stringify(body.results));
      assert.ok(body.timings_ms.predictor_ms >= 0);
      const cat = await fetch(`${srv.url}/predict/category`, { method: 'POST', body: f });
      const cb = (await cat.json()) as Record<string, any>;
      assert.equal(cb.model, 'tiny early fusion');
      const emb = (await (await fetch(`${srv.url}/predict/feature_embedding`, { method: 'POST', body: f })).json()) as Record<string, any>;
      assert.equal(emb.fused_embedding.length, 16);
    } finally {
      await srv.close();
      await svc.close();
    }
  });
});

describe('start-up', () => {
  test('a missing bundle is a clear error naming the file and the fix', async () => {
    const empty = fs.mkdtempSync(path.join(tmp, 'empty-'));
    await assert.rejects(SearchService.load(empty), (err: Error) => err instanceof MissingArtefactError && /manifest\.json/.test(err.message) && /run npm run pipeline first/.test(err.message));
  });

  test('a bundle with a file missing names that file', async () => {
    const copy = path.join(tmp, 'broken');
    fs.cpSync(path.join(tmp, 'bundle'), copy, { recursive: true });
    fs.rmSync(path.join(copy, 'index_text.usearch'));
    await assert.rejects(SearchService.load(copy), /missing .*index_text\.usearch.*run npm run pipeline first/);
  });

  test('settings: defaults to 127.0.0.1, flags and environment', () => {
    const d = parseSettings([], {});
    assert.equal(d.host, '127.0.0.1');
    assert.equal(d.port, 8080);
    assert.equal(d.maxUploadBytes, 10 * 2 ** 20);
    const f = parseSettings(['--', '--port', '0', '--max-upload-mb', '2', '--bundle', '/x'], { HOST: '0.0.0.0' });
    assert.deepEqual([f.host, f.port, f.maxUploadBytes, f.bundle], ['0.0.0.0', 0, 2 * 2 ** 20, '/x']);
    assert.equal(parseSettings([], { PORT: '9000', MAX_UPLOAD_MB: '1' }).maxUploadBytes, 2 ** 20);
    assert.throws(() => parseSettings(['--port', 'x']), /port must be an integer/);
    assert.throws(() => parseSettings(['--what']), /unknown argument --what/);
  });

  function runCli(args: string[], untilLine?: RegExp): Promise<{ code: number | null; out: string; err: string; url?: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/serve/main.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`CLI timed out: ${out} ${err}`)); }, 60_000);
      child.stdout.on('data', async (c) => {
        out += c;
        const m = untilLine && out.match(untilLine);
        if (m) {
          untilLine = undefined;
          try {
            const health = await fetch(`${m[1]}/healthcheck`);
            assert.equal(health.status, 200);
          } finally {
            child.kill('SIGTERM');
          }
          resolve({ code: null, out, err, url: m[1] });
          clearTimeout(timer);
        }
      });
      child.stderr.on('data', (c) => (err += c));
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, out, err });
      });
    });
  }

  test('npm run serve: starts on a bundle, on loopback', async () => {
    const r = await runCli(['--bundle', path.join(tmp, 'bundle'), '--port', '0', '--quiet'], /listening on (http:\/\/127\.0\.0\.1:\d+)/);
    assert.ok(r.url, `no listening line: ${r.out} ${r.err}`);
  });

  test('a taken port is reported before any model is loaded', async () => {
    const blocker = http.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as import('net').AddressInfo).port;
    try {
      const t0 = Date.now();
      const r = await runCli(['--bundle', path.join(tmp, 'nothing-here'), '--port', String(port)]);
      assert.equal(r.code, 1);
      assert.match(r.err, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
      assert.doesNotMatch(r.err, /manifest\.json|at .*\(/, 'no bundle was opened and no stack was printed');
      assert.ok(Date.now() - t0 < 30_000);
    } finally {
      blocker.close();
    }
  });

  test('npm run serve without artefacts exits 1 with the missing file and "run npm run pipeline first"', async () => {
    const r = await runCli(['--bundle', path.join(tmp, 'nothing-here'), '--port', '0']);
    assert.equal(r.code, 1);
    assert.match(r.err, /nothing-here\/manifest\.json/);
    assert.match(r.err, /run npm run pipeline first/);
  });
});

describe('a bundle where notebook 07 chose to re-rank photo queries', () => {
  test('photo results are ordered by the image predictor\'s belief in their category first (β large)', async () => {
    const dir = path.join(tmp, 'bundle-photo-rerank');
    const built = await buildTinyBundle(dir, { searchChoice: {
      photo: { index: 'head_embedding', rerankWeight: 1e6, validation: {} },
      listing: { embedding: 'concat', rerankWeight: 0, validation: {} },
    } });
    const svc = await SearchService.load(dir, { workers: 1 });
    try {
      for (const l of built.listings) {
        const q = await svc.encode({ images: [l.photoBytes[0]] });
        const found = svc.similar(q, 6);
        assert.equal(found.index, 'image');
        const p = found.results.map((r) => q.probabilities[CLASSES.indexOf(r.category)]);
        assert.equal(found.results.length, 6);
        // β · Δp outweighs any cosine gap (at most 2) once Δp > 2e-6.
        for (let i = 1; i < p.length; i++) assert.ok(p[i] <= p[i - 1] + 2e-6, `result ${i} (${found.results[i].category}) ranks after a less likely category: ${p.join(', ')}`);
        // The same query on the bundle without re-ranking: ordered by similarity alone.
        const plain = service.similar(await service.encode({ images: [l.photoBytes[0]] }), 6);
        assert.deepEqual(new Set(plain.results.map((r) => r.id)), new Set(found.results.map((r) => r.id)));
        for (let i = 1; i < plain.results.length; i++) assert.ok(plain.results[i].score <= plain.results[i - 1].score);
      }
    } finally {
      await svc.close();
    }
  });
});

describe('views per route: the backbone runs only the views a query\'s route reads', () => {
  test('photo + text: the fusion predictor\'s views; photo only: also those the whitened photo index averages', async () => {
    const dir = path.join(tmp, 'bundle-route-views');
    const built = await buildTinyBundle(dir, { imageViews: 1, whitenedPhotos: true });
    const svc = await SearchService.load(dir, { workers: 1 });
    try {
      assert.deepEqual(svc.views, { 'image+text': 1, image: 2, most: 2 });
      const l = built.listings[0];
      const both = await svc.listingOf({ images: l.photoBytes, title: l.title });
      assert.deepEqual(both.photos.map((v) => v.length), l.photoBytes.map(() => 1));
      const photoOnly = await svc.listingOf({ images: l.photoBytes });
      assert.deepEqual(photoOnly.photos.map((v) => v.length), l.photoBytes.map(() => 2));
      // The plain view is the same vector on either route, and the answers are the ones the full pass gives.
      assert.deepEqual(Array.from(both.photos[0][0]), Array.from(photoOnly.photos[0][0]));
      const all = await svc.listingOf({ images: l.photoBytes, title: l.title }, {}, svc.views.most);
      assert.deepEqual(Array.from(svc.run(both).probabilities), Array.from(svc.run(all).probabilities));
      const [s1, s2] = [svc.similar(svc.run(both), 3), svc.similar(svc.run(all), 3)];
      assert.equal(s1.index, 'fused');
      assert.deepEqual(s1.results, s2.results);
      // A photo-only query searches the whitened photo index with both views; it finds its own listing first.
      const found = svc.similar(svc.run(photoOnly), 3);
      assert.equal(found.index, 'image');
      assert.equal(found.results[0].id, l.id);
      await assert.rejects(svc.listingOf({ images: l.photoBytes }, {}, 3), /3 views asked/);
    } finally {
      await svc.close();
    }
  });
});
