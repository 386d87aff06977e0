import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { browserContext, buildPayload, resolveMetadata } from '../src/core/payload';
import { PAGE, SHOT } from './helpers';

describe('buildPayload', () => {
  it('fills pageUrl, pageTitle and referrer from the page', () => {
    const p = buildPayload({ clientId: 'client_1', rating: 3 }, PAGE);
    assert.equal(p.clientId, 'client_1');
    assert.equal(p.rating, 3);
    assert.equal(p.pageUrl, 'https://shop.example/cart?x=1');
    assert.equal(p.pageTitle, 'Cart');
    assert.equal(p.referrer, 'https://search.example/');
  });

  it('omits an empty referrer and absent fields entirely', () => {
    const p = buildPayload({ clientId: 'c', comment: '  hi  ' }, { ...PAGE, referrer: '' });
    assert.deepEqual(Object.keys(p).sort(), ['clientId', 'comment', 'metadata', 'pageTitle', 'pageUrl']);
    assert.equal(p.comment, 'hi');
    assert.ok(!('referrer' in p));
    assert.ok(!('rating' in p));
  });

  it('keeps pageTitle even when empty (the SDK always sends it)', () => {
    assert.equal(buildPayload({ clientId: 'c', rating: 1 }, { ...PAGE, title: '' }).pageTitle, '');
  });

  it('explicit page fields win over the page', () => {
    const p = buildPayload({ clientId: 'c', rating: 1, pageUrl: 'https://x.example/', pageTitle: 'X', referrer: 'https://r.example/' }, PAGE);
    assert.deepEqual([p.pageUrl, p.pageTitle, p.referrer], ['https://x.example/', 'X', 'https://r.example/']);
  });

  it('clips fields to the server limits instead of being refused', () => {
    const long = 'https://shop.example/' + 'a'.repeat(5000);
    const p = buildPayload({ clientId: 'c', comment: 'x'.repeat(12000), environment: 'e'.repeat(80) }, { ...PAGE, href: long, title: 't'.repeat(2000) });
    assert.equal(p.pageUrl!.length, 4096);
    assert.equal(p.pageTitle!.length, 1000);
    assert.equal(p.comment!.length, 10000);
    assert.equal(p.environment!.length, 64);
  });

  it('whitespace-only comment and empty environment are absent', () => {
    const p = buildPayload({ clientId: 'c', rating: 2, comment: '   ', environment: '' }, PAGE);
    assert.ok(!('comment' in p));
    assert.ok(!('environment' in p));
  });

  it('adds the browser context under metadata.browser', () => {
    const p = buildPayload({ clientId: 'c', rating: 4 }, PAGE);
    assert.deepEqual(p.metadata, { browser: PAGE.browser });
  });

  it('contextMetadata: false leaves the browser context out', () => {
    assert.ok(!('metadata' in buildPayload({ clientId: 'c', rating: 4, contextMetadata: false }, PAGE)));
    const p = buildPayload({ clientId: 'c', rating: 4, contextMetadata: false, metadata: { plan: 'pro' } }, PAGE);
    assert.deepEqual(p.metadata, { plan: 'pro' });
  });

  it('merges a metadata object with the browser context', () => {
    const p = buildPayload({ clientId: 'c', rating: 4, metadata: { plan: 'pro', cart: { items: 2 } } }, PAGE);
    assert.deepEqual(p.metadata, { browser: PAGE.browser, plan: 'pro', cart: { items: 2 } });
  });

  it('calls a metadata function at build time and merges its result', () => {
    let calls = 0;
    const p = buildPayload({ clientId: 'c', rating: 4, metadata: () => ({ calls: ++calls }) }, PAGE);
    assert.equal(calls, 1);
    assert.deepEqual(p.metadata, { browser: PAGE.browser, calls: 1 });
  });

  it("the host's own metadata.browser key wins", () => {
    const p = buildPayload({ clientId: 'c', rating: 4, metadata: { browser: 'custom' } }, PAGE);
    assert.deepEqual(p.metadata, { browser: 'custom' });
  });

  it('ignores a metadata function that throws or returns a non-object', () => {
    const boom = () => {
      throw new Error('boom');
    };
    assert.deepEqual(buildPayload({ clientId: 'c', rating: 1, metadata: boom }, PAGE).metadata, { browser: PAGE.browser });
    assert.equal(resolveMetadata((() => [1, 2]) as never), undefined);
    assert.equal(resolveMetadata((() => 'x') as never), undefined);
    assert.equal(resolveMetadata(undefined), undefined);
  });

  it('prefills userEmail from user.email', () => {
    const p = buildPayload({ clientId: 'c', rating: 1, user: { email: 'ada@example.com' } }, PAGE);
    assert.equal(p.userEmail, 'ada@example.com');
  });

  it('an explicit userEmail wins over user.email; "" (field cleared) sends none', () => {
    const user = { email: 'ada@example.com' };
    assert.equal(buildPayload({ clientId: 'c', rating: 1, user, userEmail: 'bob@example.com' }, PAGE).userEmail, 'bob@example.com');
    assert.ok(!('userEmail' in buildPayload({ clientId: 'c', rating: 1, user, userEmail: '' }, PAGE)));
  });

  it('puts user id and name under metadata.user', () => {
    const p = buildPayload({ clientId: 'c', rating: 1, user: { id: 'u1', name: 'Ada', email: 'ada@example.com' } }, PAGE);
    assert.deepEqual(p.metadata!.user, { id: 'u1', name: 'Ada' });
    assert.ok(!('user' in buildPayload({ clientId: 'c', rating: 1, user: { email: 'a@b.co' } }, PAGE).metadata!));
  });

  it('passes screenshot objects through unchanged', () => {
    const p = buildPayload({ clientId: 'c', rating: 1, screenshots: [SHOT] }, PAGE);
    assert.deepEqual(p.screenshots, [SHOT]);
    assert.ok(!('screenshots' in buildPayload({ clientId: 'c', rating: 1, screenshots: [] }, PAGE)));
  });

  it('serialises to JSON without undefined holes', () => {
    const p = buildPayload({ clientId: 'c', rating: 1 }, PAGE);
    assert.deepEqual(JSON.parse(JSON.stringify(p)), p);
  });
});

describe('browserContext', () => {
  const win = {
    innerWidth: 1280,
    innerHeight: 720,
    devicePixelRatio: 2,
    screen: { width: 1440, height: 900 },
    navigator: {
      language: 'de-DE',
      userAgent: 'Mozilla/5.0 Test',
      userAgentData: { brands: [{ brand: 'Chromium', version: '126' }], platform: 'macOS', mobile: false },
    },
    Intl,
  };

  it('collects viewport, screen, language, timezone, user agent and UA-CH', () => {
    const c = browserContext(win);
    assert.deepEqual(c.viewport, { width: 1280, height: 720 });
    assert.deepEqual(c.screen, { width: 1440, height: 900, pixelRatio: 2 });
    assert.equal(c.language, 'de-DE');
    assert.equal(typeof c.timezone, 'string');
    assert.equal(c.userAgent, 'Mozilla/5.0 Test');
    assert.deepEqual(c.brands, ['Chromium 126']);
    assert.equal(c.platform, 'macOS');
    assert.equal(c.mobile, false);
  });

  it('leaves out what the browser does not have (no UA-CH in Firefox/Safari)', () => {
    const c = browserContext({ ...win, navigator: { language: 'fr', userAgent: 'UA' }, Intl: undefined });
    assert.deepEqual(Object.keys(c).sort(), ['language', 'screen', 'userAgent', 'viewport']);
  });
});
