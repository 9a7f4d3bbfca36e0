/**
 * Evaluation helpers of notebook 06: reliability bins and ECE, aligning stages on their common
 * products, and the anchors.
 */
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { expectedCalibrationError, reliabilityBins } from '../src/eval/calibration';
import { alignOnCommonProducts } from '../src/eval/compare';
import { ANCHORS, anchorOf } from '../src/eval/anchors';
import { anchorsFigure, perClassF1Figure, reliabilityFigure } from '../src/plot/evaluation_figures';

describe('calibration', () => {
  test('bins by the largest probability; accuracy and confidence per bin; ECE', () => {
    const probs = [[0.95, 0.05], [0.9, 0.1], [0.35, 0.65], [0.4, 0.6]];
    const labels = [0, 1, 1, 1];
    const bins = reliabilityBins(labels, probs, 10);
    assert.equal(bins.length, 10);
    assert.equal(bins[9].count, 2);
    assert.ok(Math.abs(bins[9].confidence - 0.925) < 1e-12);
    assert.equal(bins[9].accuracy, 0.5);
    assert.equal(bins[6].count, 2); // 0.65 and 0.6
    assert.equal(bins[6].accuracy, 1);
    assert.ok(Math.abs(bins[6].confidence - 0.625) < 1e-12);
    assert.ok(Number.isNaN(bins[0].accuracy));
    // ECE = 2/4·|0.5−0.925| + 2/4·|1−0.625|
    assert.ok(Math.abs(expectedCalibrationError(bins) - (0.5 * 0.425 + 0.5 * 0.375)) < 1e-12);
  });

  test('a confidence of exactly 1 lands in the last bin; a calibrated model has ECE 0', () => {
    const bins = reliabilityBins([0, 1], [[1, 0], [0, 1]], 5);
    assert.equal(bins[4].count, 2);
    assert.equal(expectedCalibrationError(bins), 0);
    assert.throws(() => reliabilityBins([0], [[1, 0], [0, 1]]), /labels/);
  });
});

describe('alignOnCommonProducts', () => {
  const image = { productIds: ['a', 'b', 'c'], labels: [0, 1, 0], probs: [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]] };
  const text = { productIds: ['d', 'c', 'b', 'a'], labels: [1, 0, 1, 0], probs: [[0, 1], [1, 0], [0.5, 0.5], [0.7, 0.3]] };

  test('keeps the products every stage has, rows in one order, and says what is missing', () => {
    const al = alignOnCommonProducts({ image, text });
    assert.deepEqual(al.productIds, ['a', 'b', 'c']);
    assert.deepEqual(al.labels, [0, 1, 0]);
    assert.deepEqual(al.probs.text, [[0.7, 0.3], [0.5, 0.5], [1, 0]]);
    assert.deepEqual(al.counts, { image: 3, text: 4 });
    assert.deepEqual(al.missing, [{ productId: 'd', missingFrom: ['image'] }]);
  });

  test('stages that disagree on a label are an error', () => {
    assert.throws(() => alignOnCommonProducts({ image, text: { ...text, labels: [1, 1, 1, 0] } }), /disagree on the label of product c/);
  });
});

describe('anchors and figures', () => {
  test('every anchor has a range and points; fusion variants map to the fusion anchor', () => {
    for (const a of ANCHORS) {
      assert.ok(a.low <= a.high && a.points.length > 0, a.stage);
    }
    assert.equal(anchorOf('fusion_late')?.stage, 'fusion');
    assert.equal(anchorOf('resnet')?.text, 'peers 58–66 % (66 % val, 64 % test)');
    assert.equal(anchorOf('nothing'), undefined);
  });

  test('figure builders give one trace per series', () => {
    const bins = reliabilityBins([0, 1], [[0.8, 0.2], [0.3, 0.7]], 10);
    assert.equal(reliabilityFigure([{ name: 'm', bins, ece: 0.1 }], 't').data.length, 2);
    const f = anchorsFigure([{ label: '03 ResNet-50', accuracy: 0.6, ciLow: 0.57, ciHigh: 0.63, anchor: anchorOf('resnet') }, { label: 'x', accuracy: 0.5, ciLow: 0.4, ciHigh: 0.6 }], 't');
    assert.equal(f.data.length, 3);
    assert.deepEqual((f.data[1] as { base: Array<number | null> }).base, [0.58, null]);
    // Labels at the bar's base (clear of the error bar); the calibration legend below the plot, not over the curves.
    assert.equal((f.data[0] as { insidetextanchor: string }).insidetextanchor, 'start');
    const legend = (reliabilityFigure([{ name: 'm', bins, ece: 0.1 }], 't').layout as { legend: { orientation: string; y: number } }).legend;
    assert.equal(legend.orientation, 'h');
    assert.ok(legend.y < 0);
    const h = perClassF1Figure(['a', 'b'], [{ name: 'm1', f1: [0.1, 0.2] }, { name: 'm2', f1: [0.3, 0.4] }], 't');
    assert.deepEqual((h.data[0] as { z: number[][] }).z, [[0.1, 0.3], [0.2, 0.4]]);
  });
});
