import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn } from 'child_process';
import { defaultMetricsPath, readMetrics, recordMetrics } from '../src/metrics_store';
import { PATHS } from '../src/config';

const tempDirs: string[] = [];
after(() => tempDirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

function tempFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'metrics-store-'));
  tempDirs.push(dir);
  return path.join(dir, 'nested', 'metrics.json');
}

test('the default file lives in the profile report folder', () => {
  assert.equal(defaultMetricsPath(), path.join(PATHS.report, 'metrics.json'));
});

test('a missing file reads as no stages; the first record creates folders and file', () => {
  const file = tempFile();
  assert.deepEqual(readMetrics(file), {});
  recordMetrics('cnn', { test_accuracy: 0.5, test_log_loss: 1.2 }, file);
  assert.deepEqual(readMetrics(file), { cnn: { test_accuracy: 0.5, test_log_loss: 1.2 } });
});

test('stages merge: other stages survive, nested objects merge key by key, replace starts afresh', () => {
  const file = tempFile();
  recordMetrics('run', { profile: 'full', wall_seconds: { '00': 12.5, '01': 30 } }, file);
  recordMetrics('price_regression', { r2: 0.3, rmse: 80 }, file);
  recordMetrics('run', { wall_seconds: { '01': 31, '02': 40 } }, file);
  recordMetrics('price_regression', { r2: 0.35, r2_log: 0.5 }, file);
  assert.deepEqual(readMetrics(file), {
    price_regression: { r2: 0.35, r2_log: 0.5, rmse: 80 },
    run: { profile: 'full', wall_seconds: { '00': 12.5, '01': 31, '02': 40 } },
  });
  recordMetrics('price_regression', { r2: 0.4 }, file, { replace: true });
  assert.deepEqual(readMetrics(file).price_regression, { r2: 0.4 });
});

test('keys are written in sorted order at every level, so diffs stay small', () => {
  const file = tempFile();
  recordMetrics('text', { z_last: 1, a_first: { y: 1, b: 2 }, per_class: [3, 1] }, file);
  recordMetrics('cnn', { test_accuracy: 0.9 }, file);
  const text = fs.readFileSync(file, 'utf8');
  assert.ok(text.endsWith('\n'));
  assert.equal(
    text,
    JSON.stringify({ cnn: { test_accuracy: 0.9 }, text: { a_first: { b: 2, y: 1 }, per_class: [3, 1], z_last: 1 } }, null, 2) + '\n',
  );
});

test('invalid keys and values are refused before anything is written', () => {
  const file = tempFile();
  recordMetrics('cnn', { test_accuracy: 0.9 }, file);
  const before = fs.readFileSync(file, 'utf8');
  assert.throws(() => recordMetrics('cnn', { testAccuracy: 1 }, file), /metric key "testAccuracy" in cnn is not snake_case/);
  assert.throws(() => recordMetrics('cnn', { nested: { 'Bad-Key': 1 } }, file), /"Bad-Key" in cnn.nested is not snake_case/);
  assert.throws(() => recordMetrics('Fusion', { a: 1 }, file), /stage "Fusion" is not snake_case/);
  assert.throws(() => recordMetrics('cnn', { loss: NaN }, file), /metric cnn.loss is NaN: only finite numbers/);
  assert.throws(() => recordMetrics('cnn', { curve: [1, Infinity] }, file), /metric cnn.curve\[1\] is Infinity/);
  assert.throws(() => recordMetrics('cnn', { missing: undefined }, file), /metric cnn.missing is undefined, which JSON cannot hold/);
  assert.throws(() => recordMetrics('cnn', { when: new Date() as unknown }, file), /metric cnn.when is a Date, which JSON cannot hold/);
  assert.equal(fs.readFileSync(file, 'utf8'), before);
  assert.deepEqual(
    fs.readdirSync(path.dirname(file)).filter((f) => f.endsWith('.tmp')),
    [],
    'no temp files are left behind',
  );
});

test('a corrupt file is reported, not silently replaced', () => {
  const file = tempFile();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '{"cnn": ');
  assert.throws(() => readMetrics(file), /is not valid JSON/);
  assert.throws(() => recordMetrics('cnn', { a: 1 }, file), /is not valid JSON/);
  fs.writeFileSync(file, '{"cnn": 3}');
  assert.throws(() => readMetrics(file), /stage "cnn" must be an object/);
});

test('processes recording side by side lose no update (the file lock); a dead holder\'s lock is taken over', async () => {
  const file = tempFile();
  const writer = (stage: string) => new Promise<number>((resolve) => {
    const code = `const { recordMetrics } = require(${JSON.stringify(path.join(PATHS.root, 'src', 'metrics_store.ts'))});
      for (let i = 0; i < 40; i++) recordMetrics(${JSON.stringify(stage)}, { ['k' + i]: i }, ${JSON.stringify(file)});`;
    spawn(process.execPath, ['--import', 'tsx', '-e', code], { cwd: PATHS.root, stdio: 'inherit' }).on('exit', (c) => resolve(c ?? 1));
  });
  // A lock left by a process that is gone (pid 2^22 + 1 is above Linux's default pid_max).
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(`${file}.lock`, String(2 ** 22 + 1));
  assert.deepEqual(await Promise.all([writer('aa'), writer('bb'), writer('cc')]), [0, 0, 0]);
  const m = readMetrics(file);
  for (const stage of ['aa', 'bb', 'cc']) assert.equal(Object.keys(m[stage]).length, 40, `stage ${stage} keeps all 40 keys`);
  assert.equal(fs.existsSync(`${file}.lock`), false, 'the lock is released');
});
