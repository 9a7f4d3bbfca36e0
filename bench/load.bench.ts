/**
 * `bench load`: a bounded load test of the search service on loopback. Starts the real service
 * (`src/serve/main.ts`, as `npm run serve` does) on the serving bundle notebook 07 wrote — the
 * full profile's when it exists, else the smoke profile's (BENCH_PROFILE=smoke|full to choose) —
 * then sends LOAD_REQUESTS (default 300) POST /predict/similar requests, LOAD_CONCURRENCY (default
 * 4) at a time, after a few warm-up requests. Each request is a real listing photo (the original
 * file from data/raw/images) plus its title, k = 10: the full query (decode, ResNet-50 on the views
 * the photo + text route reads, heads, text CNN, fusion, fused index). LOAD_QUERY=image|text|both
 * picks another kind.
 *
 * Reports throughput, end-to-end latency p50/p95 (client side), the index query p95 (the
 * service's own timing of the usearch search, in each response) and the process's resident memory
 * before and after (from /healthcheck), ending with the line
 *   load similar: requests <n>, errors <n>, p50 <ms> ms, p95 <ms> ms, index_p95 <ms> ms, rss_growth <MB> MB
 * then the same for text-only queries (title, no photo: tokeniser, text CNN, text index):
 *   load text: requests <n>, errors <n>, p50 <ms> ms, p95 <ms> ms, index_p95 <ms> ms, rss_growth <MB> MB
 * Not a comparison against a reference implementation: the goals are 0 errors, index p95 ≤ 5 ms
 * and end-to-end p95 ≤ 300 ms on this machine.
 */
import { spawn, ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { PATHS } from '../src/config';
import { defaultBundleDir, ServingListing } from '../src/serve/bundle';
import { percentile } from '../src/search/retrieval';

export const name = 'load';

const REQUESTS = Number(process.env.LOAD_REQUESTS ?? 300);
const CONCURRENCY = Number(process.env.LOAD_CONCURRENCY ?? 4);
const WARMUP = Number(process.env.LOAD_WARMUP ?? 8);
const QUERY = (process.env.LOAD_QUERY ?? 'both') as 'image' | 'text' | 'both';

function findBundle(): { dir: string; profile: string } {
  const wanted = process.env.BENCH_PROFILE ? [process.env.BENCH_PROFILE] : ['full', 'smoke'];
  for (const profile of wanted) {
    const dir = defaultBundleDir(profile);
    if (fs.existsSync(path.join(dir, 'manifest.json'))) return { dir, profile };
  }
  throw new Error(`no serving bundle under outputs/models/{${wanted.join(',')}}/serving: run npm run pipeline first (notebook 07 writes it; PROFILE=smoke npm run pipeline -- 07 for a quick one)`);
}

function startService(bundle: string): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(PATHS.root, 'src/serve/main.ts'), '--bundle', bundle, '--port', '0', '--quiet'],
      { cwd: PATHS.root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`the service did not start in 120 s: ${err.trim()}`)); }, 120_000);
    child.stdout!.on('data', (c) => {
      out += c;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    });
    child.stderr!.on('data', (c) => (err += c));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the service exited with code ${code}: ${err.trim().split('\n').slice(-3).join(' / ')}`));
    });
  });
}

async function rssMb(url: string): Promise<number> {
  const h = (await (await fetch(`${url}/healthcheck`)).json()) as { memory: { rss_mb: number } };
  return h.memory.rss_mb;
}

export async function run(): Promise<void> {
  const { dir, profile } = findBundle();
  const listings = JSON.parse(fs.readFileSync(path.join(dir, 'listings.json'), 'utf8')) as ServingListing[];
  const imagesDir = path.join(PATHS.raw, 'images');
  const pool = listings.filter((l) => l.photos.length > 0 && fs.existsSync(path.join(imagesDir, `${l.photos[0]}.jpg`))).slice(0, 200);
  if (pool.length === 0) throw new Error(`no listing photo found under ${imagesDir}`);
  const photos = pool.map((l) => fs.readFileSync(path.join(imagesDir, `${l.photos[0]}.jpg`)));
  const formFor = (i: number, query: typeof QUERY): FormData => {
    const f = new FormData();
    const l = pool[i % pool.length];
    if (query !== 'text') f.append('image', new Blob([photos[i % pool.length]], { type: 'image/jpeg' }), 'photo.jpg');
    if (query !== 'image') f.append('title', l.title);
    f.append('k', '10');
    return f;
  };

  const { child, url } = await startService(dir);
  try {
    const send = async (i: number, query: typeof QUERY): Promise<{ ok: boolean; ms: number; indexMs: number; stages?: Record<string, number>; error?: string }> => {
      const t0 = performance.now();
      try {
        const res = await fetch(`${url}/predict/similar`, { method: 'POST', body: formFor(i, query) });
        const body = (await res.json()) as { results?: unknown[]; timings_ms?: Record<string, number> & { index_ms: number }; error?: string };
        const ms = performance.now() - t0;
        if (res.status !== 200 || !Array.isArray(body.results) || body.results.length === 0) return { ok: false, ms, indexMs: NaN, error: `${res.status} ${body.error ?? ''}` };
        return { ok: true, ms, indexMs: body.timings_ms?.index_ms ?? NaN, stages: body.timings_ms };
      } catch (err) {
        return { ok: false, ms: performance.now() - t0, indexMs: NaN, error: (err as Error).message };
      }
    };
    /** WARMUP then REQUESTS queries of one kind, CONCURRENCY at a time; prints the two lines `load <label>: …`. */
    const measure = async (label: string, query: typeof QUERY) => {
      for (let i = 0; i < WARMUP; i++) await send(i, query);
      const rssBefore = await rssMb(url);
      const results: Array<Awaited<ReturnType<typeof send>>> = [];
      let next = 0;
      const started = performance.now();
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (next < REQUESTS) {
          const i = next++;
          results.push(await send(WARMUP + i, query));
        }
      }));
      const seconds = (performance.now() - started) / 1000;
      const rssAfter = await rssMb(url);
      const ok = results.filter((r) => r.ok);
      const errors = results.length - ok.length;
      if (errors) console.log(`first errors: ${results.filter((r) => !r.ok).slice(0, 3).map((r) => r.error).join(' | ')}`);
      const lat = ok.map((r) => r.ms);
      const idx = ok.map((r) => r.indexMs).filter((v) => Number.isFinite(v));
      const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');
      console.log(`load ${label}: bundle ${profile} (${listings.length} listings), query ${query === 'both' ? 'photo + title' : query}, k 10, concurrency ${CONCURRENCY}, ` +
        `${WARMUP} warm-up requests; throughput ${(results.length / seconds).toFixed(2)} req/s; rss ${rssBefore.toFixed(1)} → ${rssAfter.toFixed(1)} MB`);
      // Where the time goes: the service's own timing of each stage (median over the requests).
      const stageNames = [...new Set(ok.flatMap((r) => Object.keys(r.stages ?? {})))];
      console.log(`load ${label}: stage medians (service side) ${stageNames.map((k) => `${k} ${f1(percentile(ok.map((r) => r.stages?.[k] ?? NaN).filter(Number.isFinite), 50))}`).join(', ')}`);
      console.log(`load ${label}: requests ${results.length}, errors ${errors}, p50 ${f1(lat.length ? percentile(lat, 50) : NaN)} ms, p95 ${f1(lat.length ? percentile(lat, 95) : NaN)} ms, ` +
        `index_p95 ${idx.length ? percentile(idx, 95).toFixed(3) : 'n/a'} ms, rss_growth ${(rssAfter - rssBefore).toFixed(1)} MB`);
    };
    await measure('similar', QUERY);
    await measure('text', 'text');
  } finally {
    child.kill('SIGTERM');
  }
}
