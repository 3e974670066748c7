import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type ArfReport, classifyStatus, type DsnReport, parseReport, parseVerp, verpAddress } from './bounces.ts';

const sample = (name: string) => readFileSync(new URL(`./testdata/${name}`, import.meta.url));
const opts = { bounceDomain: 'bounce.acme.example' };

async function dsn(name: string, o = opts): Promise<DsnReport> {
  const out = await parseReport(sample(name), o);
  assert.equal(out.status, 'parsed', JSON.stringify(out));
  assert.equal(out.status === 'parsed' && out.report.kind, 'dsn');
  return (out as { report: DsnReport }).report;
}

describe('bounces', () => {
  it('parses a Gmail-style DSN (5.1.1, hard) with the original Message-ID and VERP address', async () => {
    const r = await dsn('gmail-dsn.eml');
    assert.equal(r.reportingMta, 'googlemail.com');
    assert.equal(r.recipients.length, 1);
    const [x] = r.recipients;
    assert.equal(x.finalRecipient, 'nobody.here@gmail.com');
    assert.equal(x.status, '5.1.1');
    assert.equal(x.class, 'hard');
    assert.equal(x.category, 'invalid_recipient');
    assert.match(x.diagnosticCode ?? '', /does not exist.*gsmtp$/);
    assert.equal(r.originalMessageId, '<c42.r0190b7b4-1111-7000-8000-000000000001.1a2b3c4d@acme.example>');
    assert.equal(r.verp, 'b-42-0190b7b4-1111-7000-8000-000000000001-0000000000@bounce.acme.example');
    assert.equal(r.heuristic, false);
  });

  it('parses an Outlook/Exchange NDR (5.1.10 with text/rfc822-headers)', async () => {
    const r = await dsn('outlook-ndr.eml');
    assert.equal(r.recipients[0].finalRecipient, 'gone@contoso.com');
    assert.equal(r.recipients[0].status, '5.1.10');
    assert.equal(r.recipients[0].class, 'hard');
    assert.equal(r.originalMessageId, '<c7.rc9.99aa88bb@acme.example>');
    assert.equal(r.verp, 'b-7-c9-0000000000@bounce.acme.example');
  });

  it('parses a Postfix DSN with two recipients: mailbox full (5.2.2 = soft) and delayed (4.4.1)', async () => {
    // also with CRLF line endings, as it arrives over SMTP
    for (const raw of [sample('postfix-dsn.eml'), Buffer.from(sample('postfix-dsn.eml').toString().replace(/\n/g, '\r\n'))]) {
      const out = await parseReport(raw, { ...opts, envelopeTo: ['b-3-c1-0000000000@bounce.acme.example'] });
      assert.equal(out.status, 'parsed');
      const r = (out as { report: DsnReport }).report;
      assert.deepEqual(
        r.recipients.map((x) => [x.finalRecipient, x.originalRecipient, x.action, x.status, x.class, x.category]),
        [
          ['full@example.net', 'full@example.net', 'failed', '5.2.2', 'soft', 'mailbox_full'],
          ['slow@example.net', null, 'delayed', '4.4.1', 'soft', 'transient'],
        ],
      );
      assert.match(r.recipients[0].diagnosticCode ?? '', /552 5\.2\.2 .*Mailbox full/);
      assert.equal(r.recipients[0].remoteMta, 'mailstore.example.net');
      assert.equal(r.originalMessageId, '<c3.rc1.0badf00d@acme.example>');
      assert.equal(r.verp, 'b-3-c1-0000000000@bounce.acme.example');
    }
  });

  it('parses a Yahoo-style ARF complaint', async () => {
    const out = await parseReport(sample('yahoo-arf.eml'), opts);
    assert.equal(out.status, 'parsed');
    const r = (out as { report: ArfReport }).report;
    assert.equal(r.kind, 'arf');
    assert.equal(r.feedbackType, 'abuse');
    assert.equal(r.userAgent, 'Yahoo!-Mail-Feedback/2.0');
    assert.equal(r.originalMailFrom, 'b-42-c77-0000000000@bounce.acme.example');
    assert.deepEqual(r.originalRcptTo, ['reader@yahoo.com']);
    assert.equal(r.sourceIp, '203.0.113.25');
    assert.equal(r.reportedDomain, 'acme.example');
    assert.equal(r.originalMessageId, '<c42.rc77.deadbeef@acme.example>');
    assert.equal(r.verp, 'b-42-c77-0000000000@bounce.acme.example');
  });

  it('falls back to the text of a non-standard bounce, and reports the rest as unparseable', async () => {
    const qmail = Buffer.from(
      'From: MAILER-DAEMON@mail.example.org\r\nTo: b-1-c2-0000000000@bounce.acme.example\r\nSubject: failure notice\r\n\r\n' +
        "Hi. This is the qmail-send program at mail.example.org.\r\nI'm afraid I wasn't able to deliver your message to the following addresses.\r\n\r\n<ghost@example.org>:\r\n" +
        'Remote host said: 550 5.1.1 <ghost@example.org>... User unknown\r\n',
    );
    const out = await parseReport(qmail, opts);
    assert.equal(out.status, 'parsed');
    const r = (out as { report: DsnReport }).report;
    assert.equal(r.heuristic, true);
    assert.equal(r.recipients[0].status, '5.1.1');
    assert.equal(r.recipients[0].finalRecipient, 'ghost@example.org');
    assert.equal(r.verp, 'b-1-c2-0000000000@bounce.acme.example');
    const plain = await parseReport(Buffer.from('From: a@b.example\r\nSubject: hello\r\n\r\nJust a note.\r\n'), opts);
    assert.deepEqual(plain, { status: 'unparseable', kind: 'unknown', error: 'not a delivery or feedback report' });
    const empty = await parseReport(Buffer.alloc(0), opts);
    assert.equal(empty.status, 'unparseable');
  });

  it('classifies status codes', () => {
    assert.deepEqual(classifyStatus('5.1.1'), { class: 'hard', category: 'invalid_recipient' });
    assert.deepEqual(classifyStatus('5.2.2'), { class: 'soft', category: 'mailbox_full' });
    assert.deepEqual(classifyStatus('5.2.1'), { class: 'hard', category: 'mailbox_disabled' });
    assert.deepEqual(classifyStatus('5.7.1'), { class: 'soft', category: 'policy' });
    assert.deepEqual(classifyStatus('4.2.2'), { class: 'soft', category: 'mailbox_full' });
    assert.deepEqual(classifyStatus('2.0.0', 'delivered'), { class: 'success', category: 'delivered' });
    assert.deepEqual(classifyStatus(null), { class: 'soft', category: 'other' });
  });

  it('makes unforgeable VERP addresses', () => {
    const key = randomBytes(32);
    const a = verpAddress(key, 42, '0190b7b4-1111-7000-8000-000000000001', 'Bounce.Acme.Example');
    assert.ok(a.split('@')[0].length <= 64);
    assert.deepEqual(parseVerp(key, a.toUpperCase(), 'bounce.acme.example'), { campaignId: '42', contactId: '0190b7b4-1111-7000-8000-000000000001' });
    assert.equal(parseVerp(key, a.replace('-42-', '-43-'), 'bounce.acme.example'), null);
    assert.equal(parseVerp(randomBytes(32), a, 'bounce.acme.example'), null);
    assert.equal(parseVerp(key, a, 'other.example'), null);
    assert.equal(parseVerp(key, 'junk', 'bounce.acme.example'), null);
  });

  it('never throws on hostile input (property)', async () => {
    const gmail = sample('gmail-dsn.eml');
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 4000 }).map((a) => Buffer.from(a)),
          fc.string({ maxLength: 2000 }).map((s) => Buffer.from(s)),
          // mutate a real DSN: cut it, and flip bytes
          fc.tuple(fc.nat(gmail.length), fc.array(fc.tuple(fc.nat(gmail.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 30 })).map(([cut, flips]) => {
            const b = Buffer.from(gmail.subarray(0, Math.max(cut, 1)));
            for (const [i, v] of flips) if (i < b.length) b[i] = v;
            return b;
          }),
          fc
            .array(fc.constantFrom('Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n', '\r\n', '--x\r\n', 'Content-Type: message/delivery-status\r\n', 'Action: failed\r\n', 'Status: 5.1.1\r\n', 'Final-Recipient: rfc822; a@b\r\n', '--x--\r\n', 'Content-Type: message/feedback-report\r\n', ' folded\r\n'), { maxLength: 60 })
            .map((parts) => Buffer.from(parts.join(''))),
        ),
        async (raw) => {
          const out = await parseReport(raw, opts);
          assert.ok(out.status === 'parsed' || out.status === 'unparseable');
        },
      ),
      { numRuns: 400 },
    );
  });
});
