import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { signToken, trackingKey, trackingUrls, verifyToken } from './tokens.ts';

const key = trackingKey(randomBytes(32));

describe('tracking tokens', () => {
  it('round-trips every kind and binds the click URL', () => {
    const open = signToken(key, { kind: 'open', campaignId: '12', contactId: 'abc' });
    assert.deepEqual(verifyToken(key, open, 'open'), { kind: 'open', campaignId: '12', contactId: 'abc' });
    const click = signToken(key, { kind: 'click', campaignId: '12', contactId: 'abc', url: 'https://shop.example/p?id=1&x=é' });
    assert.equal(verifyToken(key, click, 'click')?.url, 'https://shop.example/p?id=1&x=é');
    for (const kind of ['unsubscribe', 'preferences'] as const)
      assert.equal(verifyToken(key, signToken(key, { kind, campaignId: '1', contactId: 'x' }), kind)?.kind, kind);
    assert.ok(open.length < 40, `compact: ${open.length}`);
    const urls = trackingUrls(key, 'https://mail.example/', '3', 'c');
    assert.match(urls.open, /^https:\/\/mail\.example\/t\/o\/[\w-]+\.[\w-]+$/);
  });

  it('rejects tampered, re-kinded, foreign-key, malformed and unknown tokens', () => {
    const t = signToken(key, { kind: 'click', campaignId: '12', contactId: 'abc', url: 'https://shop.example/' });
    const [p, u, m] = t.split('.');
    const url = Buffer.from(u, 'base64url');
    url[url.length - 2] ^= 1; // change the URL
    assert.equal(verifyToken(key, `${p}.${url.toString('base64url')}.${m}`, 'click'), null);
    assert.equal(verifyToken(key, `${p}.${m}`, 'click'), null, 'a version 2 click without its URL segment');
    assert.equal(verifyToken(key, t, 'open'), null, 'a click token is not an open token');
    assert.equal(verifyToken(trackingKey(randomBytes(32)), t, 'click'), null);
    for (const bad of ['', '.', '..', 'abc', `${p}.`, `.${m}`, `${p}.${u}.${m}x`, `${p}=.${u}.${m}`, `${p}.${u}=.${m}`, `${p}.${u}.${m}.x`, `${p}..${m}`, null, 42, 'x'.repeat(5000)])
      assert.equal(verifyToken(key, bad, 'click'), null, String(bad));
    assert.throws(() => signToken(key, { kind: 'click', campaignId: '1', contactId: '1', url: 'javascript:alert(1)' }), /http/);
    assert.throws(() => signToken(key, { kind: 'click', campaignId: '1', contactId: '1', url: '//evil.example' }), /http/);
  });

  it('never verifies random strings and never throws (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        assert.equal(verifyToken(key, s, 'open'), null);
        assert.equal(verifyToken(key, s, 'click'), null);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('tracking tokens, version 2 (one MAC per recipient)', () => {
  const urls = trackingUrls(key, 'https://mail.example', '12', 'abc');
  const token = (u: string) => u.replace(/^https:\/\/mail\.example\/t\/[ocup]\//, '');

  it('trackingUrls and signToken give the same verifiable tokens', () => {
    assert.equal(token(urls.open), signToken(key, { kind: 'open', campaignId: '12', contactId: 'abc' }));
    assert.equal(token(urls.click('https://shop.example/a')), signToken(key, { kind: 'click', campaignId: '12', contactId: 'abc', url: 'https://shop.example/a' }));
    assert.deepEqual(verifyToken(key, token(urls.unsubscribe), 'unsubscribe'), { kind: 'unsubscribe', campaignId: '12', contactId: 'abc' });
    assert.deepEqual(verifyToken(key, token(urls.preferences), 'preferences'), { kind: 'preferences', campaignId: '12', contactId: 'abc' });
    assert.equal(verifyToken(key, token(urls.click('https://shop.example/a?x=é')), 'click')?.url, 'https://shop.example/a?x=é');
    assert.throws(() => urls.click('javascript:alert(1)'), /http/);
  });

  it('each kind has its own MAC, and a MAC is bound to its campaign, contact and URL', () => {
    const swapKind = (t: string, kind: number) => {
      const [p, m] = t.split('.');
      const b = Buffer.from(p, 'base64url');
      b[1] = kind;
      return `${b.toString('base64url')}.${m}`;
    };
    assert.equal(verifyToken(key, swapKind(token(urls.open), 3), 'unsubscribe'), null, 'open → unsubscribe');
    assert.equal(verifyToken(key, swapKind(token(urls.unsubscribe), 4), 'preferences'), null, 'unsubscribe → preferences');
    const other = trackingUrls(key, 'https://mail.example', '12', 'abd');
    const [p1, u1, m1] = token(urls.click('https://shop.example/a')).split('.');
    assert.equal(verifyToken(key, `${p1}.${u1}.${m1}`, 'click')?.url, 'https://shop.example/a');
    const [p2] = token(other.click('https://shop.example/a')).split('.');
    assert.equal(verifyToken(key, `${p2}.${u1}.${m1}`, 'click'), null, 'another contact');
    const [p3] = token(trackingUrls(key, 'https://mail.example', '13', 'abc').click('https://shop.example/a')).split('.');
    assert.equal(verifyToken(key, `${p3}.${u1}.${m1}`, 'click'), null, 'another campaign');
    const evil = Buffer.from('https://evil.example/a', 'utf8').toString('base64url');
    assert.equal(verifyToken(key, `${p1}.${evil}.${m1}`, 'click'), null, 'another URL');
    const [, u4] = token(urls.click('https://shop.example/b')).split('.');
    assert.equal(verifyToken(key, `${p1}.${u4}.${m1}`, 'click'), null, "another link's URL with this link's MAC");
  });

  it('still accepts version 1 tokens (mail sent before version 2)', () => {
    const v1 = (kind: number, fields: string[]) => {
      const payload = Buffer.concat([Buffer.from([1, kind]), Buffer.from(fields.join('\0'), 'utf8')]);
      const mac = createHmac('sha256', key).update(payload).digest().subarray(0, 16);
      return `${payload.toString('base64url')}.${mac.toString('base64url')}`;
    };
    assert.deepEqual(verifyToken(key, v1(1, ['12', 'abc']), 'open'), { kind: 'open', campaignId: '12', contactId: 'abc' });
    assert.equal(verifyToken(key, v1(2, ['12', 'abc', 'https://shop.example/x']), 'click')?.url, 'https://shop.example/x');
    assert.equal(verifyToken(key, v1(2, ['12', 'abc', 'javascript:alert(1)']), 'click'), null);
    assert.equal(verifyToken(key, v1(3, ['12', 'abc']), 'open'), null);
    const [p, m] = v1(1, ['12', 'abc']).split('.');
    const b = Buffer.from(p, 'base64url');
    b[0] = 2; // a version 1 MAC is not a version 2 MAC
    assert.equal(verifyToken(key, `${b.toString('base64url')}.${m}`, 'open'), null);
  });
});
