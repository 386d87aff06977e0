import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BLOCK, type Field, MASK, bullets, hidesValue, isSecret, recordOptions, rules } from '../src/privacy';

/** Every selector counts as valid, except the ones containing "((" (node has no DOM to ask). */
const valid = (s: string) => !s.includes('((');

/** A field as the rules see it: a tag, a type and attributes. */
function field(tagName: string, type?: string, attributes: Record<string, string> = {}): Field {
  return {
    tagName,
    type,
    getAttribute: (n) => attributes[n] ?? null,
    hasAttribute: (n) => n in attributes,
  };
}

const defaults = rules({}, valid);
const unmasked = rules({ privacyMaskAllInputs: false }, valid);

describe('privacy rules: blocked and masked elements', () => {
  it('always block the widget and the Sayso, Usero and rrweb marks; always mask their text marks', () => {
    const block = BLOCK.split(',');
    for (const s of ['sayso-feedback', '.sayso-block', '.usero-block', '[data-sayso-block]', '[data-usero-block]', '.rr-block']) assert.ok(block.includes(s), s);
    const mask = MASK.split(',');
    for (const s of ['.sayso-mask', '.usero-mask', '[data-sayso-mask]', '[data-usero-mask]', '.rr-mask']) assert.ok(mask.includes(s), s);
    assert.deepEqual(defaults, { block: BLOCK, mask: MASK, maskAllInputs: true });
  });

  it("add the page's selectors to the defaults", () => {
    const r = rules({ privacyBlockSelector: '#billing .iban', privacyMaskSelector: '.account-name' }, valid);
    assert.equal(r.block, `${BLOCK},#billing .iban`);
    assert.equal(r.mask, `${MASK},.account-name`);
  });

  it('accept the old replay* names, and let the privacy* ones win', () => {
    const old = rules({ replayBlockSelector: '.a', replayMaskSelector: '.b', replayMaskAllInputs: false }, valid);
    assert.deepEqual(old, { block: `${BLOCK},.a`, mask: `${MASK},.b`, maskAllInputs: false });
    const both = rules(
      { replayBlockSelector: '.a', privacyBlockSelector: '.c', replayMaskSelector: '.b', privacyMaskSelector: '.d', replayMaskAllInputs: false, privacyMaskAllInputs: true },
      valid,
    );
    assert.deepEqual(both, { block: `${BLOCK},.c`, mask: `${MASK},.d`, maskAllInputs: true });
  });

  it("leave out an invalid selector of the page's (with a warning) and keep the defaults", () => {
    const warned: unknown[][] = [];
    const warn = console.warn;
    console.warn = (...a: unknown[]) => warned.push(a);
    try {
      const r = rules({ privacyBlockSelector: 'div((', privacyMaskSelector: '((' }, valid);
      assert.deepEqual(r, defaults);
    } finally {
      console.warn = warn;
    }
    assert.equal(warned.length, 2);
    assert.match(String(warned[0][0]), /invalid privacy selector/);
  });

  it('masked text keeps its length and its blanks', () => {
    assert.equal(bullets('Grace Hopper\n 42'), '••••• ••••••\n ••');
    assert.equal(bullets(''), '');
  });
});

describe('privacy rules: field values', () => {
  it('hide every text-like input, textarea and select by default', () => {
    for (const f of [field('INPUT', 'text'), field('INPUT', 'email'), field('INPUT', 'tel'), field('INPUT', 'number'), field('INPUT', 'date'), field('INPUT', 'range'), field('INPUT', 'hidden'), field('INPUT', 'search'), field('TEXTAREA', 'textarea'), field('SELECT', 'select-one'), field('input', 'text')]) {
      assert.equal(hidesValue(defaults, f), true, `${f.tagName} ${f.type}`);
    }
  });

  it("leave the page's own text and states: buttons, checkboxes, radios; and other elements", () => {
    for (const t of ['button', 'submit', 'reset', 'image', 'checkbox', 'radio']) assert.equal(hidesValue(defaults, field('INPUT', t)), false, t);
    assert.equal(hidesValue(defaults, field('DIV')), false);
    assert.equal(hidesValue(defaults, field('OPTION')), false);
  });

  it('hide passwords, card fields, one-time codes and hidden inputs even when maskAllInputs is off', () => {
    const secret = [
      field('INPUT', 'password'),
      field('INPUT', 'text', { 'data-rr-is-password': '' }), // a "show password" toggle made it text
      field('INPUT', 'text', { autocomplete: 'current-password' }),
      field('INPUT', 'text', { autocomplete: 'new-password' }),
      field('INPUT', 'text', { autocomplete: 'cc-number' }),
      field('INPUT', 'tel', { autocomplete: 'billing CC-CSC' }),
      field('SELECT', 'select-one', { autocomplete: 'cc-exp-month' }),
      field('INPUT', 'text', { autocomplete: 'one-time-code' }),
      field('INPUT', 'hidden'),
    ];
    for (const f of secret) {
      assert.equal(hidesValue(unmasked, f), true, `${f.tagName} ${f.type} ${f.getAttribute('autocomplete')}`);
      assert.equal(hidesValue(defaults, f), true);
    }
    assert.equal(isSecret(field('INPUT', 'text', { autocomplete: 'name' })), false);
    for (const f of [field('INPUT', 'text', { autocomplete: 'name' }), field('INPUT', 'email'), field('TEXTAREA', 'textarea'), field('SELECT', 'select-one')]) {
      assert.equal(hidesValue(unmasked, f), false, `${f.tagName} ${f.type}`);
    }
  });
});

describe('privacy rules: the recorder', () => {
  it("gives rrweb the same selectors, and lets maskInputFn decide every field's value", () => {
    const r = rules({ privacyBlockSelector: '.x', privacyMaskSelector: '.y', privacyMaskAllInputs: false }, valid);
    const o = recordOptions(r);
    assert.equal(o.blockSelector, `${BLOCK},.x`);
    assert.equal(o.maskTextSelector, `${MASK},.y`);
    // rrweb looks maskInputOptions up by tag name first: every field reaches maskInputFn
    assert.deepEqual(o.maskInputOptions, { input: true, textarea: true, select: true });
    const el = (f: Field) => f as unknown as HTMLElement;
    assert.equal(o.maskInputFn('hunter2', el(field('INPUT', 'password'))), '*******');
    assert.equal(o.maskInputFn('5555 4444', el(field('INPUT', 'text', { autocomplete: 'cc-number' }))), '*********');
    assert.equal(o.maskInputFn('Grace', el(field('INPUT', 'text'))), 'Grace');
    assert.equal(recordOptions(defaults).maskInputFn('Grace', el(field('INPUT', 'text'))), '*****');
  });
});
