import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { extractReportedMessage, reconstructInline } from './report.ts';
import { scanMessage } from './scan.ts';
import { buildMessage } from './testing.ts';

const original = buildMessage({
  from: '"DHL Express" <notify@dhl-parcel-track.example>',
  subject: 'Parcel held at customs',
  html: '<p>Pay the customs fee within 24 hours:</p><a href="http://198.51.100.4/pay">https://www.dhl.com/pay</a>',
});

describe('extractReportedMessage', () => {
  test('returns a message/rfc822 attachment byte-for-byte and the reporter', async () => {
    const report = Buffer.from(
      `From: "Carla Reporter" <carla@acme.example>\r\nTo: phishing@acme.example\r\nSubject: Fwd: Parcel held at customs\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="r"\r\n\r\n--r\r\nContent-Type: text/plain\r\n\r\nThis looks fake.\r\n--r\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename="original.eml"\r\n\r\n${original.toString('utf8')}\r\n--r--\r\n`,
    );
    const r = await extractReportedMessage(report);
    assert.equal(r.method, 'attachment');
    assert.equal(r.reporter?.address, 'carla@acme.example');
    assert.equal(r.reporter?.name, 'Carla Reporter');
    assert.ok(r.original);
    assert.match(r.original!.toString(), /Subject: Parcel held at customs/);
    const scanned = await scanMessage(r.original!);
    assert.equal(scanned.from?.address, 'notify@dhl-parcel-track.example');
    assert.ok(scanned.reasons.some((x) => x.signal === 'links.ip_host'));
  });

  test('reconstructs an inline Gmail-style forward', async () => {
    const report = buildMessage({
      from: 'Dan <dan@acme.example>',
      subject: 'Fwd: Urgent invoice',
      text: 'FYI, is this real?\n\n---------- Forwarded message ---------\nFrom: CEO Jane Doe <jane.doe.ceo@gmail.com>\nDate: Mon, 6 May 2024 at 09:12\nSubject: Urgent invoice\nTo: Dan <dan@acme.example>\n\nPlease process a wire transfer of $48,000 today. I am in a meeting.\n',
    });
    const r = await extractReportedMessage(report);
    assert.equal(r.method, 'inline');
    assert.equal(r.reporter?.address, 'dan@acme.example');
    const s = await scanMessage(r.original!);
    assert.equal(s.from?.address, 'jane.doe.ceo@gmail.com');
    assert.equal(s.subject, 'Urgent invoice');
    assert.ok(s.reasons.some((x) => x.signal === 'lang.bec'));
  });

  test('Outlook "Original Message" blocks in German and quoted forwards work', () => {
    const de = reconstructInline('Siehe unten\n\n-----Ursprüngliche Nachricht-----\nVon: Bank <info@bank-secure.example>\nGesendet: Montag, 6. Mai 2024 10:00\nAn: x@acme.example\nBetreff: Konto gesperrt\n\nIhr Konto wurde gesperrt.\n');
    assert.ok(de);
    assert.match(de!.toString(), /^From: Bank <info@bank-secure\.example>/m);
    assert.match(de!.toString(), /^Subject: Konto gesperrt/m);
    const quoted = reconstructInline('-------- Original Message --------\n> From: a@b.example\n> Subject: hi\n>\n> body line\n');
    assert.match(quoted!.toString(), /From: a@b\.example[\s\S]*body line/);
  });

  test('no forward → method none; header injection in forwarded fields is neutralised', async () => {
    const r = await extractReportedMessage(buildMessage({ text: 'Just a question, no forward.' }));
    assert.equal(r.method, 'none');
    assert.equal(r.original, null);
    const inj = reconstructInline('---------- Forwarded message ---------\nFrom: a@b.example\nSubject: hi\n\nbody');
    assert.equal(inj!.toString().split('\r\n').filter((l) => l.startsWith('From:')).length, 1);
  });
});
