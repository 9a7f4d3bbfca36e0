/**
 * Pipeline stamps: a notebook is fresh only while its data set (00) and its upstream runs are the
 * ones it ran on; switching the data set, changing a photo in place or re-running an upstream
 * notebook makes it (and what depends on it) stale, with the reason.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { currentInputs, datasetFingerprint, staleReason, writeStamp } from '../src/pipeline_stamps';

const DEPS: Record<string, string[]> = { '01': ['00'], '03': ['00'], '05': ['03'] };

function dataSet(root: string, products = ',id\n0,a\n'): string {
  fs.mkdirSync(path.join(root, 'images'), { recursive: true });
  fs.writeFileSync(path.join(root, 'Products.csv'), products);
  fs.writeFileSync(path.join(root, 'Images.csv'), ',id,product_id\n0,p,a\n');
  fs.writeFileSync(path.join(root, 'images', 'p.jpg'), 'photo bytes');
  return root;
}

test('stamps record the data set and upstream runs; changes make dependents stale with a reason', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stamps-'));
  try {
    const a = dataSet(path.join(tmp, 'a'));
    const b = dataSet(path.join(tmp, 'b'), ',id\n0,b\n');
    const stamps = path.join(tmp, 'stamps');
    let raw = a;
    const fp = () => datasetFingerprint(raw);
    const run = (id: string) => writeStamp(stamps, id, { notebook: `${id}.ipynb`, seconds: 1, inputs: currentInputs(stamps, id, DEPS, fp) });
    const why = (id: string) => staleReason(stamps, id, DEPS, fp);

    assert.match(String(why('00')), /has not run/);
    for (const id of ['00', '03', '05']) run(id);
    assert.deepEqual(['00', '03', '05'].map(why), [null, null, null]);
    assert.match(String(why('01')), /has not run/);

    raw = b; // MARKETPLACE_DATA now points at another data set
    assert.match(String(why('00')), /input data set changed/);
    assert.match(String(why('03')), /00 is stale: the input data set changed/);
    assert.match(String(why('05')), /03 is stale: 00 is stale/);
    raw = a;
    assert.equal(why('05'), null, 'back on the data set it ran on');

    // A copy of the same data set (new inode, times) is the same input: nothing to re-run.
    const copy = path.join(tmp, 'copy');
    fs.cpSync(a, copy, { recursive: true });
    raw = copy;
    assert.equal(why('05'), null, 'a copy of the data set it ran on');
    raw = a;

    // A photo overwritten in place, size and mtime kept: its bytes changed.
    const photo = path.join(a, 'images', 'p.jpg');
    const st = fs.statSync(photo);
    await new Promise((r) => setTimeout(r, 20));
    fs.writeFileSync(photo, 'PHOTO BYTES');
    fs.utimesSync(photo, st.atime, st.mtime);
    assert.match(String(why('00')), /input data set changed/);

    run('00'); // 00 re-ran: its dependents ran on its old outputs
    assert.equal(why('00'), null);
    assert.match(String(why('03')), /00 ran again after it/);
    run('03');
    assert.match(String(why('05')), /03 ran again after it/);
    run('05');
    assert.equal(why('05'), null);

    fs.writeFileSync(path.join(stamps, '05.json'), JSON.stringify({ notebook: 'old', finished: 'x', seconds: 1 }));
    assert.match(String(why('05')), /predates input fingerprints/);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
