/**
 * The README's "Results" table, rendered from metrics.json so the README never quotes a number the
 * run did not record. `renderReadmeResults` is pure (metrics → markdown); `updateReadmeResults`
 * replaces the text between the README's results markers. The pipeline calls it after a full-profile
 * run of every notebook (a smoke run or a partial run leaves the README alone).
 */
import * as fs from 'fs';
import { MetricsFile } from '../metrics_store';
import { anchorOf } from './anchors';
import { fixed, formatWall, isObj, markdownTable, num, Obj, pct, wallTimes } from './report';

export const RESULTS_BEGIN = '<!-- results:begin (written by src/eval/readme_results.ts from outputs/metrics.json) -->';
export const RESULTS_END = '<!-- results:end -->';

const obj = (v: unknown): Obj => (isObj(v) ? v : {});
/** A signed number ("+1.12", "-0.37"); "—" when missing. */
const signed = (v: unknown, digits = 2): string => {
  const n = num(v);
  return n === undefined ? '—' : `${n >= 0 ? '+' : ''}${n.toFixed(digits)}`;
};
const text = (v: unknown): string => (v === undefined || v === null || v === '' ? '—' : String(v));
const seconds = (v: unknown): string => {
  const n = num(v);
  return n === undefined ? '—' : formatWall(n);
};

/** "without distillation" from an ablation key such as "short_no_distillation". */
function ablationLabel(key: string): string {
  const k = key.replace(/^short_/, '');
  if (k === 'recipe') return 'recipe';
  return k.startsWith('no_') ? `without ${k.slice(3).replace(/_/g, ' ')}` : k.replace(/_/g, ' ');
}

/** One wall-time line: "62m57s (00 38.5 s, 01 1m33s, …)", or null when the run has none recorded. */
export function wallLine(times: unknown): string | null {
  const { ids, seconds, total } = wallTimes(times);
  if (ids.length === 0) return null;
  return `${formatWall(total)} (${ids.map((k) => `${k} ${formatWall(seconds[k])}`).join(', ')})`;
}

/**
 * The wall-time line of a run: when the last pipeline ran every notebook of `times` several at a
 * time, its own wall time first (each notebook's time was measured beside another's, so their sum
 * is more than the run took), then the per-notebook line.
 */
function sideBySide(times: unknown, last: Obj): string | null {
  const line = wallLine(times);
  const { ids } = wallTimes(times);
  const ran = Array.isArray(last.notebooks) ? (last.notebooks as unknown[]).map(String) : [];
  if (!line || !(typeof last.jobs === 'number' && last.jobs > 1 && typeof last.seconds === 'number') || !ids.every((id) => ran.includes(id))) return line;
  return `${formatWall(last.seconds)}, up to ${last.jobs} notebooks at a time; each notebook's time, measured beside another's, sums to ${line}`;
}

function rows(m: MetricsFile): string[][] {
  const price = obj(m.price_regression);
  const loc = obj(m.price_location);
  const pixels = obj(m.pixel_logreg);
  const cnn = obj(m.cnn);
  const distil = obj(cnn.distillation);
  const ablation = obj(cnn.ablation_val_accuracy);
  const resnet = obj(m.resnet);
  const int8 = obj(m.resnet_int8);
  const textM = obj(m.text);
  const fusion = obj(m.fusion);
  const ret = obj(m.retrieval);
  const parity = obj(obj(m.serving).parity);
  const anchor = (stage: string) => anchorOf(stage)?.text ?? '—';
  const out: string[][] = [];
  if (Object.keys(price).length) {
    out.push(['price regression (01)',
      `${text(price.model).replace(/_/g, ' ')} on ln(price): R² ${fixed(price.r2_log)}, RMSE ${fixed(price.rmse_log)}; in £: R² ${fixed(price.r2)}, ` +
      `RMSE £${fixed(price.rmse, 0)}; location features add ${signed(loc.delta_val_r2_log, 5)} R² on validation (${signed(loc.delta_test_r2_log, 5)} test)`,
      anchor('price_regression')]);
  }
  if (Object.keys(pixels).length) {
    out.push(['pixel softmax regression (01)',
      `${pct(pixels.test_accuracy)} (chance ${pct(pixels.chance_uniform)}, majority ${pct(pixels.chance_majority)})`, anchor('pixel_logreg')]);
  }
  if (Object.keys(cnn).length) {
    const ab = Object.keys(ablation).filter((k) => k.startsWith('short_'))
      .sort((a, b) => (a === 'short_recipe' ? -1 : b === 'short_recipe' ? 1 : a.localeCompare(b)))
      .map((k) => `${ablationLabel(k)} ${pct(ablation[k])}`);
    out.push(['custom CNN (02)',
      `${pct(cnn.test_accuracy)} (photo level ${pct(cnn.test_image_accuracy)}), macro-F1 ${fixed(cnn.test_macro_f1)}, validation ${pct(cnn.val_accuracy)}: ` +
      `distilled (α ${text(distil.alpha)}, T ${text(distil.temperature)}) from cross-fitted ResNet-50 heads (${pct(distil.teacher_held_out_photo_accuracy)} on the photos they did not train on), ` +
      `${text(cnn.epochs_run)} epochs at ${text(cnn.image_size)} px, ${seconds(cnn.train_seconds)} of training` +
      (ab.length ? `; 1-epoch ablation on validation: ${ab.join(', ')}` : ''),
      anchor('cnn')]);
  }
  if (Object.keys(resnet).length) {
    out.push(['ResNet-50 transfer (03)',
      `${pct(resnet.test_accuracy)} (photo level ${pct(resnet.test_accuracy_image)}), macro-F1 ${fixed(resnet.test_macro_f1)}, validation ${pct(resnet.val_accuracy)}: ` +
      `${text(resnet.selected_step)} (${text(resnet.selection_rule)})` +
      (Object.keys(int8).length
        ? `; int8 backbone ${text(int8.int8_images_per_second)} vs fp32 ${text(int8.fp32_images_per_second)} img/s in 03, the selected model ${pct(int8.test_accuracy_int8)} on int8 ` +
          `features vs ${pct(int8.test_accuracy_fp32)} on fp32 (cosine ${fixed(int8.test_cosine_mean, 4)}); this run's features: ${text(int8.extracted_with)}`
        : ''),
      anchor('resnet')]);
  }
  if (Object.keys(textM).length) {
    out.push(['text (04)',
      `${pct(textM.test_accuracy)} [${pct(textM.test_accuracy_ci_low)}–${pct(textM.test_accuracy_ci_high)}], macro-F1 ${fixed(textM.test_macro_f1)}: ` +
      `TF-IDF + softmax (${pct(textM.tfidf_test_accuracy)}) blended with a GloVe text CNN (${pct(textM.cnn_test_accuracy)}), CNN weight ${text(textM.ensemble_weight_cnn)}`,
      anchor('text')]);
  }
  if (Object.keys(fusion).length) {
    out.push(['fusion (05)',
      `${pct(fusion.test_accuracy)} [${pct(fusion.test_accuracy_ci_low)}–${pct(fusion.test_accuracy_ci_high)}], validation ${pct(fusion.val_accuracy)}: ${text(fusion.model)}; ` +
      `vs text alone on the same products ${signed(fusion.vs_text_pp)} pp (paired 95 % CI ${signed(fusion.vs_text_pp_ci_low)} to ${signed(fusion.vs_text_pp_ci_high)})`,
      anchor('fusion')]);
  }
  if (Object.keys(ret).length) {
    out.push(['similar listings (07)',
      `listing queries (test → ${text(ret.gallery)} train + val listings, ${text(ret.embedding)}): same-category precision@5 ${fixed(ret.precision_at_5)} ` +
      `(re-ranked by the fused classifier ${fixed(ret.listing_precision_at_5_reranked)}), @1 ${fixed(ret.precision_at_1)}, MRR ${fixed(ret.mrr)}; ` +
      `photo-only queries (${text(ret.photo_index)}${ret.photo_rerank_weight ? `, re-ranked by the image classifier, β ${text(ret.photo_rerank_weight)}` : ''}): ` +
      `precision@5 ${fixed(ret.photo_precision_at_5)}, another photo of the same product in the top 10 ${fixed(ret.photo_same_item_recall_at_10)}` +
      `${ret.photo_rerank_weight ? ` (similarity alone ${fixed(ret.photo_precision_at_5_embedding_only)}, ${fixed(ret.photo_same_item_recall_at_10_embedding_only)})` : ''}; usearch HNSW recall@10 ${fixed(ret.ann_recall_at_10)}, ${text(ret.ann_query_p95_ms)} ms p95 per photo query`,
      'not measured']);
  }
  const parityCells = Object.entries(parity).filter(([, v]) => isObj(v)).sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}: served ${fixed((v as Obj).served, 4)}, report ${fixed((v as Obj).report, 4)}, ${text((v as Obj).listings)} listings`);
  if (parityCells.length) out.push(['served = measured (`npm run parity`)', parityCells.join('; '), '—']);
  return out;
}

/** The Results block (without markers): the table and the run's wall times. */
export function renderReadmeResults(m: MetricsFile): string {
  const run = obj(m.run);
  const lines = [
    markdownTable(['stage', 'result (test, product level)', 'anchor (published, leaky photo-level splits)'], rows(m)),
    '',
  ];
  const lastCold = obj(run.last_cold_pipeline);
  const lastWarm = obj(run.last_pipeline);
  const cold = sideBySide(run.cold_wall_seconds, lastCold);
  const warm = sideBySide(run.wall_seconds, lastWarm);
  const on = (last: Obj) => (last.machine ? ` on ${text(last.machine)}` : '');
  if (cold) lines.push(`Cold run (\`npm run pipeline -- --cold\`, every cache empty${lastCold.date ? `, finished ${text(lastCold.date).slice(0, 10)}` : ''}${on(lastCold)}): ${cold}.`, '');
  if (warm) lines.push(`Warm run (each notebook's latest \`npm run pipeline\`, caches in place${on(lastWarm)}): ${warm}.`, '');
  return lines.join('\n').trimEnd();
}

/** Replace the README's results block; false (README untouched) when its markers are missing. */
export function updateReadmeResults(readmePath: string, m: MetricsFile): boolean {
  const readme = fs.readFileSync(readmePath, 'utf8');
  const begin = readme.indexOf(RESULTS_BEGIN);
  const end = readme.indexOf(RESULTS_END);
  if (begin < 0 || end < begin) return false;
  const next = `${readme.slice(0, begin + RESULTS_BEGIN.length)}\n${renderReadmeResults(m)}\n${readme.slice(end)}`;
  if (next !== readme) fs.writeFileSync(readmePath, next);
  return true;
}
