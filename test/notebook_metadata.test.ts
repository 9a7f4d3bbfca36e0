/**
 * The committed notebooks carry exactly the metadata the kernel writes when one is opened, so
 * an untouched notebook does not turn "dirty" in JupyterLab ("Save changes?") and a run
 * changes nothing but outputs. The reference is tslab's own kernel_info_reply, not a copy.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..');
const NOTEBOOKS = path.join(ROOT, 'notebooks');

interface KernelInfo {
  language_info: Record<string, unknown>;
}

/** What tslab answers to kernel_info_request (JupyterLab copies its language_info into the notebook). */
function tslabKernelInfo(): KernelInfo {
  const jupyter = require('tslab/dist/jupyter') as { JupyterHandlerImpl: new (executor: unknown, isJs: boolean) => { handleKernel(): KernelInfo } };
  return new jupyter.JupyterHandlerImpl(null, false).handleKernel();
}

const notebooks = fs.readdirSync(NOTEBOOKS).filter((f) => f.endsWith('.ipynb')).sort();

test('every notebook has the language_info the tslab kernel reports, and the project kernel spec', () => {
  assert.ok(notebooks.length >= 8, `notebooks found: ${notebooks.join(', ')}`);
  const expected = tslabKernelInfo().language_info;
  for (const file of notebooks) {
    const nb = JSON.parse(fs.readFileSync(path.join(NOTEBOOKS, file), 'utf8'));
    assert.deepEqual(nb.metadata.language_info, expected, `${file}: metadata.language_info differs from what the kernel writes`);
    assert.deepEqual(nb.metadata.kernelspec, { display_name: 'TypeScript', language: 'typescript', name: 'tslab' }, `${file}: kernelspec`);
    assert.deepEqual(Object.keys(nb.metadata).sort(), ['kernelspec', 'language_info'], `${file}: other notebook metadata`);
  }
});

test('notebooks are committed without outputs or execution counts', () => {
  for (const file of notebooks) {
    const nb = JSON.parse(fs.readFileSync(path.join(NOTEBOOKS, file), 'utf8'));
    nb.cells.forEach((cell: { cell_type: string; outputs?: unknown[]; execution_count?: number | null }, i: number) => {
      if (cell.cell_type !== 'code') return;
      assert.deepEqual(cell.outputs, [], `${file} cell ${i} has outputs`);
      assert.equal(cell.execution_count, null, `${file} cell ${i} has an execution count`);
    });
  }
});
