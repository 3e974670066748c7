import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { LIMITS, parseMessage } from './parse.ts';
import { scanMessage } from './scan.ts';
import { buildMessage, buildZip } from './testing.ts';

/** Hostile inputs generated in the test (never stored as fixtures). */
function hostileInputs(): [string, Buffer][] {
  const deep = (() => {
    let body = 'Content-Type: text/plain\r\n\r\ninnermost\r\n';
    for (let i = 0; i < 200; i++) body = `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n${body}--b${i}--\r\n`;
    return Buffer.from(`From: a@b.example\r\nSubject: deep\r\nMIME-Version: 1.0\r\n${body}`);
  })();
  const manyParts = (() => {
    const parts = Array.from({ length: 5000 }, (_, i) => `--p\r\nContent-Type: text/plain\r\n\r\npart ${i}\r\n`).join('');
    return Buffer.from(`From: a@b.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="p"\r\n\r\n${parts}--p--\r\n`);
  })();
  const hugeHeader = Buffer.from(`From: a@b.example\r\nX-Junk: ${'A'.repeat(3 * 1024 * 1024)}\r\nSubject: big\r\n\r\nbody\r\n`);
  const manyHeaders = Buffer.from(`${Array.from({ length: 50000 }, (_, i) => `X-H${i}: v`).join('\r\n')}\r\nFrom: a@b.example\r\n\r\nbody`);
  const badBase64 = Buffer.from(
    'From: a@b.example\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!****%%%%PGh0bWw+=====garbage\r\n',
  );
  const badCharset = Buffer.from(
    'From: =?x-unknown?B?////?= <a@b.example>\r\nSubject: =?utf-8?Q?=FF=FE=00?=\r\nContent-Type: text/plain; charset=x-does-not-exist\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=0=\r\n',
  );
  const zipBomb = buildMessage({
    text: 'see attached',
    attachments: [
      { filename: 'bomb.zip', content: buildZip([{ name: 'a.txt', declaredSize: 0xfffffff0 }, { name: 'b.exe', declaredSize: 0xfffffff0 }]) },
    ],
  });
  const manyZipEntries = buildMessage({
    text: 'x',
    attachments: [{ filename: 'many.zip', content: buildZip(Array.from({ length: 3000 }, (_, i) => ({ name: `f${i}.txt` }))) }],
  });
  const binary = Buffer.from(Array.from({ length: 200000 }, (_, i) => (i * 7919) % 256));
  const unclosedTags = Buffer.from(`From: a@b.example\r\nContent-Type: text/html\r\n\r\n${'<a href="x" '.repeat(100000)}${'<script>'.repeat(50000)}`);
  const hugeRaw = Buffer.concat([Buffer.from('From: a@b.example\r\n\r\n'), Buffer.alloc(LIMITS.maxRawBytes + 1000, 0x61)]);
  return [
    ['deep nesting', deep],
    ['5000 parts', manyParts],
    ['3 MB header line', hugeHeader],
    ['50k headers', manyHeaders],
    ['malformed base64', badBase64],
    ['broken charsets/encodings', badCharset],
    ['zip bomb declaration', zipBomb],
    ['3000 zip entries', manyZipEntries],
    ['random binary', binary],
    ['unclosed tags', unclosedTags],
    ['over raw cap', hugeRaw],
    ['empty', Buffer.alloc(0)],
    ['only CRLFs', Buffer.from('\r\n'.repeat(100000))],
  ];
}

describe('hardened parser', () => {
  for (const [name, raw] of hostileInputs()) {
    test(`survives ${name} within bounds`, async () => {
      const msg = await parseMessage(raw);
      assert.ok(msg.html.length <= LIMITS.maxHtmlChars);
      assert.ok(msg.bodyText.length <= LIMITS.maxTextChars);
      assert.ok(msg.headers.length <= LIMITS.maxHeaders);
      assert.ok(msg.links.length <= 600);
      assert.ok(msg.attachments.length <= LIMITS.maxAttachments);
      for (const a of msg.attachments) assert.ok((a.archive?.entries.length ?? 0) <= 1000);
      const r = await scanMessage(raw);
      assert.ok(r.score >= 0 && r.score <= 100);
      assert.ok(['phishing', 'suspicious', 'clean'].includes(r.verdict));
    });
  }

  test('records which limits were hit', async () => {
    const inputs = new Map(hostileInputs());
    assert.ok((await parseMessage(inputs.get('5000 parts')!)).limits.includes('parts'));
    assert.ok((await parseMessage(inputs.get('over raw cap')!)).limits.includes('raw_size'));
    const big = await parseMessage(inputs.get('3 MB header line')!);
    assert.ok(big.limits.includes('line_length'));
    assert.equal(big.from?.address, 'a@b.example');
    const deep = await parseMessage(inputs.get('deep nesting')!);
    assert.ok(deep.limits.includes('mime_rejected'), `limits: ${deep.limits}`);
    assert.match(deep.subject, /deep/);
  });

  test('lists zip bomb entries without inflating and flags it', async () => {
    const r = await scanMessage(new Map(hostileInputs()).get('zip bomb declaration')!);
    const signals = r.reasons.map((x) => x.signal);
    assert.ok(signals.includes('attach.zip_bomb'));
    assert.ok(signals.includes('attach.archive_risky_entry'));
    assert.equal(r.attachments[0].archive?.entries.length, 2);
  });

  test('property: never throws, output stays bounded for arbitrary bytes and mutated messages', async () => {
    const seed = buildMessage({
      subject: 'Verify',
      html: '<a href="http://1.2.3.4/login">paypal.com</a><form><input type="password"></form>',
      text: 'hello',
      attachments: [{ filename: 'a.zip', content: buildZip([{ name: 'x.exe' }]) }],
    });
    const arb = fc.oneof(
      fc.uint8Array({ maxLength: 4096 }).map((a) => Buffer.from(a)),
      fc
        .tuple(fc.nat({ max: seed.length }), fc.nat({ max: seed.length }), fc.uint8Array({ maxLength: 512 }))
        .map(([a, b, ins]) => Buffer.concat([seed.subarray(0, Math.min(a, b)), Buffer.from(ins), seed.subarray(Math.max(a, b))])),
      fc.string({ maxLength: 2000 }).map((s) => Buffer.from(`From: x@y.example\r\nContent-Type: text/html\r\n\r\n${s}`)),
    );
    await fc.assert(
      fc.asyncProperty(arb, async (raw) => {
        const r = await scanMessage(raw);
        return (
          Number.isFinite(r.score) &&
          r.score >= 0 &&
          r.score <= 100 &&
          r.reasons.every((x) => Number.isFinite(x.weight) && typeof x.detail === 'string') &&
          r.links.length <= 100
        );
      }),
      { numRuns: 300, seed: 4242 },
    );
  });

  test('parses a normal message fully', async () => {
    const msg = await parseMessage(
      buildMessage({ from: 'Bob <bob@example.org>', subject: 'Lunch', text: 'See https://example.org/menu today', html: '<p>See <a href="https://example.org/menu">the menu</a></p>' }),
    );
    assert.equal(msg.from?.address, 'bob@example.org');
    assert.equal(msg.subject, 'Lunch');
    assert.deepEqual(msg.limits, []);
    assert.ok(msg.links.some((l) => l.href === 'https://example.org/menu' && l.text === 'the menu'));
  });
});
