/**
 * Notebooks import the library through one entry module, src/notebook.ts, and nothing in src/
 * imports that module back (it re-exports most of src/, so an import of it from src/ would close
 * a cycle, which can break tslab's loader even when tsc is happy). tsc does not read notebooks,
 * so this also checks that every name a notebook imports is one the entry module exports.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..');
const NOTEBOOKS = path.join(ROOT, 'notebooks');
const notebooks = fs.readdirSync(NOTEBOOKS).filter((f) => f.endsWith('.ipynb')).sort();

function codeOf(file: string): string {
  const nb = JSON.parse(fs.readFileSync(path.join(NOTEBOOKS, file), 'utf8')) as { cells: Array<{ cell_type: string; source: string[] }> };
  return nb.cells.filter((c) => c.cell_type === 'code').map((c) => c.source.join('')).join('\n');
}

/** Names in `export { … } from` / `export type { … } from` lines and exported declarations of src/notebook.ts. */
function entryExports(): Set<string> {
  const text = fs.readFileSync(path.join(ROOT, 'src', 'notebook.ts'), 'utf8');
  const names = new Set<string>();
  for (const m of text.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}\s+from/g)) for (const n of m[1].split(',')) if (n.trim()) names.add(n.trim().split(/\s+as\s+/).pop() as string);
  for (const m of text.matchAll(/export\s+\*\s+as\s+(\w+)\s+from/g)) names.add(m[1]);
  for (const m of text.matchAll(/export\s+(?:async\s+)?(?:function|const|class|interface|type)\s+(\w+)/g)) names.add(m[1]);
  return names;
}

test('every notebook imports src/ through ./src/notebook only, names it exports', () => {
  const exported = entryExports();
  for (const file of notebooks) {
    const code = codeOf(file);
    const sources = [...code.matchAll(/from\s+'(\.\/src\/[^']+)'/g)].map((m) => m[1]);
    assert.deepEqual([...new Set(sources)], ['./src/notebook'], `${file} imports ${sources.join(', ')}`);
    const imported = [...code.matchAll(/import\s+\{([^}]*)\}\s+from\s+'\.\/src\/notebook'/g)].flatMap((m) => m[1].split(',').map((n) => n.trim().split(/\s+as\s+/)[0]).filter(Boolean));
    const missing = imported.filter((n) => !exported.has(n));
    assert.deepEqual(missing, [], `${file} imports names src/notebook.ts does not export`);
  }
});

test('no module in src/ imports the notebook entry module', () => {
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts') && p !== path.join(ROOT, 'src', 'notebook.ts')) {
        if (/from\s+'(\.\.?\/)+notebook'/.test(fs.readFileSync(p, 'utf8'))) offenders.push(path.relative(ROOT, p));
      }
    }
  };
  walk(path.join(ROOT, 'src'));
  assert.deepEqual(offenders, []);
});
