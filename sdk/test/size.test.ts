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

  it('replay.js and rrweb-record.js stay within their budgets (3,584 and 24,576 bytes gzipped)', () => {
    for (const [name, budget] of [['replay.js', 3584], ['rrweb-record.js', 24576]] as const) {
      const gz = gzipSync(read(name)).length;
      assert.ok(gz <= budget, `${name} is ${gz} B gzipped`);
    }
  });

  it('the recorder stays out of widget.js and sayso.mjs; rrweb stays out of replay.js', () => {
    for (const name of ['widget.js', 'sayso.mjs']) {
      const s = read(name).toString();
      assert.ok(!/replay-sessions|maskAllInputs|X-Usero/.test(s), name);
      assert.match(s, /\/widget\/replay\.js/);
    }
    const replay = read('replay.js').toString();
    assert.match(replay, /import\("\.\/rrweb-record\.js"\)/);
    assert.ok(!/MutationObserver/.test(replay), 'rrweb is not bundled into replay.js');
    assert.match(read('rrweb-record.js').toString(), /MutationObserver/);
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
    // the privacy rules ride with the two ways of capturing a page, in the lazy files only
    for (const name of ['capture.js', 'rrweb-record.js']) assert.match(read(name).toString(), /\[data-usero-block\]/, name);
    for (const name of ['widget.js', 'sayso.mjs', 'replay.js']) assert.ok(!read(name).toString().includes('data-usero-block'), name);
  });

  it('no eval, new Function or innerHTML in the widget bundles', () => {
    for (const name of ['widget.js', 'sayso.mjs']) {
      const s = read(name).toString();
      assert.ok(!/\beval\(|new Function|Function\(|innerHTML|outerHTML|insertAdjacentHTML|document\.write/.test(s), name);
    }
  });
});
