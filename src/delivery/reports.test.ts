// Bounces and complaints applied to the ledger, the contact and the
// suppression list: a DSN over the real inbound SMTP listener matched by VERP,
// a Message-ID match, soft-bounce threshold, ARF complaint, and reports that
// match nothing (kept unprocessed for review).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { and, eq } from 'drizzle-orm';
import nodemailer from 'nodemailer';
import { createTestApp, type TestApp } from '../../test/support/app.ts';
import { backendName } from '../../test/support/db.ts';
import { systemActor } from '../audit/service.ts';
import { campaignRecipients, campaigns, engagementEvents, engagementTypeCodes } from '../campaigns/schema.ts';
import * as contactsSvc from '../contacts/service.ts';
import { keyProviderFromConfig, Vault } from '../contacts/vault.ts';
import type { Keyring } from '../crypto/field-cipher.ts';
import { messageIdKey, parseReport, verpAddress, verpKey } from './bounces.ts';
import { messageIdFor } from './compose.ts';
import { startInboundListener } from './inbound.ts';
import {
  applyStoredReport,
  type ReportContext,
  reportHandler,
  SOFT_BOUNCE_THRESHOLD,
  sweepReports,
} from './reports.ts';
import { inboundReports } from './schema.ts';

const BOUNCE = 'bounce.acme.example';
let t: TestApp;
let kr: Keyring;
let ctx: ReportContext;
const actor = systemActor('test');

before(async () => {
  t = await createTestApp();
  const vault = new Vault(t.database.db, keyProviderFromConfig(t.config));
  kr = await vault.keyring();
  ctx = {
    db: t.database.db,
    keyring: () => vault.keyring(),
    masterKey: t.config.masterKey,
    bounceDomain: BOUNCE,
  };
});
after(async () => {
  await t?.close();
});

async function recipient(email: string, campaignState: 'sending' | 'completed' = 'sending') {
  const c = await contactsSvc.createContact(t.database.db, kr, actor, { email });
  await contactsSvc.setConsent(t.database.db, kr, actor, c.id, {
    purpose: 'marketing_email',
    state: 'subscribed',
    source: 'test',
    evidence: {},
  });
  const [campaign] = await t.database.db
    .insert(campaigns)
    .values({ workspaceId: 1, name: `c-${email}`, state: campaignState })
    .returning();
  await t.database.db.insert(campaignRecipients).values({
    campaignId: campaign.id,
    contactId: c.id,
    state: 'sent',
    sentAt: new Date(Date.now() - 60_000),
  });
  return {
    contactId: c.id,
    campaignId: campaign.id,
    verp: verpAddress(verpKey(t.config.masterKey), campaign.id, c.id, BOUNCE),
  };
}

function dsn(o: {
  to: string;
  verp: string;
  status: string;
  action?: string;
  diagnostic: string;
  messageId?: string;
}) {
  return Buffer.from(
    [
      'From: MAILER-DAEMON@mx.example.net',
      `To: ${o.verp}`,
      'Subject: Undelivered Mail Returned to Sender',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain',
      '',
      'Delivery failed.',
      '--b1',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; mx.example.net',
      '',
      `Final-Recipient: rfc822; ${o.to}`,
      `Action: ${o.action ?? 'failed'}`,
      `Status: ${o.status}`,
      `Diagnostic-Code: smtp; ${o.diagnostic}`,
      '',
      '--b1',
      'Content-Type: text/rfc822-headers',
      '',
      `Return-Path: <${o.verp}>`,
      `To: ${o.to}`,
      `Message-ID: ${o.messageId ?? '<unrelated@example.net>'}`,
      '',
      '--b1--',
      '',
    ].join('\r\n'),
  );
}

function arf(o: { verp: string; to: string; feedbackType?: string }) {
  return Buffer.from(
    [
      'From: feedback@arf.mail.example',
      'To: fbl@bounce.acme.example',
      'Subject: FW: offer',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=feedback-report; boundary="b2"',
      '',
      '--b2',
      'Content-Type: text/plain',
      '',
      'An abuse report.',
      '--b2',
      'Content-Type: message/feedback-report',
      '',
      `Feedback-Type: ${o.feedbackType ?? 'abuse'}`,
      'User-Agent: Example-FBL/1.0',
      'Version: 1',
      `Original-Mail-From: <${o.verp}>`,
      `Original-Rcpt-To: <${o.to}>`,
      '',
      '--b2',
      'Content-Type: message/rfc822',
      '',
      `Return-Path: <${o.verp}>`,
      `To: ${o.to}`,
      'Message-ID: <x@acme.example>',
      'Subject: offer',
      '',
      'Hello',
      '--b2--',
      '',
    ].join('\r\n'),
  );
}

/** Store a report as the listener does (parsed, processed_at null). */
async function store(raw: Buffer, envelopeTo: string[]) {
  const outcome = await parseReport(raw, { envelopeTo, bounceDomain: BOUNCE });
  const [row] = await t.database.db
    .insert(inboundReports)
    .values({
      envelopeTo,
      raw,
      size: raw.length,
      kind: outcome.status === 'parsed' ? outcome.report.kind : outcome.kind,
      parseStatus: outcome.status,
      parseError: outcome.status === 'unparseable' ? outcome.error : null,
      summary: outcome.status === 'parsed' ? (outcome.report as unknown as Record<string, unknown>) : null,
    })
    .returning({ id: inboundReports.id });
  return row.id;
}

const ledgerOf = async (campaignId: number, contactId: string) =>
  (
    await t.database.db
      .select()
      .from(campaignRecipients)
      .where(and(eq(campaignRecipients.campaignId, campaignId), eq(campaignRecipients.contactId, contactId)))
  )[0];
const eventTypes = async (campaignId: number, contactId: string) =>
  (
    await t.database.db
      .select()
      .from(engagementEvents)
      .where(and(eq(engagementEvents.campaignId, campaignId), eq(engagementEvents.contactId, contactId)))
  ).map((e) => e.type);
const processedAt = async (id: number) =>
  (await t.database.db.select().from(inboundReports).where(eq(inboundReports.id, id)))[0].processedAt;

describe(`bounce and complaint processing (${backendName})`, () => {
  it('a hard-bounce DSN over SMTP, matched by VERP: ledger bounced, suppressed, queued mail stopped, timeline', async () => {
    const r = await recipient('gone@example.net');
    // the same contact is queued in another running campaign
    const [other] = await t.database.db
      .insert(campaigns)
      .values({ workspaceId: 1, name: 'next', state: 'sending' })
      .returning();
    await t.database.db
      .insert(campaignRecipients)
      .values({ campaignId: other.id, contactId: r.contactId, state: 'queued' });
    const listener = await startInboundListener({
      db: t.database.db,
      port: 0,
      host: '127.0.0.1',
      bounceDomain: BOUNCE,
      onReport: reportHandler(ctx),
    });
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: listener.port,
      secure: false,
      ignoreTLS: true,
    });
    try {
      const raw = dsn({
        to: 'gone@example.net',
        verp: r.verp,
        status: '5.1.1',
        diagnostic: '550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown',
      });
      await transport.sendMail({ envelope: { from: '', to: [r.verp] }, raw });
    } finally {
      transport.close();
      await listener.close();
    }
    const row = await ledgerOf(r.campaignId, r.contactId);
    assert.equal(row.state, 'bounced');
    assert.equal(row.lastCode, 550);
    assert.equal(
      row.lastResponse,
      '5.1.1 550 5.1.1 <address>: Recipient address rejected: User unknown',
      'no address (PII) in the ledger',
    );
    assert.equal(await contactsSvc.isSuppressed(t.database.db, kr, 'gone@example.net'), 'hard_bounced');
    assert.equal((await ledgerOf(other.id, r.contactId)).state, 'suppressed');
    assert.deepEqual(await eventTypes(r.campaignId, r.contactId), [engagementTypeCodes.bounced]);
    const timeline = await contactsSvc.listActivities(t.database.db, kr, r.contactId);
    assert.ok(
      timeline.some(
        (a) => a.kind === 'mail' && a.details.event === 'bounced' && a.details.status === '5.1.1',
      ),
    );
    const [stored] = await t.database.db
      .select()
      .from(inboundReports)
      .where(eq(inboundReports.envelopeTo, [r.verp]));
    assert.ok(stored.processedAt, 'processed');
  });

  it('matches by Message-ID when the VERP address is missing; applying twice is a no-op', async () => {
    const r = await recipient('nomail@example.org');
    const messageId = messageIdFor(
      messageIdKey(t.config.masterKey),
      r.campaignId,
      r.contactId,
      'acme.example',
    );
    const id = await store(
      dsn({
        to: 'nomail@example.org',
        verp: 'postmaster@example.org',
        status: '5.1.1',
        diagnostic: '550 no such user',
        messageId,
      }),
      ['fbl@bounce.acme.example'],
    );
    assert.deepEqual(await applyStoredReport(ctx, id), { status: 'applied', effect: 'hard_bounce' });
    assert.equal((await ledgerOf(r.campaignId, r.contactId)).state, 'bounced');
    assert.deepEqual(await applyStoredReport(ctx, id), { status: 'skipped' });
    assert.equal((await eventTypes(r.campaignId, r.contactId)).length, 1);
  });

  it(`soft bounces count: the ${SOFT_BOUNCE_THRESHOLD}rd within the window suppresses the address`, async () => {
    const email = 'full@example.net';
    const c = await contactsSvc.createContact(t.database.db, kr, actor, { email });
    const outcomes: string[] = [];
    for (let i = 0; i < SOFT_BOUNCE_THRESHOLD; i++) {
      const [campaign] = await t.database.db
        .insert(campaigns)
        .values({ workspaceId: 1, name: `soft ${i}`, state: 'sending' })
        .returning();
      await t.database.db
        .insert(campaignRecipients)
        .values({ campaignId: campaign.id, contactId: c.id, state: 'sent', sentAt: new Date() });
      const verp = verpAddress(verpKey(t.config.masterKey), campaign.id, c.id, BOUNCE);
      const id = await store(
        dsn({ to: email, verp, status: '5.2.2', diagnostic: '552 5.2.2 Mailbox full' }),
        [verp],
      );
      const out = await applyStoredReport(ctx, id);
      outcomes.push(out.status === 'applied' ? out.effect : out.status);
      if (i < SOFT_BOUNCE_THRESHOLD - 1)
        assert.equal(await contactsSvc.isSuppressed(t.database.db, kr, email), null);
    }
    assert.deepEqual(outcomes, [
      ...Array(SOFT_BOUNCE_THRESHOLD - 1).fill('soft_bounce'),
      'soft_bounce_suppressed',
    ]);
    assert.equal(await contactsSvc.isSuppressed(t.database.db, kr, email), 'hard_bounced');
  });

  it('a delayed DSN is only a warning', async () => {
    const r = await recipient('slow@example.net');
    const id = await store(
      dsn({
        to: 'slow@example.net',
        verp: r.verp,
        status: '4.4.1',
        action: 'delayed',
        diagnostic: '451 4.4.1 timeout',
      }),
      [r.verp],
    );
    assert.deepEqual(await applyStoredReport(ctx, id), { status: 'applied', effect: 'delayed' });
    assert.equal((await ledgerOf(r.campaignId, r.contactId)).state, 'sent');
    assert.deepEqual(await eventTypes(r.campaignId, r.contactId), []);
  });

  it('an ARF complaint suppresses, unsubscribes and records the complaint', async () => {
    const r = await recipient('angry@example.com');
    const id = await store(arf({ verp: r.verp, to: 'angry@example.com' }), ['fbl@bounce.acme.example']);
    assert.deepEqual(await applyStoredReport(ctx, id), { status: 'applied', effect: 'complaint' });
    assert.equal(await contactsSvc.isSuppressed(t.database.db, kr, 'angry@example.com'), 'complained');
    const consent = (await contactsSvc.currentConsents(t.database.db, kr, r.contactId)).find(
      (c) => c.purpose === 'marketing_email',
    );
    assert.equal(consent?.state, 'unsubscribed');
    assert.equal(consent?.source, 'complaint');
    assert.deepEqual(await eventTypes(r.campaignId, r.contactId), [engagementTypeCodes.complained]);
    assert.equal((await ledgerOf(r.campaignId, r.contactId)).state, 'sent', 'the message was delivered');
  });

  it('reports that match nothing, forged VERP addresses and unparseable reports stay unprocessed for review', async () => {
    const r = await recipient('victim@example.com');
    const forged = r.verp.replace(/-[0-9a-f]{10}@/, '-0000000000@');
    const forgedId = await store(
      dsn({ to: 'victim@example.com', verp: forged, status: '5.1.1', diagnostic: '550 unknown' }),
      [forged],
    );
    const unknownId = await store(
      dsn({
        to: 'x@example.com',
        verp: 'b-999-0190b7b4-1111-7000-8000-000000000001-0000000000@bounce.acme.example',
        status: '5.1.1',
        diagnostic: '550 x',
      }),
      ['fbl@bounce.acme.example'],
    );
    const garbageId = await store(Buffer.from('Subject: hello\r\n\r\nnot a report\r\n'), [
      'fbl@bounce.acme.example',
    ]);
    assert.deepEqual(await applyStoredReport(ctx, forgedId), { status: 'unmatched' });
    assert.deepEqual(await applyStoredReport(ctx, garbageId), { status: 'unparseable' });
    const swept = await sweepReports(ctx);
    assert.equal(swept.applied, 0);
    assert.ok(swept.unmatched >= 2);
    for (const id of [forgedId, unknownId, garbageId]) assert.equal(await processedAt(id), null);
    assert.equal(await contactsSvc.isSuppressed(t.database.db, kr, 'victim@example.com'), null);
    assert.equal((await ledgerOf(r.campaignId, r.contactId)).state, 'sent');
  });

  it('the sweep applies reports the listener left behind', async () => {
    const r = await recipient('later@example.net');
    const id = await store(
      dsn({ to: 'later@example.net', verp: r.verp, status: '5.1.1', diagnostic: '550 5.1.1 unknown' }),
      [r.verp],
    );
    const swept = await sweepReports(ctx);
    assert.equal(swept.applied, 1);
    assert.ok(await processedAt(id));
    assert.equal(await contactsSvc.isSuppressed(t.database.db, kr, 'later@example.net'), 'hard_bounced');
  });
});
