/**
 * A lock between processes on one file: `<file>.lock`, created exclusively and holding the owner's
 * pid. Notebooks that run side by side (`npm run pipeline -- --jobs 2`) read-modify-write shared
 * files such as metrics.json; without the lock one notebook's update could overwrite the other's.
 * A lock whose process no longer runs is stale and taken over.
 */
import * as fs from 'fs';
import * as path from 'path';

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Runs `fn` holding `<file>.lock`, waiting up to `waitMs` (default 30 s) for another holder. */
export function withFileLock<T>(file: string, fn: () => T, waitMs = 30_000): T {
  const lock = `${file}.lock`;
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner = 0;
    try {
      owner = Number(fs.readFileSync(lock, 'utf8').trim());
    } catch {
      continue; // released meanwhile
    }
    // An empty file is a holder between creating and writing it: wait (one left empty by a crash times out below).
    if ((owner && !processAlive(owner)) || owner === process.pid) {
      fs.rmSync(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`${file} is locked by ${lock} (process ${owner || 'unknown'}) for more than ${waitMs / 1000} s: remove the lock if no notebook is running`);
    }
    sleepSync(10);
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}
