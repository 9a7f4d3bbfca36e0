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
import { initTf } from '../src/tf/runtime';
import { SearchService } from '../src/serve/service';
import { startServer, RunningServer } from '../src/serve/server';
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
function raw(route: string, headers: Record<string, string | number>, body: Buffer | string): Promise<{ status: number; json: Record<string, any> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.url}${route}`, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') }));
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
    ['k = 0', () => post('/predict/similar', form({ fields: { title: 'laptop', k: '0' } })), 400, /k must be an integer from 1 to 50/],
    ['k = 51', () => post('/predict/similar', form({ fields: { title: 'laptop', k: '51' } })), 400, /k must be an integer/],
    ['k not a number', () => post('/predict/similar?k=abc', form({ fields: { title: 'laptop' } })), 400, /k must be an integer/],
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

  test('npm run serve without artefacts exits 1 with the missing file and "run npm run pipeline first"', async () => {
    const r = await runCli(['--bundle', path.join(tmp, 'nothing-here'), '--port', '0']);
    assert.equal(r.code, 1);
    assert.match(r.err, /nothing-here\/manifest\.json/);
    assert.match(r.err, /run npm run pipeline first/);
  });
});
