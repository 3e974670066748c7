import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
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
    const [p, m] = t.split('.');
    const payload = Buffer.from(p, 'base64url');
    payload[payload.length - 2] ^= 1; // change the URL
    assert.equal(verifyToken(key, `${payload.toString('base64url')}.${m}`, 'click'), null);
    assert.equal(verifyToken(key, t, 'open'), null, 'a click token is not an open token');
    assert.equal(verifyToken(trackingKey(randomBytes(32)), t, 'click'), null);
    for (const bad of ['', '.', 'abc', `${p}.`, `.${m}`, `${p}.${m}x`, `${p}=.${m}`, `${p}.${m}.x`, null, 42, 'x'.repeat(5000)])
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
