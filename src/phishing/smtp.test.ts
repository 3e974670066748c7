// The report mailbox and the gateway over real SMTP: listeners on port 0, a next-hop sink, and
// the release of quarantined mail through the API.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { desc, eq } from 'drizzle-orm';
import { createTestApp, signedInAs, type TestApp } from '../../test/support/app.ts';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.ts';
import { readFileSync } from 'node:fs';
import { outboxMessages, phishingMessages, users } from '../db/schema.ts';
import { type StoredReport, startInboundListener } from '../delivery/inbound.ts';
import { inboundReports } from '../delivery/schema.ts';
import { configurePhishingRuntime } from './queue-routes.ts';
import {
  dropOwnAuthResults,
  type Listener,
  reportMailboxSharesInboundPort,
  startGatewayListener,
  startPhishingListeners,
  startReportListener,
} from './smtp.ts';

const lure = [
  'From: "PayPal Security" <service@paypa1-secure-login.top>',
  'Reply-To: recovery.team@gmail.com',
  'To: staff@example.com',
  'Subject: Urgent: your account has been suspended',
  'Message-ID: <lure-7@paypa1-secure-login.top>',
  'MIME-Version: 1.0',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<p>Dear customer, we detected unusual activity. Your account will be suspended within 24 hours.</p>',
  '<p><a href="http://192.0.2.7/paypal/login.php">https://www.paypal.com/signin</a></p>',
  '<form action="http://192.0.2.7/collect"><input type="password" name="pw"></form>',
  '',
].join('\r\n');

const note = [
  'From: Jane Doe <jane@partner.example>',
  'To: team@example.com',
  'Subject: Notes from Tuesday',
  'X-Mailwarden-Verdict: clean',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Hi all, the notes from Tuesday are in the shared folder. Next meeting is Thursday at 10.',
  '',
].join('\r\n');

/** A report as mail clients send it: the suspicious mail attached as message/rfc822. */
const reportWithAttachment = (from: string) =>
  [
    `From: Employee <${from}>`,
    'To: phish@example.com',
    'Subject: Fwd: Urgent: your account has been suspended',
    'Message-ID: <report-1@example.com>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'This looks fishy.',
    '--b1',
    'Content-Type: message/rfc822',
    'Content-Disposition: attachment; filename="suspicious.eml"',
    '',
    lure,
    '--b1--',
    '',
  ].join('\r\n');

const inlineReport = [
  'From: Employee <bob@example.com>',
  'To: phish@example.com',
  'Subject: Fwd: Invoice overdue',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Please check.',
  '',
  '---------- Forwarded message ---------',
  'From: Accounts <billing@invoices-payme.top>',
  'Date: Mon, 3 Mar 2025 10:00:00 +0000',
  'Subject: Invoice overdue',
  'To: <bob@example.com>',
  '',
  'Your invoice is overdue. Pay now at http://invoices-payme.top/pay to avoid suspension.',
  '',
].join('\r\n');

const noDns = async (name: string) => {
  throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
};

async function send(port: number, from: string, to: string[], raw: string) {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: true,
    name: 'client.test',
  });
  try {
    return await transport.sendMail({ envelope: { from, to }, raw });
  } finally {
    transport.close();
  }
}

type Received = { from: string; to: string[]; raw: string };
async function sink(): Promise<{ port: number; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    hideSTARTTLS: true,
    logger: false,
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        cb();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.server.address() as AddressInfo).port,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

let database: TestDatabase;
const listeners: { close(): Promise<void> }[] = [];
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
    const [ack] = await database.db.select().from(outboxMessages).orderBy(desc(outboxMessages.id)).limit(1);
    assert.deepEqual(ack.envelopeTo, ['alice@example.com']);
    assert.equal(
      ack.envelopeFrom,
      '',
      'acknowledgements use the null sender: they never bounce back into a loop',
    );
    assert.match(ack.raw.toString('utf8'), new RegExp(`reference #${row.id}`));
    assert.match(ack.raw.toString('utf8'), /Auto-Submitted: auto-replied/);
    assert.match(ack.raw.toString('utf8'), /In-Reply-To: <report-1@example.com>/);
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
    const [ack] = await database.db.select().from(outboxMessages).orderBy(desc(outboxMessages.id)).limit(1);
    assert.match(
      ack.raw.toString('utf8').replace(/=\r\n/g, ''), // quoted-printable soft line breaks
      /already been reported \(3 reports so far\)/,
      'a repeat report joins the case and says so',
    );
  });
});

describe('gateway', () => {
  let next: Awaited<ReturnType<typeof sink>>;
  let relaying: Listener;
  let quarantining: Listener;
  let t: TestApp;
  before(async () => {
    next = await sink();
    listeners.push(next);
    const common = {
      db: database.db,
      host: '127.0.0.1',
      port: 0,
      nextHop: `smtp://127.0.0.1:${next.port}`,
      hostname: 'gw.example.com',
      resolver: noDns,
    };
    relaying = await startGatewayListener({
      ...common,
      quarantineScore: 101,
      banner: true,
      acceptDomains: ['example.com'],
    });
    quarantining = await startGatewayListener({ ...common, quarantineScore: 80 });
    listeners.push(relaying, quarantining);
    t = await createTestApp(database);
    listeners.push(t);
  });

  test('clean mail is relayed with the original envelope and stamped; forged stamps are removed', async () => {
    await send(relaying.port, 'jane@partner.example', ['team@example.com', 'lead@example.com'], note);
    const got = next.received.at(-1)!;
    assert.equal(got.from, 'jane@partner.example');
    assert.deepEqual(got.to, ['team@example.com', 'lead@example.com']);
    assert.match(got.raw, /^X-Mailwarden-Verdict: clean\r?$/m);
    assert.match(got.raw, /^X-Mailwarden-Score: \d+\r?$/m);
    assert.match(got.raw, /^Authentication-Results: gw\.example\.com; spf=/m);
    assert.equal(
      got.raw.match(/X-Mailwarden-Verdict/g)?.length,
      1,
      'the sender’s own X-Mailwarden-Verdict header is gone',
    );
    assert.match(got.raw, /the notes from Tuesday are in the shared folder/);
    assert.doesNotMatch(got.raw, /X-Mailwarden-Verdict: clean[\s\S]*X-Mailwarden-Verdict/);
  });

  test('suspicious mail below the quarantine score gets a banner; other domains are refused', async () => {
    await send(relaying.port, 'service@paypa1-secure-login.top', ['staff@example.com'], lure);
    const got = next.received.at(-1)!;
    assert.match(got.raw, /^X-Mailwarden-Verdict: phishing\r?$/m);
    const body = Buffer.from(
      got.raw
        .split(/\r?\n\r?\n/)
        .slice(1)
        .join('\n')
        .replace(/\s+/g, ''),
      'base64',
    ).toString('utf8');
    assert.match(body, /phishing/i, 'a warning banner was prepended');
    await assert.rejects(
      send(relaying.port, 'a@b.example', ['someone@other.example'], note),
      (err: Error & { responseCode?: number }) => err.responseCode === 550,
    );
  });

  test('mail above the threshold is quarantined, not relayed; an analyst releases it to the next hop', async () => {
    const before = next.received.length;
    const info = await send(
      quarantining.port,
      'service@paypa1-secure-login.top',
      ['staff@example.com'],
      lure,
    );
    assert.match(info.response, /Queued \(\d+\)/);
    assert.equal(next.received.length, before, 'nothing reached the next hop');
    const [row] = await rows();
    assert.equal(row.source, 'gateway');
    assert.equal(row.state, 'new');
    assert.equal(row.auth?.source, 'live');
    assert.deepEqual(row.envelopeTo, ['staff@example.com']);

    const { client } = await signedInAs(t, 'security_analyst');
    configurePhishingRuntime({ hostname: 'gw.example.com' });
    assert.equal((await client.post(`/api/phishing/queue/${row.id}/release`, {})).json().code, 'no_next_hop');
    configurePhishingRuntime({ nextHop: `smtp://127.0.0.1:${next.port}`, hostname: 'gw.example.com' });
    assert.equal((await client.get(`/api/phishing/queue/${row.id}`)).json().canRelease, true);
    const res = await client.post(`/api/phishing/queue/${row.id}/release`, {
      note: 'expected mail from the vendor',
    });
    assert.equal(res.statusCode, 200, res.body);
    const got = next.received.at(-1)!;
    assert.equal(next.received.length, before + 1);
    assert.equal(got.from, 'service@paypa1-secure-login.top');
    assert.deepEqual(got.to, ['staff@example.com']);
    assert.match(got.raw, /^X-Mailwarden-Released: analyst\r?$/m);
    assert.match(got.raw, /^X-Mailwarden-Verdict: phishing\r?$/m);
    const [released] = await database.db
      .select()
      .from(phishingMessages)
      .where(eq(phishingMessages.id, row.id));
    assert.equal(released.state, 'released');
    assert.ok(released.releasedAt);
    assert.equal(
      (await client.post(`/api/phishing/queue/${row.id}/release`, {})).json().code,
      'already_released',
    );
  });

  test('hostile mail passes through the gateway without crashing it', async () => {
    const hostile = [
      'From: =?utf-8?B?////?= <@@>',
      'Content-Type: multipart/alternative; boundary="x"',
      'DKIM-Signature: v=1; a=rsa-sha256; d=; s=; b=!!!; bh=???',
      'Authentication-Results: gw.example.com; spf=pass; dkim=pass; dmarc=pass',
      '',
      '--x',
      'Content-Type: text/html; charset=bogus-charset',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      `=ZZ=\u0000${'<a href="javascript:'.repeat(500)}`,
      '--x',
      'Content-Type: text/plain',
      'Content-Transfer-Encoding: base64',
      '',
      '!!!not base64!!!',
      '',
    ].join('\r\n');
    const before = next.received.length;
    const info = await send(relaying.port, 'x@partner.example', ['team@example.com'], hostile);
    assert.match(info.response, /^250/);
    assert.equal(next.received.length, before + 1);
    const got = next.received.at(-1)!;
    assert.equal(
      got.raw.match(/^Authentication-Results: /gm)?.length,
      1,
      'the forged Authentication-Results is replaced by the gateway’s own',
    );
    assert.match(got.raw, /^Authentication-Results: gw\.example\.com; spf=(?!pass)/m);
    // and the gateway still serves
    await send(relaying.port, 'jane@partner.example', ['team@example.com'], note);
    assert.equal(next.received.length, before + 2);
  });

  test('when the next hop is down the sender gets a temporary failure and may retry', async () => {
    const dead = await sink();
    const port = dead.port;
    await dead.close();
    const gw = await startGatewayListener({
      db: database.db,
      host: '127.0.0.1',
      port: 0,
      nextHop: `smtp://127.0.0.1:${port}`,
      hostname: 'gw.example.com',
      quarantineScore: 101,
      resolver: noDns,
    });
    listeners.push(gw);
    await assert.rejects(
      send(gw.port, 'jane@partner.example', ['team@example.com'], note),
      (err: Error & { responseCode?: number }) => err.responseCode === 451,
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
