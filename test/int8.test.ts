/** The int8/fp32 and view-count decisions (src/backbone/int8.ts): rules, the RESNET_PRECISION switch, the service's choice. */
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { calibrationMethodNamed, cosineSummary, int8WithinTolerance, INT8_MAX_DROP_PP, recordedInputSize, resnetPrecision, RESOLUTIONS, servingBackbone, servingViews, TTA_MIN_GAIN_PP } from '../src/backbone/int8';
import { ONNX_MODELS_DIR } from '../src/backbone/onnx_export';
import { methodName } from '../src/backbone/quantize';

describe('decisions', () => {
  test('int8 within the accuracy tolerance', () => {
    assert.equal(INT8_MAX_DROP_PP, 0.5);
    assert.equal(int8WithinTolerance(0.634, 0.630), true); // −0.4 pp
    assert.equal(int8WithinTolerance(0.634, 0.629), true); // −0.5 pp: at the limit
    assert.equal(int8WithinTolerance(0.634, 0.628), false); // −0.6 pp
    assert.equal(int8WithinTolerance(0.634, 0.640), true); // better
  });

  test('flip TTA served only when it adds enough on validation', () => {
    assert.equal(TTA_MIN_GAIN_PP, 0.3);
    assert.equal(servingViews(0.640, 0.636), 2); // +0.4 pp
    assert.equal(servingViews(0.638, 0.636), 1); // +0.2 pp
    assert.equal(servingViews(0.630, 0.636), 1);
  });

  test('RESNET_PRECISION overrides the recorded choice; fp32 until one is recorded', () => {
    assert.equal(resnetPrecision({}, {}), 'fp32');
    assert.equal(resnetPrecision({}, { use_int8_for_extraction: true }), 'int8');
    assert.equal(resnetPrecision({ RESNET_PRECISION: 'fp32' }, { use_int8_for_extraction: true }), 'fp32');
    assert.equal(resnetPrecision({ RESNET_PRECISION: 'int8' }, {}), 'int8');
    assert.equal(resnetPrecision({ RESNET_PRECISION: 'auto' }, { use_int8_for_extraction: false }), 'fp32');
    assert.throws(() => resnetPrecision({ RESNET_PRECISION: 'int4' }, {}), /RESNET_PRECISION=int4/);
  });

  test('the input side: 224 until notebook 03 records another, the cheaper side first', () => {
    assert.deepEqual([...RESOLUTIONS], [224, 288]);
    assert.equal(recordedInputSize({}), 224);
    assert.equal(methodName(calibrationMethodNamed('minmax')), 'minmax');
    assert.throws(() => calibrationMethodNamed('entropy_9'), /no int8 calibration method is named entropy_9: known minmax/);
    assert.equal(recordedInputSize({ use_int8_for_extraction: true, input_size: 288 }), 288);
  });

  test('cosine summary', () => {
    const a = new Float32Array([1, 0, 0, 1, 1, 1]);
    const b = new Float32Array([2, 0, 0, -1, 1, 1]);
    const c = cosineSummary(a, b, 2);
    assert.equal(c.n, 3);
    assert.ok(Math.abs(c.min - -1) < 1e-9);
    assert.ok(Math.abs(c.mean - 1 / 3) < 1e-9);
  });
});

describe('servingBackbone', () => {
  test('uses the recorded int8 model and view count only for the backbone they were measured on', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serving-backbone-'));
    const fp32 = path.join(dir, 'resnet50_avg_pool_nhwc_aaaaaaaaaaaa.onnx');
    fs.writeFileSync(fp32, 'x');
    fs.writeFileSync(fp32.replace(/\.onnx$/, '.json'), JSON.stringify({ key: 'aaaaaaaaaaaa' }));
    const int8Name = `test_${process.pid}_int8_minmax_bbbbbbbbbbbb.onnx`;
    const int8File = path.join(ONNX_MODELS_DIR, int8Name);
    fs.mkdirSync(ONNX_MODELS_DIR, { recursive: true });
    fs.writeFileSync(int8File, 'x');
    const meta = int8File.replace(/\.onnx$/, '.json');
    try {
      const recorded = { use_int8_for_extraction: true, serving_views: 1, model_file: int8Name, method: 'minmax' };
      fs.writeFileSync(meta, JSON.stringify({ quantization: { fp32_model: 'aaaaaaaaaaaa' } }));
      const chosen = servingBackbone(fp32, true, {}, recorded);
      assert.deepEqual([chosen.file, chosen.precision, chosen.views], [int8File, 'int8', 1]);
      assert.deepEqual([servingBackbone(fp32, true, { RESNET_PRECISION: 'fp32' }, recorded).file, servingBackbone(fp32, true, { RESNET_PRECISION: 'fp32' }, recorded).precision], [fp32, 'fp32']);
      // Another backbone (e.g. a test bundle's tiny model): the bundle's own model and views.
      fs.writeFileSync(meta, JSON.stringify({ quantization: { fp32_model: 'cccccccccccc' } }));
      const other = servingBackbone(fp32, true, {}, recorded);
      assert.deepEqual([other.file, other.precision, other.views], [fp32, 'fp32', 2]);
      assert.throws(() => servingBackbone(fp32, true, { RESNET_PRECISION: 'int8' }, recorded), /no int8 model of .*RESNET_PRECISION=fp32/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(int8File, { force: true });
      fs.rmSync(meta, { force: true });
    }
  });
});
