/**
 * The README's results block: rendered from metrics.json only (recorded numbers appear, missing
 * stages are left out, missing values show "—"), both wall-time lines with totals, and the block
 * between the markers replaced without touching the rest of the README.
 */
import { after, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { renderReadmeResults, RESULTS_BEGIN, RESULTS_END, updateReadmeResults, wallLine } from '../src/eval/readme_results';
import type { MetricsFile } from '../src/metrics_store';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'readme-results-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const metrics: MetricsFile = {
  run: { wall_seconds: { '01': 70.5, '00': 50 }, cold_wall_seconds: { '00': 400, '02': 3000 },
    last_cold_pipeline: { date: '2026-12-02T15:00:00.000Z' }, last_pipeline: { machine: '2 × Test CPU' } },
  cnn: { test_accuracy: 0.3531, test_image_accuracy: 0.337, test_macro_f1: 0.314, val_accuracy: 0.369, epochs_run: 16, image_size: 64, train_seconds: 2280,
    distillation: { alpha: 0.7, temperature: 2, teacher_held_out_photo_accuracy: 0.562 },
    ablation_val_accuracy: { recipe: 0.369, short_no_distillation: 0.15, short_recipe: 0.189, short_no_augmentation: 0.162 } },
  fusion: { test_accuracy: 0.8612, test_accuracy_ci_low: 0.84, test_accuracy_ci_high: 0.88, val_accuracy: 0.85, model: 'stacked',
    vs_text_pp: 2.5, vs_text_pp_ci_low: -0.37, vs_text_pp_ci_high: 4 },
  serving: { parity: { category_text: { served: 0.8136, report: 0.8136, listings: 1073 } } },
};

describe('renderReadmeResults', () => {
  const md = renderReadmeResults(metrics);

  test('quotes the recorded numbers of the stages that ran, and only those', () => {
    assert.match(md, /\| custom CNN \(02\) \| 35\.3 % \(photo level 33\.7 %\), macro-F1 0\.314, validation 36\.9 %/);
    assert.match(md, /16 epochs at 64 px, 38m00s of training/);
    assert.match(md, /86\.1 % \[84\.0 %–88\.0 %\].*\+2\.50 pp \(paired 95 % CI -0\.37 to \+4\.00\)/);
    assert.match(md, /category_text: served 0\.8136, report 0\.8136, 1073 listings/);
    assert.doesNotMatch(md, /ResNet-50 transfer|price regression|similar listings/);
  });

  test('lists the ablation with the recipe first and readable lever names', () => {
    assert.match(md, /1-epoch ablation on validation: recipe 18\.9 %, without augmentation 16\.2 %, without distillation 15\.0 %/);
  });

  test('a value the run did not record shows as a dash, never as a number', () => {
    const partial = renderReadmeResults({ cnn: { test_accuracy: 0.3 } });
    assert.match(partial, /30\.0 % \(photo level —\), macro-F1 —, validation —/);
  });

  test('wall-time lines carry the total and every notebook in order', () => {
    assert.equal(wallLine(metrics.run.wall_seconds), '2m01s (00 50.0 s, 01 1m11s)');
    assert.match(md, /Cold run .*finished 2026-12-02\): 56m40s \(00 6m40s, 02 50m00s\)\./);
    assert.match(md, /Warm run \(.*caches in place on 2 × Test CPU\): 2m01s/);
    assert.doesNotMatch(md, /Cold run [^\n]* on /, 'no machine recorded for the cold run: none printed');
    assert.equal(wallLine(undefined), null);
  });
});

describe('updateReadmeResults', () => {
  test('replaces only the block between the markers', () => {
    const file = path.join(tmp, 'README.md');
    fs.writeFileSync(file, `# Title\n\n## Results\n\n${RESULTS_BEGIN}\nold table 99 %\n${RESULTS_END}\n\nAfter.\n`);
    assert.equal(updateReadmeResults(file, metrics), true);
    const out = fs.readFileSync(file, 'utf8');
    assert.ok(out.startsWith('# Title\n\n## Results\n\n'));
    assert.ok(out.endsWith(`${RESULTS_END}\n\nAfter.\n`));
    assert.doesNotMatch(out, /old table/);
    assert.match(out, /35\.3 %/);
  });

  test('leaves a README without markers untouched', () => {
    const file = path.join(tmp, 'plain.md');
    fs.writeFileSync(file, '# Plain\n');
    assert.equal(updateReadmeResults(file, metrics), false);
    assert.equal(fs.readFileSync(file, 'utf8'), '# Plain\n');
  });
});

test('a pipeline that ran notebooks side by side leads with its own wall time, not the sum of theirs', () => {
  const md = renderReadmeResults({ run: { wall_seconds: { '00': 50, '01': 70.5 }, last_pipeline: { notebooks: ['00', '01'], jobs: 2, seconds: 95, machine: 'M' } } });
  assert.match(md, /Warm run \(each notebook's latest `npm run pipeline`, caches in place on M\): 1m35s, up to 2 notebooks at a time; each notebook's time, measured beside another's, sums to 2m01s \(00 50\.0 s, 01 1m11s\)\./);
  // A partial side-by-side run says nothing about the whole pipeline's wall time.
  const partial = renderReadmeResults({ run: { wall_seconds: { '00': 50, '01': 70.5 }, last_pipeline: { notebooks: ['01'], jobs: 2, seconds: 71 } } });
  assert.match(partial, /caches in place\): 2m01s \(00 50\.0 s, 01 1m11s\)\./);
});
