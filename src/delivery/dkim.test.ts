import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { composeTemplate, parseSlots, personalise } from './compose.ts';
import {
  generateDkimKey,
  isRelaxedCanonical,
  relaxedBodyHash,
  signatureHeadersByMailauth,
  signMessage,
  signRaw,
  staticKeyResolver,
  verifyDkim,
} from './dkim.ts';

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

  it('writes exactly the DKIM-Signature fields mailauth formats per message (the per-key template is only a cache)', async () => {
    const t = template('<p>Hello [[mw:name]]</p><a href="[[mw:click]]">go</a>');
    const other = generateDkimKey('ed25519', 'bücher.example', 'sel-2');
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 40 }),
        fc.string({ maxLength: 30 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 1_700_000_000_000, max: 1_700_000_003_000 }),
        async (name, display, which, ms) => {
          const keys = [[ed], [rsa], [ed, rsa], [other, ed]][which];
          const m = personalise(t, {
            ...recipient(which, { name, click: 'https://t.acme.example/c/1' }),
            to: { name: display.replace(/[\r\n\0]/g, ' ').trim() || undefined, address: 'ann@example.org' },
            subject: `Hi ${name.replace(/[\r\n\0]/g, ' ')}`,
          });
          const signTime = new Date(ms);
          const raw = await signMessage(keys, m, signTime);
          const reference = signatureHeadersByMailauth(keys, m.headLines, relaxedBodyHash(m.body), signTime);
          assert.equal(raw.subarray(0, reference.length).toString('latin1'), reference.toString('latin1'));
          assert.equal(raw[reference.length], m.head[0]);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('falls back to mailauth per message when the field itself holds a placeholder character', async () => {
    const odd = generateDkimKey('ed25519', 'acme.example', 'sel\u0001x');
    const m = personalise(template('<p>Hi [[mw:name]]</p>'), recipient(3, { name: 'Ann' }));
    const signTime = new Date(1_700_000_000_000);
    const raw = await signMessage([odd, ed], m, signTime);
    const reference = signatureHeadersByMailauth([odd, ed], m.headLines, relaxedBodyHash(m.body), signTime);
    assert.equal(raw.subarray(0, reference.length).toString('latin1'), reference.toString('latin1'));
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

  it('hashes composed bodies directly only when relaxed canonicalisation leaves them unchanged (property)', () => {
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('base64');
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'b', ' ', '\t', '\r\n', '=', '.', 'é'), { maxLength: 60 }), (bits) => {
        const body = Buffer.from(bits.join(''));
        if (isRelaxedCanonical(body)) assert.equal(sha(body), relaxedBodyHash(body), JSON.stringify(bits.join('')));
      }),
      { numRuns: 3000 },
    );
    assert.equal(isRelaxedCanonical(Buffer.from('a  b\r\n')), false);
    assert.equal(isRelaxedCanonical(Buffer.from('a\tb\r\n')), false);
    assert.equal(isRelaxedCanonical(Buffer.from('a \r\n')), false);
    assert.equal(isRelaxedCanonical(Buffer.from('a\r\n\r\n')), false);
    assert.equal(isRelaxedCanonical(Buffer.from('a b\r\n')), true);
  });

  it('encodes whitespace runs and tabs so the personalised body is hashed as it is, and signs it verifiably', async () => {
    const t = template('<pre>\tindented  twice   thrice [[mw:name]]</pre>\n  <p>x  [[mw:name]] </p>');
    for (const name of ['Ann  Bee', 'Tab\there', 'plain']) {
      const m = personalise(t, { ...recipient(3, { name }), subject: `Hi  ${name}` });
      assert.ok(isRelaxedCanonical(m.body), m.body.toString());
      assert.equal(m.bodyCanonical, true);
      assert.equal(relaxedBodyHash(m.body), createHash('sha256').update(m.body).digest('base64'));
      const raw = await signMessage([ed, rsa], m);
      assert.deepEqual((await verifyDkim(raw, resolver)).map((r) => r.result), ['pass', 'pass']);
    }
  });

  it('falls back to mailauth canonicalisation when the body is not canonical (trailing empty line)', async () => {
    const t = composeTemplate({
      campaignId: 9,
      from: { address: 'news@acme.example' },
      subject: 'x',
      text: ['Hi ', { slot: 'n' }, '\n\n'],
      messageIdDomain: 'acme.example',
      messageIdKey: randomBytes(32),
    });
    const m = personalise(t, recipient(4, { n: 'Ann' }));
    assert.equal(m.bodyCanonical, false);
    assert.equal((await verifyDkim(await signMessage([ed], m), resolver))[0].result, 'pass');
  });

  it('writes the t= it signed, even when the clock crosses a half second while signing', async () => {
    const realNow = Date.now;
    let now = Math.floor(realNow() / 1000) * 1000 + 100; // readings .4, .7, …: Math.round gives t and t + 1
    Date.now = () => (now += 300); // every reading of the clock is 300 ms later
    let raw: Buffer;
    try {
      raw = await signMessage([ed, rsa], personalise(template('<p>[[mw:n]]</p>'), recipient(5, { n: 'x' })));
    } finally {
      Date.now = realNow;
    }
    assert.deepEqual((await verifyDkim(raw, resolver)).map((r) => r.result), ['pass', 'pass']);
  });
});
