import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import MailComposer from 'nodemailer/lib/mail-composer';
import PostalMime from 'postal-mime';
import { composeTemplate, messageIdFor, parseSlots, personalise, toRaw } from './compose.ts';

const key = randomBytes(32);
const date = new Date('2030-01-02T03:04:05Z');

function maxLineLength(raw: Buffer): number {
  return Math.max(...raw.toString('latin1').split('\r\n').map((l) => l.length));
}

async function viaMailComposer(o: Record<string, unknown>): Promise<Buffer> {
  return new MailComposer(o).compile().build();
}

function headerMap(email: Awaited<ReturnType<typeof PostalMime.parse>>) {
  return Object.fromEntries(email.headers.map((h) => [h.key, h.value]));
}

const longHtml = `<html><body><p>Hello [[mw:first]], ça va? ${'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(40)}</p>
<p><a href="[[mw:click0]]">Read more</a> · prix: 12 €</p><img src="[[mw:open]]" width="1" height="1" alt=""></body></html>`;
const longText = `Hello [[mw:first]],\n\n${'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(20)}\n\nRead more: [[mw:click0]]\n  trailing spaces   \nEnd.`;

describe('compose', () => {
  it('personalises to the same text/html/headers as nodemailer MailComposer (quoted-printable and base64)', async () => {
    for (const encoding of ['quoted-printable', 'base64'] as const) {
      const t = composeTemplate({
        campaignId: 42,
        from: { name: 'Acme Sales', address: 'sales@acme.example' },
        replyTo: { address: 'reply@acme.example' },
        subject: 'Spring offer — 20 % off, Jürgen!',
        text: parseSlots(longText),
        html: parseSlots(longHtml),
        messageIdDomain: 'acme.example',
        messageIdKey: key,
        encoding,
        headers: { 'Feedback-ID': 'c42:mailwarden' },
      });
      const slots = { first: 'Zoë', click0: 'https://t.example/c/abc?x=1', open: 'https://t.example/o/xyz' };
      const m = personalise(t, {
        contactId: '0190b7b4-1111-7000-8000-000000000001',
        to: { name: 'Zoë Müller, PhD', address: 'zoe@example.org' },
        returnPath: 'b-abc123@bounce.acme.example',
        unsubscribeUrl: 'https://t.example/u/tok',
        unsubscribeMailto: 'mailto:unsub@acme.example?subject=tok',
        slots,
        date,
      });
      const raw = toRaw(m);
      assert.ok(maxLineLength(m.body) <= 76, `body line too long (${encoding}): ${maxLineLength(m.body)}`);
      assert.ok(maxLineLength(m.head) <= 998, 'header line too long');
      const fill = (s: string) => s.replace(/\[\[mw:(\w+)\]\]/g, (_, n: keyof typeof slots) => slots[n]);
      const reference = await viaMailComposer({
        from: { name: 'Acme Sales', address: 'sales@acme.example' },
        replyTo: 'reply@acme.example',
        to: { name: 'Zoë Müller, PhD', address: 'zoe@example.org' },
        subject: 'Spring offer — 20 % off, Jürgen!',
        text: fill(longText),
        html: fill(longHtml),
        messageId: m.messageId,
        date,
        textEncoding: encoding === 'base64' ? 'base64' : 'quoted-printable',
        headers: {
          'Feedback-ID': 'c42:mailwarden',
          'List-Unsubscribe': '<https://t.example/u/tok>, <mailto:unsub@acme.example?subject=tok>',
          'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
        },
      });
      const [ours, theirs] = await Promise.all([PostalMime.parse(raw), PostalMime.parse(reference)]);
      // base64 text is CRLF-canonical (RFC 2045 §6.8) here; nodemailer encodes the input's LFs as they are
      const lf = (s: string | undefined) => (encoding === 'base64' ? s?.replace(/\r\n/g, '\n') : s);
      assert.equal(lf(ours.text), lf(theirs.text), encoding);
      assert.equal(lf(ours.html), lf(theirs.html), encoding);
      assert.equal(ours.subject, theirs.subject);
      assert.deepEqual(ours.from, theirs.from);
      assert.deepEqual(ours.to, theirs.to);
      assert.deepEqual(ours.replyTo, theirs.replyTo);
      assert.equal(ours.messageId, theirs.messageId);
      assert.equal(ours.date, theirs.date);
      const [oh, th] = [headerMap(ours), headerMap(theirs)];
      for (const h of ['list-unsubscribe', 'list-unsubscribe-post', 'feedback-id', 'mime-version'])
        assert.equal(oh[h], th[h], h);
      assert.match(oh['content-type'], /^multipart\/alternative/);
      assert.equal(ours.attachments.length, 0);
      assert.deepEqual(m.envelope, { from: 'b-abc123@bounce.acme.example', to: ['zoe@example.org'] });
    }
  });

  it('shares one static body across recipients and makes deterministic Message-IDs', () => {
    const t = composeTemplate({
      campaignId: 7,
      from: { address: 'a@acme.example' },
      subject: 'Hi',
      text: 'Same for all',
      html: '<p>Same for all</p>',
      messageIdDomain: 'acme.example',
      messageIdKey: key,
    });
    const r = (id: string) => personalise(t, { contactId: id, to: { address: `${id}@x.example` }, returnPath: `b-${id}@bounce.example`, date });
    const a = r('a1');
    const b = r('b2');
    assert.equal(a.bodyIsStatic, true);
    assert.equal(a.body, b.body);
    assert.equal(a.messageId, r('a1').messageId);
    assert.match(a.messageId, /^<c7\.ra1\.[0-9a-f]{8}@acme\.example>$/);
    assert.equal(a.messageId, messageIdFor(key, 7, 'a1', 'acme.example'));
    assert.notEqual(a.messageId, messageIdFor(randomBytes(32), 7, 'a1', 'acme.example'));
  });

  it('single-part html, full per-recipient override, missing slots and header injection', async () => {
    const t = composeTemplate({
      campaignId: 1,
      from: { address: 'a@acme.example' },
      subject: 'x',
      html: ['<p>', { slot: 'n' }, '</p>'],
      messageIdDomain: 'acme.example',
      messageIdKey: key,
    });
    const base = { contactId: 1, to: { address: 'z@x.example' }, returnPath: 'b@bounce.example' };
    const parsed = await PostalMime.parse(toRaw(personalise(t, { ...base, slots: { n: 'Ann' } })));
    assert.equal(parsed.html?.trim(), '<p>Ann</p>');
    const over = await PostalMime.parse(toRaw(personalise(t, { ...base, html: '<b>custom</b>' })));
    assert.equal(over.html?.trim(), '<b>custom</b>');
    assert.throws(() => personalise(t, base), /no value for body slot "n"/);
    assert.throws(() => personalise(t, { ...base, slots: { n: '' }, to: { name: 'x\r\nBcc: evil@x', address: 'z@x.example' } }), /line breaks/);
    assert.throws(() => personalise(t, { ...base, slots: { n: '' }, to: { address: 'a@b>\r\nBcc: c@d' } }), /invalid email/);
    assert.throws(() => personalise(t, { ...base, slots: { n: '' }, unsubscribeUrl: 'javascript:alert(1)' }), /unsubscribe/);
  });
});
