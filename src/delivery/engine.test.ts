// The delivery engine against a real database and a real SMTP sink over TCP:
// a launched campaign is delivered exactly once per recipient, personalised and
// DKIM-signed with deterministic Message-IDs; pause stops it and resume
// continues; expired leases are reclaimed; 4xx defers, 5xx fails and
// suppresses; transactional messages are idempotent and go first.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { and, eq, sql } from 'drizzle-orm';
import PostalMime from 'postal-mime';
import { createTestApp, signedInAs, type TestApp } from '../../test/support/app.ts';
import { seedCampaign } from '../../test/support/campaign.ts';
import { type Sink, startSink } from '../../test/support/smtp-sink.ts';
import { campaignRecipients, campaigns, dkimKeys, engagementEvents } from '../campaigns/schema.ts';
import * as contactsSvc from '../contacts/service.ts';
import { keyProviderFromConfig, Vault } from '../contacts/vault.ts';
import { rows } from '../db/client.ts';
import { messageIdFor } from './compose.ts';
import { publicKeyOf, staticKeyResolver, verifyDkim } from './dkim.ts';
import { type Engine, startDeliveryEngine } from './engine.ts';
import { deliveryKeys } from './keys.ts';
import { progressCounts } from './ledger.ts';
import { transportFor } from './transport.ts';
import { activeDkimKeys } from './campaign-message.ts';

let t: TestApp;
let sink: Sink;
const refuse = new Map<string, { code: number; message: string }>();

before(async () => {
  t = await createTestApp();
  sink = await startSink({ reply: (rcpt) => refuse.get(rcpt), delayMs: 5 });
});
after(async () => {
  await sink?.close();
  await t?.close();
});

function engine(o: { leaseSeconds?: number; concurrency?: number; batchSize?: number; warmupDomains?: string[] } = {}): Engine {
  const db = t.database.db;
  return startDeliveryEngine({
    db,
    vault: new Vault(db, keyProviderFromConfig(t.config)),
    transport: transportFor(sink.url, db, { maxConnections: 4 }),
    keys: deliveryKeys(t.config.masterKey),
    publicUrl: 'https://mw.example',
    bounceDomain: 'bounce.mw.example',
    concurrency: o.concurrency ?? 4,
    batchSize: o.batchSize ?? 10,
    leaseSeconds: o.leaseSeconds ?? 30,
    idleMs: 50,
    statePollMs: 100,
    limits: { relay: [], domains: {}, warmupDomains: o.warmupDomains },
    logger: {
      error: (o: unknown, m: string) => console.error(m, o),
      warn: (o: unknown, m: string) => console.error(m, o),
      info() {},
    } as never,
  });
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000) {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const stateOf = async (id: number) =>
  (await t.database.db.select({ state: campaigns.state }).from(campaigns).where(eq(campaigns.id, id)))[0]
    .state;

describe('delivery engine', () => {
  test('a launched campaign reaches every recipient once: personalised, signed, trackable, unsubscribable', async () => {
    const s = await seedCampaign(t, { contacts: 12 });
    const db = t.database.db;
    // Suppressed after launch: never mailed.
    await s.launch();
    await contactsSvc.suppress(db, s.kr, s.emails[3], 'manual');
    const before = sink.received.length;
    const e = engine();
    try {
      await until('completion', async () => (await stateOf(s.campaignId)) === 'completed');
    } finally {
      await e.stop();
    }
    const mine = sink.received.slice(before);
    const p = await progressCounts(db, s.campaignId);
    assert.equal(p.sent, 11);
    assert.equal(p.suppressed, 1);
    assert.equal(mine.length, 11, 'one message per deliverable recipient');
    const keys = deliveryKeys(t.config.masterKey);
    const expected = s.contactIds
      .filter((_, i) => i !== 3)
      .map((id) => messageIdFor(keys.messageIdKey, s.campaignId, id, s.domain));
    assert.deepEqual(
      mine.map((m) => m.messageId).sort(),
      expected.sort(),
      'deterministic Message-IDs, no duplicates',
    );
    assert.ok(!mine.some((m) => m.to.includes(s.emails[3])));

    const [domainRow] = await rows<{ id: number }>(
      db,
      sql`SELECT id FROM sending_domains WHERE domain = ${s.domain}`,
    );
    const { keys: dkim } = await activeDkimKeys(db, keys.dkimKey, Number(domainRow.id));
    const first = mine.find((m) => m.to[0] === s.emails[0]);
    assert.ok(first);
    const dkimResult = await verifyDkim(first.raw, staticKeyResolver(dkim));
    assert.deepEqual(
      dkimResult.map((r) => r.result),
      ['pass'],
    );
    assert.equal(dkimResult[0].algorithm, 'ed25519-sha256');
    assert.ok(publicKeyOf(dkim[0]));
    const parsed = await PostalMime.parse(first.raw);
    assert.equal(parsed.subject, 'News for Name0');
    assert.match(parsed.html ?? '', /Hello Name0,/);
    assert.match(parsed.text ?? '', /Hello Name0,/);
    assert.match(
      parsed.html ?? '',
      /href="https:\/\/mw\.example\/t\/c\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"/,
      'links are click-tracked',
    );
    assert.ok(
      !/example\.org\/news/.test(parsed.html ?? ''),
      'the original target is only inside the signed token',
    );
    assert.match(parsed.html ?? '', /src="https:\/\/mw\.example\/t\/o\//, 'open pixel');
    assert.match(
      parsed.html ?? '',
      /href="https:\/\/mw\.example\/t\/u\//,
      'unsubscribe link is the signed one, not click-wrapped',
    );
    const header = (k: string) => parsed.headers.find((h) => h.key === k)?.value ?? '';
    assert.match(header('list-unsubscribe'), /^<https:\/\/mw\.example\/t\/u\/.+>$/);
    assert.equal(header('list-unsubscribe-post'), 'List-Unsubscribe=One-Click');
    assert.match(first.from, /^b-\d+-[0-9a-f-]+-[0-9a-f]{10}@bounce\.mw\.example$/, 'VERP return path');
    const received = await db
      .select()
      .from(engagementEvents)
      .where(and(eq(engagementEvents.campaignId, s.campaignId), eq(engagementEvents.type, 1)));
    assert.equal(received.length, 11, 'a "received" engagement per sent message');
    const [c] = await db.select().from(campaigns).where(eq(campaigns.id, s.campaignId));
    assert.ok(c.completedAt);
  });

  test('pause stops sending within the poll interval; resume continues where it stopped, without duplicates', async () => {
    const s = await seedCampaign(t, { contacts: 60 });
    await s.launch();
    const before = sink.received.length;
    const e = engine({ concurrency: 1, batchSize: 5 });
    try {
      await until('first messages', async () => sink.received.length - before >= 5);
      const paused = await s.marketer.post(`/api/campaigns/${s.campaignId}/pause`);
      assert.equal(paused.statusCode, 200, paused.body);
      await new Promise((r) => setTimeout(r, 400));
      const atPause = sink.received.length;
      await new Promise((r) => setTimeout(r, 800));
      assert.equal(sink.received.length, atPause, 'nothing sent while paused');
      const p = await progressCounts(t.database.db, s.campaignId);
      assert.equal(p.sending, 0, 'untried claimed rows went back to the queue');
      assert.ok(p.queued > 0);
      assert.equal((await s.marketer.post(`/api/campaigns/${s.campaignId}/resume`)).statusCode, 200);
      await until('completion', async () => (await stateOf(s.campaignId)) === 'completed');
    } finally {
      await e.stop();
    }
    const ids = sink.received.slice(before).map((m) => m.messageId);
    assert.equal(ids.length, 60);
    assert.equal(new Set(ids).size, 60, 'no duplicates across pause/resume');
  });

  test('a row whose worker died (lease expired) is claimed again and delivered', async () => {
    const s = await seedCampaign(t, { contacts: 4 });
    await s.launch();
    const db = t.database.db;
    await db.execute(sql`UPDATE campaign_recipients SET state = 'sending', worker = 'dead-worker', attempts = 1, lease_until = now() - interval '1 second'
      WHERE campaign_id = ${s.campaignId} AND contact_id = ${s.contactIds[0]}`);
    const e = engine();
    try {
      await until('completion', async () => (await stateOf(s.campaignId)) === 'completed');
    } finally {
      await e.stop();
    }
    const [row] = await db
      .select()
      .from(campaignRecipients)
      .where(
        and(
          eq(campaignRecipients.campaignId, s.campaignId),
          eq(campaignRecipients.contactId, s.contactIds[0]),
        ),
      );
    assert.equal(row.state, 'sent');
    assert.equal(row.attempts, 2);
  });

  test('4xx defers with back-off, 5xx user-unknown fails and suppresses, cancel stops the rest', async () => {
    const s = await seedCampaign(t, { contacts: 3 });
    refuse.set(s.emails[0], { code: 451, message: '4.2.0 try later' });
    refuse.set(s.emails[1], { code: 550, message: `5.1.1 <${s.emails[1]}>: no such user` });
    await s.launch();
    const db = t.database.db;
    const e = engine();
    try {
      await until('outcomes', async () => {
        const p = await progressCounts(db, s.campaignId);
        return p.deferred === 1 && p.failed === 1 && p.sent === 1;
      });
    } finally {
      await e.stop();
    }
    const byContact = new Map(
      (await db.select().from(campaignRecipients).where(eq(campaignRecipients.campaignId, s.campaignId))).map(
        (r) => [r.contactId, r],
      ),
    );
    const deferred = byContact.get(s.contactIds[0]);
    assert.ok(
      deferred?.sendAt && deferred.sendAt.getTime() > Date.now() + 20_000,
      'retry scheduled with back-off',
    );
    assert.equal(deferred?.lastCode, 451);
    assert.equal(byContact.get(s.contactIds[1])?.lastCode, 550);
    assert.ok(!byContact.get(s.contactIds[1])?.lastResponse?.includes('@'), 'the recipient quoted in the reply is not stored in clear');
    assert.match(byContact.get(s.contactIds[1])?.lastResponse ?? '', /<address>: no such user/);
    assert.equal(await contactsSvc.isSuppressed(db, s.kr, s.emails[1]), 'hard_bounced');
    assert.equal(await stateOf(s.campaignId), 'sending', 'not complete while a retry is pending');
    const cancel = await s.marketer.post(`/api/campaigns/${s.campaignId}/cancel`);
    assert.equal(cancel.statusCode, 200, cancel.body);
    const p = await progressCounts(db, s.campaignId);
    assert.equal(p.cancelled, 1, 'the deferred row is cancelled');
    assert.equal(p.deferred, 0);
  });
});

describe('dual signing', () => {
  test('an RSA and an Ed25519 key active together: every message carries both signatures, both verify', async () => {
    const s = await seedCampaign(t, { contacts: 2 });
    const db = t.database.db;
    const [d] = await rows<{ id: number }>(db, sql`SELECT id FROM sending_domains WHERE domain = ${s.domain}`);
    const rsa = await s.admin.post(`/api/sending-domains/${d.id}/dkim`, { algorithm: 'rsa' });
    assert.equal(rsa.statusCode, 201, rsa.body);
    assert.equal((await s.admin.post(`/api/sending-domains/${d.id}/verify`, { force: true })).statusCode, 200);
    const active = await db.select().from(dkimKeys).where(and(eq(dkimKeys.domainId, Number(d.id)), eq(dkimKeys.state, 'active')));
    assert.deepEqual(active.map((k) => k.algorithm).sort(), ['ed25519-sha256', 'rsa-sha256'], 'a new RSA key retires only an older RSA key');
    await s.launch();
    const before = sink.received.length;
    const e = engine();
    try {
      await until('completion', async () => (await stateOf(s.campaignId)) === 'completed');
    } finally {
      await e.stop();
    }
    const { keys } = await activeDkimKeys(db, deliveryKeys(t.config.masterKey).dkimKey, Number(d.id));
    for (const m of sink.received.slice(before)) {
      const results = await verifyDkim(m.raw, staticKeyResolver(keys));
      assert.deepEqual(results.map((r) => `${r.algorithm}:${r.result}`).sort(), ['ed25519-sha256:pass', 'rsa-sha256:pass']);
    }
  });
});

describe('warm-up', () => {
  test('a sending domain on day 0 of its warm-up gets 50 messages; the rest wait for quota, not failed', async () => {
    const s = await seedCampaign(t, { contacts: 53 });
    await s.launch();
    const db = t.database.db;
    const e = engine({ warmupDomains: [s.domain], batchSize: 20 });
    try {
      await until('the daily cap', async () => (await progressCounts(db, s.campaignId)).sent === 50);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await e.stop();
    }
    const p = await progressCounts(db, s.campaignId);
    assert.equal(p.sent, 50);
    assert.equal(p.queued, 3);
    const waiting = await db.select().from(campaignRecipients).where(and(eq(campaignRecipients.campaignId, s.campaignId), eq(campaignRecipients.state, 'queued')));
    for (const w of waiting) {
      assert.ok(w.sendAt && w.sendAt.getTime() > Date.now() + 3_600_000, 'retried when the quota of the day frees up');
      assert.equal(w.attempts, 0, 'an attempt refused by the limiter is not counted');
    }
  });
});

describe('transactional messages', () => {
  test('POST /api/messages: idempotent for 24 h, refuses a reused key with another body, sent before campaign traffic', async () => {
    const s = await seedCampaign(t, { contacts: 1 });
    const { client: admin } = await signedInAs(t, 'admin');
    const key = await admin.post('/api/api-keys', { name: 'tx', scopes: ['messages:send'] });
    assert.equal(key.statusCode, 201, key.body);
    const token = key.json().secret as string;
    const send = (body: unknown, idem?: string) =>
      t.app.inject({
        method: 'POST',
        url: '/api/messages',
        headers: { authorization: `Bearer ${token}`, ...(idem ? { 'idempotency-key': idem } : {}) },
        payload: body as object,
      });
    const msg = {
      from: { name: 'Shop', address: `orders@${s.domain}` },
      to: 'buyer@example.net',
      subject: 'Your receipt',
      text: 'Thanks for your order.',
    };
    const first = await send(msg, 'order-1');
    assert.equal(first.statusCode, 202, first.body);
    const again = await send(msg, 'order-1');
    assert.equal(again.statusCode, 200);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(again.json().id, first.json().id);
    const reused = await send({ ...msg, subject: 'Other' }, 'order-1');
    assert.equal(reused.statusCode, 422);
    assert.equal(reused.json().code, 'idempotency_key_reused');
    assert.equal(
      (await send({ ...msg, from: { address: 'x@unverified.example' } })).statusCode,
      422,
      'unverified sending domain',
    );
    assert.equal((await send({ ...msg, text: 'card 4111 1111 1111 1111' })).json().code, 'sensitive_data');
    const forbidden = await (await signedInAs(t, 'sales_rep')).client.post('/api/messages', msg);
    assert.equal(forbidden.statusCode, 403);

    const before = sink.received.length;
    const e = engine();
    try {
      await until('sent', async () => (await send(msg, 'order-1')).json().state === 'sent');
    } finally {
      await e.stop();
    }
    const got = sink.received.slice(before).filter((m) => m.messageId === first.json().messageId);
    assert.equal(got.length, 1, 'sent exactly once');
    const dkim = await activeDkimKeys(
      t.database.db,
      deliveryKeys(t.config.masterKey).dkimKey,
      Number(
        (
          await rows<{ id: number }>(
            t.database.db,
            sql`SELECT id FROM sending_domains WHERE domain = ${s.domain}`,
          )
        )[0].id,
      ),
    );
    assert.deepEqual(
      (await verifyDkim(got[0].raw, staticKeyResolver(dkim.keys))).map((r) => r.result),
      ['pass'],
    );
    const status = await t.app.inject({
      method: 'GET',
      url: `/api/messages/${first.json().id}`,
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(status.json().state, 'sent');
    assert.equal(status.json().lastCode, 250);
    assert.equal((await t.database.db.select().from(dkimKeys)).length > 0, true);
  });
});
