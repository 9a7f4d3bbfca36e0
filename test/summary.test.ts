import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summaryMarkdown, pct, fixed } from '../src/eval/summary';

test('summaryMarkdown: heading, one bullet per non-empty point, then the pointer to the next notebook', () => {
  const md = summaryMarkdown(['accuracy **30.8 %**', '  ', 'trained 8 epochs '], {
    file: '03_resnet_transfer.ipynb', title: 'ResNet-50 transfer', what: 'a pretrained backbone instead of a small CNN.',
  });
  assert.equal(md, [
    '## Summary', '', '- accuracy **30.8 %**', '- trained 8 epochs', '',
    '**Next:** [03 · ResNet-50 transfer](03_resnet_transfer.ipynb) — a pretrained backbone instead of a small CNN.',
  ].join('\n'));
});

test('summaryMarkdown: no pointer without a next chapter; a target without a number prefix keeps its title', () => {
  assert.equal(summaryMarkdown(['a']), '## Summary\n\n- a');
  assert.match(summaryMarkdown(['a'], { file: '../outputs/REPORT.md', title: 'The report', what: 'all stages.' }),
    /\*\*Next:\*\* \[The report\]\(\.\.\/outputs\/REPORT\.md\) — all stages\.$/);
});

test('pct and fixed: recorded numbers formatted, a missing metric shown as a dash', () => {
  assert.equal(pct(0.30845), '30.8 %');
  assert.equal(pct(undefined), '—');
  assert.equal(fixed(2.07153), '2.072');
  assert.equal(fixed('x'), '—');
});

test('recorded: one stage of a metrics file, {} for a stage that has not run', async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { recorded } = await import('../src/eval/summary');
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'summary-')), 'metrics.json');
  fs.writeFileSync(file, JSON.stringify({ cnn: { test_accuracy: 0.3 } }));
  assert.deepEqual(recorded('cnn', file), { test_accuracy: 0.3 });
  assert.deepEqual(recorded('text', file), {});
});
