import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';

// .test-build/size.test.mjs → ../../sayso/ingest/static (run `npm run build` first; `npm test` does)
const out = new URL('../../sayso/ingest/static/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, out));

describe('size budget', () => {
  it('widget.js is at most 10,240 bytes gzipped', () => {
    const gz = gzipSync(read('widget.js')).length;
    assert.ok(gz <= 10240, `widget.js is ${gz} B gzipped`);
  });

  it('the outputs exist and look like what they should be', () => {
    const widget = read('widget.js').toString();
    assert.ok(widget.length > 1000);
    assert.ok(!/\bexport\b\s*[{*]/.test(widget.slice(-200)), 'widget.js is a classic script');
    const esm = read('sayso.mjs').toString();
    assert.match(esm, /export\s*\{/);
    const capture = read('capture.js').toString();
    assert.match(capture, /export\s*\{/);
    assert.ok(!widget.includes('modern-screenshot') && !/domToBlob|foreignObject/.test(widget), 'capture code stays out of widget.js');
  });

  it('no eval, new Function or innerHTML in the widget bundles', () => {
    for (const name of ['widget.js', 'sayso.mjs']) {
      const s = read(name).toString();
      assert.ok(!/\beval\(|new Function|Function\(|innerHTML|outerHTML|insertAdjacentHTML|document\.write/.test(s), name);
    }
  });
});
