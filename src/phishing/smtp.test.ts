// The report mailbox over real SMTP (and one port shared with the bounce listener); the gateway
// is in smtp-gateway.test.ts, the shared fixtures in smtp-fixtures.ts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { desc, eq } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.ts';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { outboxMessages, phishingMessages, users } from '../db/schema.ts';
import { type StoredReport, startInboundListener } from '../delivery/inbound.ts';
import { getOutboxMessage, OutboxTransport } from '../delivery/outbox.ts';
import { inboundReports } from '../delivery/schema.ts';
import {
  dropOwnAuthResults,
  type Listener,
  reportMailboxSharesInboundPort,
  startPhishingListeners,
  startReportListener,
} from './smtp.ts';

import { lure, note, reportWithAttachment, inlineReport, send, } from './smtp-fixtures.ts';

let database: TestDatabase;
const listeners: { close(): Promise<void> }[] = [];
const outboxKey = randomBytes(32);
/** The newest captured acknowledgement, opened (the outbox seals what it captures). */
async function latestAck() {
  const [last] = await database.db.select({ id: outboxMessages.id }).from(outboxMessages).orderBy(desc(outboxMessages.id)).limit(1);
  const m = await getOutboxMessage(database.db, outboxKey, last.id);
  assert.ok(m);
  return m;
}
before(async () => {
  database = await createTestDatabase();
});
after(async () => {
  for (const l of listeners.reverse()) await l.close();
  await database?.close();
});

const rows = () => database.db.select().from(phishingMessages).orderBy(desc(phishingMessages.id));

describe('report mailbox', () => {
  let mailbox: Listener;
  before(async () => {
    mailbox = await startReportListener({
      db: database.db,
      port: 0,
      host: '127.0.0.1',
      reportAddress: 'Phish@Example.com',
      transport: new OutboxTransport(database.db, outboxKey),
    });
    listeners.push(mailbox);
  });

  test('an attached original is extracted, scored, queued, and the reporter acknowledged', async () => {
    const info = await send(
      mailbox.port,
      'alice@example.com',
      ['phish@example.com'],
      reportWithAttachment('alice@example.com'),
    );
    assert.match(info.response, /Report received as #\d+/);
    const [row] = await rows();
    assert.equal(row.source, 'report');
    assert.equal(row.extraction, 'attachment');
    assert.equal(row.reporter, 'alice@example.com');
    assert.equal(row.fromAddress, 'service@paypa1-secure-login.top');
    assert.equal(row.verdict, 'phishing');
    // the attachment as the MIME parser hands it over (line endings normalised to LF)
    assert.equal(
      row.raw.toString('utf8').replace(/\r\n/g, '\n').trimEnd(),
      lure.replace(/\r\n/g, '\n').trimEnd(),
    );
    assert.match(row.reportRaw!.toString('utf8'), /This looks fishy/);
    const ack = await latestAck();
    assert.deepEqual(ack.envelope.to, ['alice@example.com']);
    assert.equal(
      ack.envelope.from,
      '',
      'acknowledgements use the null sender: they never bounce back into a loop',
    );
    assert.match(ack.source, new RegExp(`reference #${row.id}`));
    assert.match(ack.source, /Auto-Submitted: auto-replied/);
    assert.match(ack.source, /In-Reply-To: <report-1@example.com>/);
  });

  test('inline forwards are reconstructed; outsiders are not acknowledged (no backscatter)', async () => {
    const acksBefore = (await database.db.select().from(outboxMessages)).length;
    await send(mailbox.port, 'bob@example.com', ['phish@example.com'], inlineReport);
    const [row] = await rows();
    assert.equal(row.extraction, 'inline');
    assert.equal(row.fromAddress, 'billing@invoices-payme.top');
    assert.equal((await database.db.select().from(outboxMessages)).length, acksBefore + 1);

    await send(
      mailbox.port,
      'stranger@elsewhere.example',
      ['phish@example.com'],
      reportWithAttachment('stranger@elsewhere.example'),
    );
    assert.equal(
      (await database.db.select().from(outboxMessages)).length,
      acksBefore + 1,
      'no acknowledgement to another domain',
    );
    // The stranger reported the lure alice had reported: the same case, now with two reporters.
    const cases = await database.db
      .select()
      .from(phishingMessages)
      .where(eq(phishingMessages.messageId, '<lure-7@paypa1-secure-login.top>'));
    assert.equal(cases.length, 1);
    assert.equal(cases[0].reportCount, 2);
    assert.equal(cases[0].reporter, 'alice@example.com');
    assert.equal(cases[0].reporterVerified, true);
    assert.deepEqual(cases[0].reporters, [
      { address: 'alice@example.com', verified: true },
      { address: 'stranger@elsewhere.example', verified: false },
    ]);
  });

  test('reporters are verified against the staff domains and the user accounts', async () => {
    const other = (from: string, id: string) =>
      reportWithAttachment(from).replace(
        '<lure-7@paypa1-secure-login.top>',
        `<${id}@paypa1-secure-login.top>`,
      );
    await send(
      mailbox.port,
      'stranger@elsewhere.example',
      ['phish@example.com'],
      other('stranger@elsewhere.example', 'v1'),
    );
    let [row] = await rows();
    assert.equal(row.messageId, '<v1@paypa1-secure-login.top>');
    assert.equal(row.reporter, 'stranger@elsewhere.example');
    assert.equal(row.reporterVerified, false, 'an outsider is recorded as unverified');
    await database.db
      .insert(users)
      .values({ email: 'Carol@Contractor.example', name: 'Carol', role: 'marketer', passwordHash: 'x' });
    await send(
      mailbox.port,
      'carol@contractor.example',
      ['phish@example.com'],
      other('carol@contractor.example', 'v2'),
    );
    [row] = await rows();
    assert.equal(row.reporter, 'carol@contractor.example');
    assert.equal(row.reporterVerified, true, 'a mailwarden user outside the staff domain is staff');
  });

  test('other recipients are refused; hostile mail is stored for review and the listener keeps running', async () => {
    await assert.rejects(
      send(mailbox.port, 'alice@example.com', ['ceo@example.com'], note),
      (err: Error & { responseCode?: number }) => err.responseCode === 550,
    );
    const hostile = [
      'From: \u0000\u202e"<<<>>>@@@',
      'Content-Type: multipart/mixed; boundary=""',
      'Content-Transfer-Encoding: base64',
      '',
      `${'='.repeat(5000)}\r\n--\r\n${'<a href="'.repeat(2000)}`,
      '',
    ].join('\r\n');
    const info = await send(mailbox.port, 'alice@example.com', ['phish@example.com'], hostile);
    assert.match(info.response, /Report received/);
    const [row] = await rows();
    assert.equal(row.extraction, 'none');
    assert.ok(row.score >= 0 && row.score <= 100);
    // still serving
    const again = await send(
      mailbox.port,
      'alice@example.com',
      ['phish@example.com'],
      reportWithAttachment('alice@example.com'),
    );
    assert.match(again.response, /Report received as #\d+/);
    const ack = await latestAck();
    assert.match(
      ack.source.replace(/=\r\n/g, ''), // quoted-printable soft line breaks
      /already been reported \(3 reports so far\)/,
      'a repeat report joins the case and says so',
    );
  });
});

describe('one port for bounces and phishing reports', () => {
  const phishing = {
    smtpPort: 0,
    reportAddress: 'phish@example.com',
    gatewayPort: 0,
    hostname: 'mailwarden',
    quarantineScore: 90,
    banner: true,
    gatewayDomains: [],
    trustedAuthservIds: [],
  };

  test('the report mailbox shares the bounce port when PHISHING_SMTP_PORT is 0 or the same port', () => {
    const base = { inboundSmtpPort: 2525, bounceDomain: 'bounce.example.com' };
    assert.equal(reportMailboxSharesInboundPort({ ...base, phishing }), true);
    assert.equal(reportMailboxSharesInboundPort({ ...base, phishing: { ...phishing, smtpPort: 2525 } }), true);
    assert.equal(reportMailboxSharesInboundPort({ ...base, phishing: { ...phishing, smtpPort: 2526 } }), false);
    assert.equal(
      reportMailboxSharesInboundPort({ ...base, phishing: { ...phishing, reportAddress: undefined } }),
      false,
    );
    assert.equal(reportMailboxSharesInboundPort({ ...base, inboundSmtpPort: 0, phishing }), false);
  });

  test('a DSN and a report on the same port land in the right place; other recipients get 550', async () => {
    // as `serve` wires it: the phishing module hands its mailbox over to the bounce listener
    const started = await startPhishingListeners(
      { host: '127.0.0.1', inboundSmtpPort: 2525, bounceDomain: 'bounce.example.com', phishing },
      database.db,
      new OutboxTransport(database.db, outboxKey),
    );
    listeners.push(started);
    assert.equal(started.inboundRoutes.length, 1);
    const seen: StoredReport[] = [];
    const inbound = await startInboundListener({
      db: database.db,
      port: 0,
      host: '127.0.0.1',
      bounceDomain: 'bounce.example.com',
      onReport: (r) => void seen.push(r),
      alsoRoutes: started.inboundRoutes,
    });
    listeners.push(inbound);

    const dsn = readFileSync(new URL('../delivery/testdata/gmail-dsn.eml', import.meta.url), 'utf8');
    const verp = 'b-42-0190b7b4-1111-7000-8000-000000000001-0000000000@bounce.example.com';
    const reportsBefore = (await rows()).length;
    await send(inbound.port, '', [verp], dsn);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].outcome.status, 'parsed');
    const [stored] = await database.db.select().from(inboundReports).where(eq(inboundReports.id, seen[0].id));
    assert.deepEqual(stored.envelopeTo, [verp]);
    assert.equal((await rows()).length, reportsBefore, 'the DSN did not reach the phishing queue');

    const info = await send(
      inbound.port,
      'alice@example.com',
      ['Phish@Example.com'],
      reportWithAttachment('alice@example.com').replace('<lure-7@', '<shared-port@'),
    );
    assert.match(info.response, /Report received as #\d+/);
    const [row] = await rows();
    assert.equal(row.source, 'report');
    assert.equal(row.messageId, '<shared-port@paypa1-secure-login.top>');
    assert.equal(seen.length, 1, 'the report did not reach the bounce processor');
    assert.equal((await database.db.select().from(inboundReports)).length, 1);

    await assert.rejects(
      send(inbound.port, 'alice@example.com', ['ceo@example.com'], note),
      (err: Error & { responseCode?: number }) => err.responseCode === 550,
    );
    // one message, one route: the report address is deferred while the DSN goes through
    const mixed = await send(inbound.port, '', [verp, 'phish@example.com'], dsn);
    assert.deepEqual(mixed.rejected, ['phish@example.com']);
    assert.equal(seen.length, 2);
    assert.equal((await rows()).length, reportsBefore + 1);
  });
});

test('dropOwnAuthResults removes only Authentication-Results claiming our authserv-id', () => {
  const raw = Buffer.from(
    [
      'Authentication-Results: GW.example.com;',
      '\tspf=pass smtp.mailfrom=x.example',
      'Authentication-Results: mx.other.example; dkim=pass',
      'Authentication-Results: (comment) gw.example.com; dmarc=pass',
      'Subject: hi',
      '',
      'Authentication-Results: gw.example.com; in the body, kept',
      '',
    ].join('\r\n'),
  );
  const out = dropOwnAuthResults(raw, 'gw.example.com').toString();
  assert.equal(
    out,
    [
      'Authentication-Results: mx.other.example; dkim=pass',
      'Subject: hi',
      '',
      'Authentication-Results: gw.example.com; in the body, kept',
      '',
    ].join('\r\n'),
  );
  const untouched = Buffer.from('Subject: x\r\n\r\nbody');
  assert.equal(dropOwnAuthResults(untouched, 'gw.example.com'), untouched);
});
