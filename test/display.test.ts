import { describe, test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { formatCell, isDataFrameLike, showMarkdown, showTable, tableHtml, tableText, toTable } from '../src/display';
import { coalescingDisplay, display, envFlag, inNotebook, isSocketBusy } from '../src/notebook_env';

function captureConsole(fn: () => void): string[] {
  const lines: string[] = [];
  const spy = mock.method(console, 'log', (...args: unknown[]) => {
    lines.push(args.map(String).join(' '));
  });
  try {
    fn();
  } finally {
    spy.mock.restore();
  }
  return lines;
}

test('formatCell: integers as is, floats to `digits`, tiny/huge in exponent form, text cut', () => {
  assert.equal(formatCell(12668), '12668');
  assert.equal(formatCell(0.41234567), '0.4123');
  assert.equal(formatCell(0.41234567, 2), '0.41');
  assert.equal(formatCell(-0.00001234), '-1.234e-5');
  assert.equal(formatCell(2.5e12 + 0.5), '2.500e+12');
  assert.equal(formatCell(2.5e12), '2500000000000');
  assert.equal(formatCell(NaN), 'NaN');
  assert.equal(formatCell(-Infinity), '-∞');
  assert.equal(formatCell(null), '');
  assert.equal(formatCell(undefined), '');
  assert.equal(formatCell(true), 'true');
  assert.equal(formatCell(10n), '10');
  assert.equal(formatCell(new Date('2024-01-02T03:04:05Z')), '2024-01-02T03:04:05.000Z');
  assert.equal(formatCell('a\n  b'), 'a b');
  assert.equal(formatCell('x'.repeat(100), 4, 10), 'xxxxxxxxx…');
  assert.equal(formatCell(new Float32Array([1, 2])), '[1, 2]');
  assert.equal(formatCell({ a: 1 }), '{"a":1}');
});

test('toTable: row objects give the union of their keys in first-seen order', () => {
  const t = toTable([{ a: 1, b: 2 }, { b: 3, c: 4 }]);
  assert.deepEqual(t.columns, ['a', 'b', 'c']);
  assert.deepEqual(t.rows, [
    [1, 2, undefined],
    [undefined, 3, 4],
  ]);
  assert.equal(t.index, undefined);
});

test('toTable: DataFrame-like objects; the index shows only when it carries labels', () => {
  const plain = { columns: ['x', 'y'], values: [[1, 'a'], [2, 'b']], index: [0, 1] };
  assert.ok(isDataFrameLike(plain));
  assert.equal(toTable(plain).index, undefined);
  const described = { columns: ['price'], values: [[3], [2.5]], index: ['count', 'mean'] };
  const t = toTable(described);
  assert.deepEqual(t.index, ['count', 'mean']);
  assert.match(tableText(described), /count\s+3\n.*mean\s+2\.5000/s);
  const series = { columns: 'price', values: [1, 2, 3], index: [0, 1, 2] };
  assert.deepEqual(toTable(series), { columns: ['price'], rows: [[1], [2], [3]], index: undefined });
  assert.equal(isDataFrameLike([{ columns: 1, values: [] }]), false);
});

test('tableText: numbers right-aligned under a right-aligned header, caption first', () => {
  const text = tableText(
    [
      { model: 'ridge', r2: 0.41234567, n: 12668 },
      { model: 'ols', r2: -0.5, n: 5 },
    ],
    { caption: 'Price models' },
  );
  assert.equal(
    text,
    ['Price models', 'model       r2      n', '-----  -------  -----', 'ridge   0.4123  12668', 'ols    -0.5000      5'].join('\n'),
  );
});

test('tableHtml: escapes text, aligns numbers right, elides the middle of long tables', () => {
  const rows = Array.from({ length: 30 }, (_, i) => ({ name: i === 0 ? '<b>&' : `row${i}`, value: i + 0.5 }));
  const html = tableHtml(rows, { maxRows: 4, caption: 'Demo' });
  assert.ok(html.includes('&lt;b&gt;&amp;'));
  assert.ok(!html.includes('<b>&'));
  assert.ok(html.includes('<th align="right" style="text-align:right">value</th>'));
  assert.ok(html.includes('<td align="right" style="text-align:right">0.5000</td>'));
  // The caption above the table, not a <caption> (which wraps to the table's width).
  assert.ok(html.startsWith('<div style="text-align:left;margin:0 0 0.3em;max-width:60em">Demo — 30 rows × 2 columns, showing 4</div><table'));
  assert.ok(!html.includes('<caption'));
  // Head 2, an ellipsis row, tail 2.
  assert.equal((html.match(/<tr>/g) ?? []).length, 1 + 5);
  assert.ok(html.includes('row1<') && html.includes('row28<') && html.includes('row29<') && !html.includes('row2<'));
  assert.ok(html.includes('…'));
});

test('a real danfojs DataFrame is accepted (duck-typed)', async () => {
  const dfd = await import('danfojs-node');
  const df = new dfd.DataFrame({ category: ['Home', 'Garden'], price: [12.5, 3] });
  assert.match(tableText(df), /category\s+price\n-+\s+-+\nHome\s+12\.5000\nGarden\s+3/);
  const described = df.describe();
  const text = tableText(described);
  assert.match(text, /^\s+price$/m);
  assert.match(text, /^mean\s+7\.7500$/m);
});

test('outside a notebook: text fallbacks on stdout', () => {
  assert.equal(inNotebook(), false);
  const lines = captureConsole(() => {
    showTable([{ a: 1 }]);
    showMarkdown('# Title');
    display.html('<b>x</b>', 'x as text');
    display.html('<b>no fallback</b>');
    display.png(new Uint8Array(2048));
  });
  assert.deepEqual(lines, ['a\n-\n1', '# Title', 'x as text', '[PNG image, 2.0 kB]']);
});

test('envFlag: 1/true/yes switch a flag on', () => {
  assert.equal(envFlag('X', { X: '1' }), true);
  assert.equal(envFlag('X', { X: 'TRUE' }), true);
  assert.equal(envFlag('X', { X: '0' }), false);
  assert.equal(envFlag('X', {}), false);
});

describe('coalescingDisplay', () => {
  const busy = () => Object.assign(new Error('Socket is busy writing; only one send operation may be in progress at any time'), { code: 'EBUSY' });
  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  test('a busy socket never fails the caller; the latest content is sent once it frees', async () => {
    const sent: string[] = [];
    let busyFor = 2;
    const target = { text(t: string) { if (busyFor-- > 0) throw busy(); sent.push(t); } };
    const d = coalescingDisplay(target, 5);
    d.text('10%'); // busy: kept
    d.text('20%'); // replaces the kept update
    d.text('30%');
    assert.deepEqual(sent, []);
    // The retry is a timer: on a loaded machine it fires late, so wait for it (up to 5 s), then for any extra send.
    for (const deadline = Date.now() + 5000; sent.length === 0 && Date.now() < deadline;) await wait(5);
    await wait(40);
    assert.deepEqual(sent, ['30%'], 'only the newest content, once');
    d.text('done');
    assert.deepEqual(sent, ['30%', 'done']);
  });

  test('other errors still reach the caller', () => {
    const d = coalescingDisplay({ text() { throw new TypeError('bad mime'); } }, 5);
    assert.throws(() => d.text(), /bad mime/);
    assert.ok(isSocketBusy(busy()) && !isSocketBusy(new Error('x')) && !isSocketBusy(null));
  });
});
