import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { S, TABLES, fmt, pickLocale, strings } from '../src/i18n';

describe('i18n', () => {
  it('has at least en, de and fr', () => {
    for (const l of ['en', 'de', 'fr']) assert.ok(TABLES[l], l);
  });

  for (const [locale, table] of Object.entries(TABLES)) {
    it(`${locale}: every string is present and non-empty`, () => {
      assert.equal(table.length, S.count, `${locale} has ${table.length} strings, expected ${S.count}`);
      for (let i = 0; i < S.count; i++) assert.ok(typeof table[i] == 'string' && table[i].trim(), `${locale}[${i}] is empty`);
    });

    it(`${locale}: placeholders and rating labels match English`, () => {
      const en = strings('en');
      const s = strings(locale);
      for (let i = 0; i < S.count; i++) assert.equal(s[i].includes('{n}'), en[i].includes('{n}'), `${locale}[${i}] {n}: ${s[i]}`);
      const labels = s[S.ratings].split('|');
      assert.equal(labels.length, 4);
      assert.ok(labels.every((l) => l.trim()));
    });
  }

  it('English strings are the contract the browser tests select by', () => {
    const en = strings('en');
    assert.equal(en[S.launcher], 'Give feedback');
    assert.equal(en[S.title], 'Send feedback');
    assert.equal(en[S.close], 'Close');
    assert.equal(en[S.question], 'How was your experience?');
    assert.equal(en[S.ratings], 'Terrible|Bad|Good|Amazing');
    assert.equal(en[S.comment], 'Tell us more');
    assert.equal(en[S.email], 'Email (optional)');
    assert.equal(en[S.capture], 'Capture this page');
    assert.equal(en[S.attach], 'Attach a file');
    assert.equal(fmt(en[S.shot], 1), 'Screenshot 1');
    assert.equal(fmt(en[S.remove], 2), 'Remove screenshot 2');
    assert.equal(en[S.send], 'Send');
    assert.equal(en[S.thanks], 'Thank you!');
  });

  it('picks the locale option, then the browser languages, then en', () => {
    assert.equal(pickLocale('de'), 'de');
    assert.equal(pickLocale('fr-CA'), 'fr');
    assert.equal(pickLocale('DE-at'), 'de');
    assert.equal(pickLocale('xx'), 'en');
    assert.equal(pickLocale('xx', ['de']), 'en', 'an explicit unknown locale falls back to en, not the browser');
    assert.equal(pickLocale(undefined, ['nl-NL', 'fr-FR', 'de']), 'fr');
    assert.equal(pickLocale(undefined, ['nl']), 'en');
    assert.equal(pickLocale(undefined, []), 'en');
    assert.equal(pickLocale('constructor'), 'en');
    assert.equal(pickLocale('__proto__'), 'en');
  });
});
