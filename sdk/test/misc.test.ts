import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { baseFromScript, optionsFromScript } from '../src/script';
import { onPrimary, themeCss } from '../src/ui/styles';

describe('baseUrl from the script src', () => {
  it('strips /widget.js or /widget/<file>, keeping a path prefix', () => {
    assert.equal(baseFromScript('https://sayso.example/widget.js', true), 'https://sayso.example');
    assert.equal(baseFromScript('https://sayso.example:8443/widget.js?v=2', true), 'https://sayso.example:8443');
    assert.equal(baseFromScript('https://sayso.example/widget/sayso.mjs', false), 'https://sayso.example');
    assert.equal(baseFromScript('https://corp.example/feedback/widget.js', true), 'https://corp.example/feedback');
  });
  it('otherwise falls back to the origin (script tag) or nothing (module)', () => {
    assert.equal(baseFromScript('https://cdn.example/assets/sayso.js', true), 'https://cdn.example');
    assert.equal(baseFromScript('https://app.example/assets/index-abc.js', false), '');
    assert.equal(baseFromScript(undefined, true), '');
    assert.equal(baseFromScript('', true), '');
    assert.equal(baseFromScript('file:///x/widget.js', true), '');
  });
});

describe('data attributes', () => {
  it('map to options', () => {
    const o = optionsFromScript({
      nonce: 'n0nce',
      dataset: {
        clientId: 'client_1',
        environment: 'staging',
        position: 'left',
        themePrimary: '#ff0000',
        colorScheme: 'dark',
        launcher: 'tab',
        locale: 'de',
        title: 'Hi',
        showEmail: 'false',
        showScreenshot: 'false',
      },
    });
    assert.deepEqual(
      { ...o },
      {
        clientId: 'client_1',
        baseUrl: undefined,
        environment: 'staging',
        position: 'left',
        theme: { primary: '#ff0000' },
        colorScheme: 'dark',
        launcher: 'tab',
        locale: 'de',
        title: 'Hi',
        placeholder: undefined,
        showEmailOption: false,
        showScreenshotOption: false,
        nonce: 'n0nce',
        replay: false,
        replaySampleRate: NaN,
        privacyBlockSelector: undefined,
        privacyMaskSelector: undefined,
      },
    );
  });
  it('data-privacy-block-selector and data-privacy-mask-selector add to what recordings and captures leave out', () => {
    const o = optionsFromScript({ nonce: '', dataset: { clientId: 'c', privacyBlockSelector: '#billing', privacyMaskSelector: '.iban' } });
    assert.equal(o.privacyBlockSelector, '#billing');
    assert.equal(o.privacyMaskSelector, '.iban');
  });
  it('data-replay turns session replay on; its value, if any, is the sample rate', () => {
    const on = (replay?: string) => {
      const o = optionsFromScript({ nonce: '', dataset: { clientId: 'c', replay } });
      return [o.replay, o.replaySampleRate];
    };
    assert.deepEqual(on(''), [true, NaN]); // NaN: no rate given, every session
    assert.deepEqual(on('true'), [true, NaN]);
    assert.deepEqual(on('0.25'), [true, 0.25]);
    assert.deepEqual(on('false'), [false, NaN]);
    assert.deepEqual(on(undefined), [false, NaN]);
  });
  it('data-theme="dark" is a synonym of data-color-scheme', () => {
    const o = optionsFromScript({ nonce: '', dataset: { clientId: 'c', theme: 'dark' } });
    assert.equal(o.colorScheme, 'dark');
  });
  it('email and screenshot options default to on', () => {
    const o = optionsFromScript({ nonce: '', dataset: { clientId: 'c', showEmail: 'true' } });
    assert.equal(o.showEmailOption, true);
    assert.equal(o.showScreenshotOption, true);
    assert.equal(o.theme, undefined);
    assert.equal(o.nonce, undefined);
  });
});

describe('theme', () => {
  it('becomes custom properties', () => {
    assert.equal(themeCss({}), '');
    assert.equal(themeCss(), '');
    const css = themeCss({ primary: '#0a7', background: 'white', text: 'rgb(0, 0, 0)', border: '#ccc', shadow: 'none' });
    assert.equal(css, '.r.r{--p:#0a7;--bg:white;--tx:rgb(0, 0, 0);--bd:#ccc;--sh:none;--pt:#fff;}');
  });
  it('refuses values that could break out of the declaration', () => {
    assert.equal(themeCss({ primary: 'red;}:host{display:none' }), '');
    assert.equal(themeCss({ primary: 'red}' }), '');
    assert.equal(themeCss({ primary: '</style>' }), '');
    assert.equal(themeCss({ primary: 42 as never }), '');
  });
  it('picks readable text on the primary colour', () => {
    assert.equal(onPrimary('#4f46e5'), '#fff');
    assert.equal(onPrimary('#000'), '#fff');
    assert.equal(onPrimary('#ffeb3b'), '#111');
    assert.equal(onPrimary('#FFF'), '#111');
    assert.equal(onPrimary('rebeccapurple'), '#fff');
  });
});
