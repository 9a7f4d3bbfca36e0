/**
 * REPORT.md: run info and wall times (with a total), the common-test-set table with intervals and
 * anchors, per-class F1, price regression, fusion candidates, retrieval when present, and figure
 * links relative to the report; a smoke profile is flagged; writeReport writes where it is told.
 */
import { after, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { formatWall, markdownTable, renderReport, writeReport, MachineInfo } from '../src/eval/report';
import type { MetricsFile } from '../src/metrics_store';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'report-test-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const machine: MachineInfo = { cpuModel: 'Test CPU 3000', cpuCount: 2, memoryGiB: 24, os: 'Linux 6 (x64)', node: 'v20.0.0' };

const metrics: MetricsFile = {
  run: { profile: 'full', date: '2026-12-01T10:00:00.000Z', backend: 'wasm', wall_seconds: { '00': 50, '01': 70.5, '05': 30 },
    last_pipeline: { notebooks: ['00', '01', '05'], seconds: 151, date: '2026-12-01T10:02:31.000Z' } },
  price_regression: { model: 'elastic_net', r2: 0.29, rmse: 441.3, mae: 161, r2_log: 0.452, rmse_log: 1.333, mae_log: 0.971, n_test: 1053 },
  pixel_logreg: { test_accuracy: 0.1786, test_macro_f1: 0.156, test_log_loss: 2.47, val_accuracy: 0.19, n_test_products: 1058 },
  fusion: { test_accuracy: 0.87, test_macro_f1: 0.86, test_log_loss: 0.5, val_accuracy: 0.86, chosen_model: 'late', photo_combination: 'mean of photos',
    candidates: { early: { label: 'early fusion', val_accuracy: 0.8, test_accuracy: 0.81, test_macro_f1: 0.8, test_log_loss: 0.7 },
      late: { label: 'late fusion', val_accuracy: 0.86, test_accuracy: 0.87, test_macro_f1: 0.86, test_log_loss: 0.5 } } },
  evaluation: {
    test_products_common: 1058, test_products_without_photos: 15, bootstrap_iterations: 1000, classes: ['Appliances', 'Baby | Kids'],
    order: ['pixel_logreg', 'fusion'],
    models: {
      pixel_logreg: { notebook: '01', label: 'pixel softmax regression', short_label: 'pixels', accuracy: 0.18, accuracy_ci_low: 0.16, accuracy_ci_high: 0.2,
        macro_f1: 0.15, log_loss: 2.4, top3_accuracy: 0.4, ece: 0.05, per_class_f1: [0.1, 0.2] },
      fusion: { notebook: '05', label: 'fusion (late)', short_label: 'fusion', accuracy: 0.87, accuracy_ci_low: 0.85, accuracy_ci_high: 0.89,
        macro_f1: 0.86, log_loss: 0.5, top3_accuracy: 0.97, ece: 0.03, per_class_f1: [0.9, 0.8] },
    },
    paired_differences: { fusion_vs_text: { label: 'fusion − text', difference: 0.02, ci_low: 0.01, ci_high: 0.03 } },
  },
  retrieval: { precision_at_1: 0.7, precision_at_5: 0.65, gallery: 312, index: { kind: 'hnsw', recall_at_10: 0.99 } },
};

describe('renderReport', () => {
  const md = renderReport({ metrics, figures: ['06_accuracy_vs_anchors.png', '03_steps.png', '00_categories.png', 'notes.txt'], figuresRel: 'figures', machine, generated: new Date('2026-12-01T11:00:00Z') });

  test('run info: profile, dates, machine, backend; wall time per notebook with a total', () => {
    assert.match(md, /\| profile \| full \|/);
    assert.match(md, /2 × Test CPU 3000, 24 GiB memory/);
    assert.match(md, /\| TensorFlow.js backend \| wasm \|/);
    assert.match(md, /\| 01 \| shallow baselines \| 1m11s \|/);
    assert.match(md, /\| total \| 3 notebooks \| 2m31s \|/);
    assert.match(md, /notebooks 00 01 05, 2m31s in all/);
    assert.doesNotMatch(md, /NOT results/);
  });

  test('common test set: accuracy with its interval, anchors labelled as leaky; per-class F1; paired differences', () => {
    assert.match(md, /1058 test products are predicted by every model/);
    assert.match(md, /15 test listings have no photo/);
    assert.match(md, /\| 05 \| fusion \(late\) \| 87\.0 % \[85\.0 % – 89\.0 %\] \| 0\.860 \|/);
    assert.match(md, /peers 85 % val, 77 % test/);
    assert.match(md, /leaky/);
    assert.match(md, /\| Baby \\\| Kids \| 0\.20 \| 0\.80 \|/);
    assert.match(md, /\| fusion − text \| 2\.0 pp \[1\.0 – 3\.0\] \|/);
  });

  test('stage tables, price regression, fusion candidates, retrieval', () => {
    assert.match(md, /\| 01 \| softmax regression on pixels \|  \| 17\.9 % \|/);
    assert.match(md, /\| elastic_net \| 0\.452 \| 1\.333 \|/);
    assert.match(md, /seeds' best R² 0\.088/);
    assert.match(md, /Chosen on validation: \*\*late\*\*/);
    assert.match(md, /\| late fusion \| 86\.0 % \| 87\.0 % \|/);
    assert.match(md, /## Similar listings \(07\)/);
    assert.match(md, /\| precision_at_5 \| 0\.6500 \|/);
    assert.match(md, /\| index\.recall_at_10 \| 0\.9900 \|/);
    assert.match(md, /\| gallery \| 312 \|/);
    assert.match(md, /\| index\.kind \| hnsw \|/);
  });

  test('figures: key ones inline, others linked by notebook, paths relative to the report', () => {
    assert.match(md, /!\[Test accuracy of every model[^\]]*\]\(figures\/06_accuracy_vs_anchors\.png\)/);
    assert.match(md, /- 00 \(data cleaning, split, image caches\): \[00_categories\]\(figures\/00_categories\.png\)/);
    assert.match(md, /\[03_steps\]\(figures\/03_steps\.png\)/);
    assert.doesNotMatch(md, /notes\.txt/);
  });

  test('a smoke profile is flagged; missing sections are left out', () => {
    const smoke = renderReport({ metrics: { run: { profile: 'smoke' } }, figures: [], figuresRel: 'figures', machine, generated: new Date() });
    assert.match(smoke, /NOT results/);
    assert.doesNotMatch(smoke, /Similar listings/);
    assert.doesNotMatch(smoke, /same test products/);
    assert.match(smoke, /No figures yet/);
  });
});

describe('helpers', () => {
  test('formatWall and markdownTable', () => {
    assert.equal(formatWall(42), '42.0 s');
    assert.equal(formatWall(125.4), '2m05s');
    assert.equal(markdownTable(['a', 'b'], [['1', 'x|y']]), '| a | b |\n| --- | --- |\n| 1 | x\\|y |');
  });
});

describe('writeReport', () => {
  test('writes REPORT.md in the report folder with figure links relative to it', () => {
    const reportDir = path.join(tmp, 'out');
    const figuresDir = path.join(reportDir, 'figures');
    fs.mkdirSync(figuresDir, { recursive: true });
    fs.writeFileSync(path.join(figuresDir, '06_calibration.png'), 'png');
    const metricsFile = path.join(reportDir, 'metrics.json');
    fs.writeFileSync(metricsFile, JSON.stringify({ run: { profile: 'smoke', wall_seconds: { '06': 12 } } }));
    const file = writeReport({ metricsFile, reportDir, figuresDir, machine });
    assert.equal(file, path.join(reportDir, 'REPORT.md'));
    const md = fs.readFileSync(file, 'utf8');
    assert.match(md, /\(figures\/06_calibration\.png\)/);
    assert.match(md, /\| 06 \| evaluation, this report \| 12\.0 s \|/);
  });
});
