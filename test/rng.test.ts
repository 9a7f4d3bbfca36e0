import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { deriveSeed, mulberry32, Rng } from '../src/rng';

test('same seed, same sequence; another seed, another sequence', () => {
  const a = mulberry32(42);
  const b = mulberry32(42);
  const c = mulberry32(43);
  const seqA = Array.from({ length: 5 }, a);
  assert.deepEqual(seqA, Array.from({ length: 5 }, b));
  assert.notDeepEqual(seqA, Array.from({ length: 5 }, c));
  for (const x of seqA) assert.ok(x >= 0 && x < 1);
});

test('the sequence is pinned (a change would silently change every split)', () => {
  const rng = new Rng(42);
  const first = Array.from({ length: 3 }, () => rng.next().toFixed(8));
  assert.deepEqual(first, ['0.60110375', '0.44829056', '0.85246579']);
});

test('shuffle is a seeded permutation and shuffled() leaves the input alone', () => {
  const items = Array.from({ length: 50 }, (_, i) => i);
  const once = new Rng(7).shuffled(items);
  assert.deepEqual(once, new Rng(7).shuffled(items));
  assert.notDeepEqual(once, items);
  assert.deepEqual([...once].sort((x, y) => x - y), items);
  assert.deepEqual(items, Array.from({ length: 50 }, (_, i) => i));
});

test('int, sample and pick stay in range; normal has the right moments', () => {
  const rng = new Rng(1);
  for (let i = 0; i < 1000; i++) {
    const k = rng.int(6);
    assert.ok(Number.isInteger(k) && k >= 0 && k < 6);
  }
  const sample = rng.sample(['a', 'b', 'c', 'd'], 3);
  assert.equal(new Set(sample).size, 3);
  assert.ok(['x', 'y'].includes(rng.pick(['x', 'y'])));
  const draws = Array.from({ length: 20000 }, () => rng.normal(2, 3));
  const mean = draws.reduce((s, x) => s + x, 0) / draws.length;
  const sd = Math.sqrt(draws.reduce((s, x) => s + (x - mean) ** 2, 0) / draws.length);
  assert.ok(Math.abs(mean - 2) < 0.1, `mean ${mean}`);
  assert.ok(Math.abs(sd - 3) < 0.1, `sd ${sd}`);
  assert.throws(() => rng.int(0), /positive integer/);
});

test('deriveSeed gives distinct, repeatable 32-bit seeds', () => {
  assert.equal(deriveSeed(42, 'split'), deriveSeed(42, 'split'));
  assert.notEqual(deriveSeed(42, 'split'), deriveSeed(42, 'subset'));
  assert.notEqual(deriveSeed(42, 'a'), deriveSeed(43, 'a'));
  const seed = deriveSeed('x');
  assert.ok(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32);
});
