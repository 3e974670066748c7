import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { composeTemplate, parseSlots, personalise } from './compose.ts';
import { generateDkimKey, relaxedBodyHash, signMessage, signRaw, staticKeyResolver, verifyDkim } from './dkim.ts';

const ed = generateDkimKey('ed25519', 'acme.example', 'ed1');
const rsa = generateDkimKey('rsa', 'acme.example', 'rsa1');
const resolver = staticKeyResolver([ed, rsa]);

function template(html: string) {
  return composeTemplate({
    campaignId: 9,
    from: { name: 'Acme', address: 'news@acme.example' },
    subject: 'Nouveautés',
    text: parseSlots(html.replace(/<[^>]+>/g, '')),
    html: parseSlots(html),
    messageIdDomain: 'acme.example',
    messageIdKey: randomBytes(32),
  });
}
const recipient = (i: number, slots?: Record<string, string>) => ({
  contactId: `c${i}`,
  to: { name: 'Ann Bee', address: `ann${i}@example.org` },
  returnPath: `b-${i}@bounce.acme.example`,
  unsubscribeUrl: `https://t.acme.example/u/${i}`,
  slots,
});

describe('dkim', () => {
  it('generates TXT records for Ed25519 (raw 32-byte key, RFC 8463) and RSA-2048', () => {
    assert.match(ed.txt, /^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);
    assert.equal(ed.dnsName, 'ed1._domainkey.acme.example');
    assert.match(rsa.txt, /^v=DKIM1; k=rsa; p=MIIBIjAN/);
  });

  it('dual-signs (Ed25519 + RSA) personalised messages that mailauth verifies', async () => {
    const t = template('<p>Hello [[mw:name]]</p><a href="[[mw:click]]">go</a>');
    for (const i of [1, 2]) {
      const m = personalise(t, recipient(i, { name: `N${i}`, click: `https://t.acme.example/c/${i}` }));
      assert.equal(m.bodyIsStatic, false);
      const raw = await signMessage([ed, rsa], m);
      const results = await verifyDkim(raw, resolver);
      assert.deepEqual(
        results.map((r) => [r.selector, r.algorithm, r.result]),
        [
          ['ed1', 'ed25519-sha256', 'pass'],
          ['rsa1', 'rsa-sha256', 'pass'],
        ],
      );
      const sig = raw.toString().split('\r\n\r\n')[0];
      assert.match(sig, /h=[^;]*List-Unsubscribe-Post/i);
      assert.match(sig, /c=relaxed\/relaxed/);
    }
  });

  it('hashes a static body once per campaign and still verifies per recipient; tampering fails', async () => {
    const t = template('<p>Same for everyone</p>');
    const a = personalise(t, recipient(1));
    const rawA = await signMessage([ed], a);
    assert.equal(t.bodyHashCache.get('relaxed:sha256'), relaxedBodyHash(a.body));
    const rawB = await signMessage([ed], personalise(t, recipient(2)));
    assert.equal((await verifyDkim(rawA, resolver))[0].result, 'pass');
    assert.equal((await verifyDkim(rawB, resolver))[0].result, 'pass');
    const tampered = Buffer.from(rawB.toString('latin1').replace('ann2@example.org', 'eve@example.org'), 'latin1');
    assert.equal((await verifyDkim(tampered, resolver))[0].result, 'fail');
    const bodyTampered = Buffer.from(rawB.toString('latin1').replace('Same for', 'Sane for'), 'latin1');
    assert.notEqual((await verifyDkim(bodyTampered, resolver))[0].result, 'pass');
  });

  it('signs arbitrary raw messages (signRaw)', async () => {
    const raw = Buffer.from('From: a@acme.example\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nbody  text \r\n\r\n\r\n');
    const signed = await signRaw([rsa, ed], raw);
    assert.deepEqual((await verifyDkim(signed, resolver)).map((r) => r.result), ['pass', 'pass']);
  });
});
