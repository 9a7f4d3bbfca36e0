/**
 * The benchmark runner: `npm run bench` runs every bench/*.bench.ts, `npm run bench -- <name>`
 * the named ones. Each bench module exports `name` and `run()`, measures our implementation
 * against a reference in the same invocation and prints its own result line:
 *   bench <name>: speedup <ours_vs_reference> (ours <value> <unit>, reference <value> <unit>)
 * bench/setup.sh (reference frameworks, e.g. Debian python3-torch) runs first.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export interface BenchModule {
  name: string;
  run(): Promise<void>;
}

const BENCH_DIR = __dirname;

async function main(): Promise<number> {
  const wanted = process.argv.slice(2).filter((a) => a !== '--');
  const files = fs.readdirSync(BENCH_DIR).filter((f) => f.endsWith('.bench.ts')).sort();
  const benches: Array<{ file: string; module: BenchModule }> = [];
  for (const file of files) {
    const base = file.replace(/\.bench\.ts$/, '');
    if (wanted.length && !wanted.includes(base)) continue;
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const module = require(path.join(BENCH_DIR, file)) as BenchModule;
    if (typeof module.run !== 'function' || typeof module.name !== 'string') {
      throw new Error(`bench/${file} must export { name: string, run(): Promise<void> }`);
    }
    benches.push({ file, module });
  }
  const known = files.map((f) => f.replace(/\.bench\.ts$/, ''));
  const unknown = wanted.filter((w) => !known.includes(w));
  if (unknown.length) {
    console.error(`no bench named ${unknown.join(', ')}; have: ${known.join(', ') || '(none)'}`);
    return 2;
  }

  const setup = spawnSync('bash', [path.join(BENCH_DIR, 'setup.sh')], { stdio: 'inherit' });
  if (setup.status !== 0) console.error('bench/setup.sh failed: benches that need a reference framework will fail');

  let failed = 0;
  for (const { file, module } of benches) {
    console.log(`\n--- ${module.name} (bench/${file}) ---`);
    try {
      await module.run();
    } catch (err) {
      failed++;
      console.log(`bench ${module.name}: FAILED (${(err as Error).message.split('\n')[0]})`);
    }
  }
  return failed === 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (err) => {
  console.error(err);
  process.exit(1);
});
