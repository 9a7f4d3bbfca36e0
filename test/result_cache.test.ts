/**
 * The result cache: a result is computed once per distinct inputs and re-read after; other
 * inputs get another file; a torn file is recomputed, not trusted; names are checked.
 */
import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cachedResult, cachedResultSync, resultFile } from '../src/artifacts/result_cache';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'result-cache-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('computes once per inputs, then reads the file (key order does not matter)', async () => {
  let calls = 0;
  const compute = async () => { calls++; return { probs: [[0.25, 0.75]], n: 1 }; };
  const a = await cachedResult('oof_test', { fold: [0, 1], k: 2 }, compute, dir);
  const b = await cachedResult('oof_test', { k: 2, fold: [0, 1] }, compute, dir);
  assert.equal(calls, 1);
  assert.deepEqual(b, a);
  assert.ok(fs.existsSync(resultFile('oof_test', { fold: [0, 1], k: 2 }, dir)));
  await cachedResult('oof_test', { fold: [1, 0], k: 2 }, compute, dir);
  assert.equal(calls, 2, 'other inputs compute again');
});

test('floats survive the round trip exactly', () => {
  const values = [Math.PI, 1 / 3, 1e-12, Math.fround(0.1)];
  cachedResultSync('floats', { v: 1 }, () => values, dir);
  assert.deepEqual(cachedResultSync('floats', { v: 1 }, () => [], dir), values);
});

test('a torn file is recomputed and rewritten; a bad name is refused', () => {
  const file = resultFile('torn', { v: 1 }, dir);
  fs.writeFileSync(file, '{"format":"marketplace-result","na');
  assert.deepEqual(cachedResultSync('torn', { v: 1 }, () => [1, 2], dir), [1, 2]);
  assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')).result, [1, 2]);
  assert.throws(() => cachedResultSync('../escape', {}, () => 0, dir), /snake_case/);
});
