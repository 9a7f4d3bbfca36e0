/**
 * Parity check: `npm run parity` (PROFILE=smoke for the smoke bundle).
 *
 * Runs the serving code — the bundle notebook 07 assembled, SearchService, from photo bytes on
 * disk and text as a client sends them — over every TEST listing, once per route, and compares
 * the served accuracy with what the report says each stage's selected model scores:
 *
 *   category_photo  listings with photos, photos only   vs resnet.test_accuracy (03)
 *   category_text   every listing, title + description  vs text.test_accuracy   (04)
 *   category_fused  every listing, all it has           vs fusion.test_accuracy (05)
 *
 * Prints `parity <route>: served <acc>, report <acc>, listings <n>` per route, records them in
 * metrics.json under serving.parity, and exits 1 when a route differs by more than 0.5 pp.
 */
import * as fs from 'fs';
import * as path from 'path';
import { PROFILE } from '../src/config';
import { artifactPath } from '../src/artifacts/registry';
import { openDataset, IMAGE_SOURCE_DIR } from '../src/data/dataset';
import { readMetrics, recordMetrics } from '../src/metrics_store';
import { argmax } from '../src/eval/metrics';
import { progress } from '../src/progress';
import { SearchService } from '../src/serve/service';
import type { ListingInput } from '../src/predictors/predictor';

const TOLERANCE_PP = 0.5;
const ROUTES = [
  { route: 'category_photo', stage: 'resnet', photos: true, text: false },
  { route: 'category_text', stage: 'text', photos: false, text: true },
  { route: 'category_fused', stage: 'fusion', photos: true, text: true },
] as const;

async function main(): Promise<number> {
  const bundle = artifactPath('serving_bundle');
  const service = await SearchService.load(bundle);
  const data = await openDataset();
  const rows = data.productRows('test');
  const metrics = readMetrics();
  const correct = Object.fromEntries(ROUTES.map((r) => [r.route, { right: 0, n: 0 }]));
  const bar = progress(rows.length, `parity (${PROFILE.name}, ${rows.length} test listings)`);
  let next = 0;
  // A few listings at a time keep both backbone workers busy.
  const worker = async () => {
    while (next < rows.length) {
      const r = rows[next++];
      const images = r.imageIds.map((id) => fs.readFileSync(path.join(IMAGE_SOURCE_DIR, `${id}.jpg`)));
      // Every view any route reads, once; each route then reads what it reads.
      const full = await service.listingOf({ images, title: r.title, description: r.description }, {}, service.views.most);
      for (const route of ROUTES) {
        if (route.photos && !route.text && full.photos.length === 0) continue;
        const listing: ListingInput = { photos: route.photos ? full.photos : [], title: route.text ? full.title : '', description: route.text ? full.description : '' };
        const answer = service.run(listing);
        const c = correct[route.route];
        c.n++;
        if (argmax(answer.probabilities) === r.label) c.right++;
      }
      bar.tick();
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  bar.done();
  await service.close();

  const parity: Record<string, { served: number; report: number; listings: number }> = {};
  let worst = 0;
  for (const route of ROUTES) {
    const c = correct[route.route];
    const report = Number((metrics[route.stage] ?? {}).test_accuracy);
    if (!Number.isFinite(report)) throw new Error(`metrics.json has no ${route.stage}.test_accuracy: run the pipeline first`);
    const served = c.right / c.n;
    parity[route.route] = { served: Math.round(served * 1e4) / 1e4, report, listings: c.n };
    worst = Math.max(worst, Math.abs(served - report) * 100);
    console.log(`parity ${route.route}: served ${served.toFixed(4)}, report ${report.toFixed(4)}, listings ${c.n}`);
  }
  recordMetrics('serving', { parity, parity_bundle: path.relative(process.cwd(), bundle), parity_date: new Date().toISOString() });
  if (worst > TOLERANCE_PP) {
    console.log(`parity FAILED: a route differs from the report by ${worst.toFixed(2)} pp (tolerance ${TOLERANCE_PP} pp)`);
    return 1;
  }
  console.log(`parity ok: every route within ${TOLERANCE_PP} pp of the report (worst ${worst.toFixed(2)} pp)`);
  return 0;
}

main().then((code) => process.exit(code), (err) => {
  console.error(`parity: ${(err as Error).message}`);
  process.exit(1);
});
