/**
 * Photo-only search measured directly on a (full-profile) checkout's caches, without notebooks:
 * raw ResNet-50 avg_pool features (plain + mirrored views averaged when both are cached) vs the
 * same features PCA-whitened on the training photos (src/search/whitening.ts), for a few widths.
 *
 * Val photos choose (val → train gallery), test photos report (test → train + val gallery):
 * same-category precision@5 of the listings found (results de-duplicated per product, as notebook
 * 07 does) and same-item recall@10 (another photo of the same product among all photos but the query).
 *
 *   npx tsx scripts/measure_photo_search.ts [/path/to/checkout] [raw,512:0.5,…]   (default: this repository; candidates)
 *
 * Reads only: <checkout>/data/clean/{listings,splits,images}.json and the feature cache.
 */
import * as fs from 'fs';
import * as path from 'path';
import { initTf } from '../src/tf/runtime';
import { embeddingSet, EmbeddingSet, selectRows } from '../src/search/embedding_set';
import { photoSearchScores } from '../src/search/retrieval';
import { fitWhitening, whitenSet } from '../src/search/whitening';
import { photoDescriptor } from '../src/search/search_index';

const root = path.resolve(process.argv[2] ?? '.');
const clean = path.join(root, 'data', 'clean');
const dim = 2048;

/** Vectors of a feature store's .bin/.ids pair, read-only (complete records only). */
function readStore(base: string): Map<string, Float32Array> {
  const ids = fs.readFileSync(`${base}.ids`, 'utf8').split('\n');
  ids.pop();
  const bytes = fs.readFileSync(`${base}.bin`);
  const n = Math.min(ids.length, Math.floor(bytes.length / (4 * dim)));
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + n * 4 * dim));
  const out = new Map<string, Float32Array>();
  for (let i = 0; i < n; i++) if (!out.has(ids[i])) out.set(ids[i], all.subarray(i * dim, (i + 1) * dim));
  return out;
}

async function main(): Promise<void> {
  await initTf();
  const listings = JSON.parse(fs.readFileSync(path.join(clean, 'listings.json'), 'utf8')) as Array<{ id: string; mainCategory: string; imageIds: string[] }>;
  const splits = JSON.parse(fs.readFileSync(path.join(clean, 'splits.json'), 'utf8')) as { products: Record<string, string[]> };
  const splitOf = new Map<string, string>();
  for (const [s, ids] of Object.entries(splits.products)) for (const id of ids) splitOf.set(id, s);
  const categoryOf = new Map(listings.map((l) => [l.id, l.mainCategory]));
  const featureDir = path.join(clean, 'features');
  const bases = fs.readdirSync(featureDir).filter((f) => /^resnet50_.*avg_pool_224_.*\.bin$/.test(f)).map((f) => path.join(featureDir, f.replace(/\.bin$/, '')));
  const plainBase = bases.find((b) => !/_flip_/.test(path.basename(b)));
  if (!plainBase) throw new Error(`no plain ResNet-50 feature store in ${featureDir}`);
  const flipBase = bases.find((b) => /_flip_/.test(path.basename(b)));
  const plain = readStore(plainBase);
  const flip = flipBase ? readStore(flipBase) : new Map<string, Float32Array>();
  const photos = listings.flatMap((l) => l.imageIds.filter((id) => plain.has(id)).map((id) => ({ id, product: l.id })));
  const useFlip = photos.every((p) => flip.has(p.id));
  console.log(`photos with features: ${photos.length} of ${listings.reduce((n, l) => n + l.imageIds.length, 0)}; views: ${useFlip ? 'plain + mirrored' : 'plain only'}`);
  const vectors = new Float32Array(photos.length * dim);
  photos.forEach((p, i) => vectors.set(photoDescriptor(useFlip ? [plain.get(p.id)!, flip.get(p.id)!] : [plain.get(p.id)!], dim), i * dim));
  const raw = embeddingSet(photos.map((p) => p.id), dim, vectors);
  const productOf = new Map(photos.map((p) => [p.id, p.product]));
  const idsIn = (s: string[]) => photos.filter((p) => s.includes(splitOf.get(p.product) ?? '')).map((p) => p.id);

  const evaluate = (set: EmbeddingSet, querySplit: 'val' | 'test') => {
    const r = photoSearchScores(set, idsIn([querySplit]), idsIn(querySplit === 'val' ? ['train'] : ['train', 'val']), (id) => productOf.get(id) as string, (p) => categoryOf.get(p) as string);
    return { p_at_5: r.precision_at_5, same_item_recall_at_10: r.same_item_recall_at_10, same_item_hit_at_10: r.same_item_hit_rate_at_10, queries: r.queries, same_item_queries: r.same_item_queries };
  };

  const train = selectRows(raw, idsIn(['train']));
  // Candidates: 'raw' and 'components:power' pairs (argv[3], default raw,256:0.5,512:0.5,1024:0.5,512:0).
  const spec = (process.argv[3] ?? 'raw,256:0.5,512:0.5,1024:0.5,512:0').split(',');
  const candidates = spec.map((c) => {
    if (c === 'raw') return { name: 'raw avg_pool (L2)', set: () => raw };
    const [components, power] = c.split(':').map(Number);
    return { name: `whitened r=${components} power=${power}`, set: () => whitenSet(fitWhitening(train.vectors, dim, { components, power, seed: 1 }), raw) };
  });
  const rows: Array<Record<string, string | number>> = [];
  for (const c of candidates) {
    const t = Date.now();
    const set = c.set();
    const fitSeconds = Math.round((Date.now() - t) / 1000);
    const val = evaluate(set, 'val');
    const test = evaluate(set, 'test');
    const row = { candidate: c.name, val_p5: val.p_at_5, val_same_r10: val.same_item_recall_at_10, test_p5: test.p_at_5, test_same_r10: test.same_item_recall_at_10,
      test_same_hit10: test.same_item_hit_at_10, test_queries: test.queries, test_same_item_queries: test.same_item_queries, fit_seconds: fitSeconds, seconds: Math.round((Date.now() - t) / 1000) };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
  console.table(rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' && !Number.isInteger(v) ? Number(v.toFixed(4)) : v]))));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
