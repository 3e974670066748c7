import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { eq, sql } from 'drizzle-orm';
import nodemailer from 'nodemailer';
import { createTestApp, signedInAs, type TestApp } from '../../test/support/app.ts';
import { backendName } from '../../test/support/db.ts';
import { auditLog } from '../audit/schema.ts';
import { composeTemplate, personalise } from './compose.ts';
import { generateDkimKey, signMessage, staticKeyResolver } from './dkim.ts';
import type { DsnReport } from './bounces.ts';
import { type StoredReport, startInboundListener } from './inbound.ts';
import { listOutbox, OutboxTransport, outboxKey, sanitiseForDisplay, sealLegacyOutbox, setOutboxDkimResolver, setOutboxRetention } from './outbox.ts';
import { inboundReports, outboxMessages } from './schema.ts';

let t: TestApp;
before(async () => {
  t = await createTestApp();
});
after(async () => {
  setOutboxDkimResolver(null);
  await t?.close();
});

const ed = generateDkimKey('ed25519', 'acme.example', 'ed1');
const key = () => outboxKey(t.config.masterKey);
const plainMail = (to: string, name: string, subject: string) =>
  Buffer.from(`From: Acme <news@acme.example>\r\nTo: ${name} <${to}>\r\nSubject: ${subject}\r\nMessage-ID: <${name}@acme.example>\r\n\r\nDear ${name}, your order is ready.\r\n`);
/** Every stored byte of the outbox table, as one buffer per row (bytea columns raw, text as UTF-8). */
async function storedBytes(): Promise<Buffer[]> {
  const all = await t.database.db.select().from(outboxMessages);
  return all.map((r) =>
    Buffer.concat(
      Object.values(r).map((v) => (v instanceof Uint8Array ? Buffer.from(v) : Buffer.from(JSON.stringify(v ?? null)))),
    ),
  );
}

describe(`outbox (${backendName})`, () => {
  it('keeps captured messages for OUTBOX_RETENTION_DAYS only, pruning while it captures', async () => {
    const db = t.database.db;
    const raw = Buffer.from('From: a@acme.example\r\nTo: b@example.com\r\nSubject: old\r\n\r\nhello\r\n');
    const [old] = await db
      .insert(outboxMessages)
      .values({ messageId: '<old@acme.example>', envelopeFrom: 'a@acme.example', envelopeTo: ['b@example.com'], raw, size: raw.length, createdAt: new Date(Date.now() - 20 * 86_400_000) })
      .returning();
    const [recent] = await db
      .insert(outboxMessages)
      .values({ messageId: '<recent@acme.example>', envelopeFrom: 'a@acme.example', envelopeTo: ['b@example.com'], raw, size: raw.length, createdAt: new Date(Date.now() - 2 * 86_400_000) })
      .returning();
    try {
      setOutboxRetention(0); // 0 keeps everything
      await new OutboxTransport(db, key()).send({ envelope: { from: 'a@acme.example', to: ['b@example.com'] }, raw, messageId: '<new1@acme.example>' });
      assert.equal((await db.select().from(outboxMessages).where(eq(outboxMessages.id, old.id))).length, 1);
      setOutboxRetention(14);
      await new OutboxTransport(db, key()).send({ envelope: { from: 'a@acme.example', to: ['b@example.com'] }, raw, messageId: '<new2@acme.example>' });
      assert.equal((await db.select().from(outboxMessages).where(eq(outboxMessages.id, old.id))).length, 0, '20 days old: pruned');
      assert.equal((await db.select().from(outboxMessages).where(eq(outboxMessages.id, recent.id))).length, 1, '2 days old: kept');
    } finally {
      setOutboxRetention(14);
      await db.delete(outboxMessages);
    }
  });

  it('captures signed messages and shows them like a mail client (list, filter, detail with DKIM)', async () => {
    setOutboxDkimResolver(staticKeyResolver([ed]));
    const outbox = new OutboxTransport(t.database.db, key());
    const tpl = composeTemplate({
      campaignId: 5,
      from: { name: 'Acme', address: 'news@acme.example' },
      subject: 'Spring offer',
      text: ['Hi ', { slot: 'name' }],
      html: ['<p onclick="x()">Hi ', { slot: 'name' }, '</p><script>alert(1)</script><img src="https://tracker.example/o.gif"><a href="https://acme.example">shop</a>'],
      messageIdDomain: 'acme.example',
      messageIdKey: randomBytes(32),
    });
    for (const [i, name] of ['Ann', 'Bob'].entries()) {
      const m = personalise(tpl, { contactId: `c${i}`, to: { name, address: `${name.toLowerCase()}@example.org` }, returnPath: `b-5-c${i}-0000000000@bounce.acme.example`, slots: { name } });
      const res = await outbox.send({ envelope: m.envelope, raw: await signMessage([ed], m), messageId: m.messageId, tags: { campaignId: 5, contactId: `c${i}` } });
      assert.equal(res.status, 'accepted');
      assert.equal(res.relay, 'outbox');
    }
    const { client } = await signedInAs(t, 'marketer');
    const list = (await client.get('/api/outbox')).json() as { items: { id: number; to: string; subject: string; snippet: string }[] };
    assert.equal(list.items.length, 2);
    assert.equal(list.items[0].to, 'Bob <bob@example.org>', 'newest first');
    assert.equal(list.items[0].snippet, 'Hi Bob');
    const filtered = (await client.get('/api/outbox?q=ann%40')).json() as { items: { id: number }[] };
    assert.equal(filtered.items.length, 1);
    const res = await client.get(`/api/outbox/${filtered.items[0].id}`);
    assert.equal(res.statusCode, 200);
    const d = res.json() as {
      html: string;
      text: string;
      source: string;
      remoteContentBlocked: number;
      dkim: { result: string; algorithm: string }[];
      headers: { key: string; value: string }[];
      envelope: { from: string; to: string[] };
    };
    assert.equal(d.text.trim(), 'Hi Ann');
    assert.doesNotMatch(d.html, /script|onclick|tracker\.example/);
    assert.match(d.html, /<a href="https:\/\/acme\.example" target="_blank" rel="noopener noreferrer nofollow">shop<\/a>/);
    assert.equal(d.remoteContentBlocked, 1);
    assert.deepEqual(d.dkim.map((x) => [x.algorithm, x.result]), [['ed25519-sha256', 'pass']]);
    assert.ok(d.headers.some((h) => h.key === 'DKIM-Signature'));
    assert.match(d.source, /^DKIM-Signature: /);
    assert.deepEqual(d.envelope, { from: 'b-5-c0-0000000000@bounce.acme.example', to: ['ann@example.org'] });
    assert.equal((await client.get('/api/outbox/999999')).statusCode, 404);
    assert.equal((await t.app.inject({ method: 'GET', url: '/api/outbox' })).statusCode, 401);
    // Opening a message and searching are audited (one entry per request); the search text is not logged.
    const [read] = await t.database.db.select().from(auditLog).where(eq(auditLog.target, `outbox:${filtered.items[0].id}`));
    assert.equal(read?.action, 'outbox.message_read');
    const searches = await t.database.db.select().from(auditLog).where(eq(auditLog.action, 'outbox.searched'));
    assert.ok(searches.some((a) => (a.details as { found?: number }).found === 1));
    assert.ok(searches.every((a) => !JSON.stringify(a.details).includes('ann@')));
  });

  it('seals what it captures: no recipient address, name, subject or body in the table; a sealed value moved to another row does not open', async () => {
    const db = t.database.db;
    const outbox = new OutboxTransport(db, key());
    await db.delete(outboxMessages);
    try {
      for (const [to, name] of [['zoe.kern@example.org', 'Zoe'], ['max.olsen@example.org', 'Max']])
        await outbox.send({ envelope: { from: 'b-1-x@bounce.acme.example', to: [to] }, raw: plainMail(to, name, `Invoice for ${name} Kern-Olsen`), messageId: `<${name}@acme.example>` });
      for (const bytes of await storedBytes())
        for (const secret of ['zoe.kern@', 'max.olsen@', 'Kern-Olsen', 'Dear Zoe', 'Dear Max', 'order is ready'])
          assert.equal(bytes.includes(secret), false, `${secret} stored in plaintext`);
      const { client } = await signedInAs(t, 'marketer');
      const list = (await client.get('/api/outbox?q=kern-olsen')).json() as { items: { id: number; to: string; subject: string }[]; searched: number };
      assert.deepEqual(list.items.map((i) => i.to), ['Max <max.olsen@example.org>', 'Zoe <zoe.kern@example.org>'], 'search decrypts');
      assert.equal(list.searched, 2);
      const [max, zoe] = list.items;
      // Zoe's sealed parts copied onto Max's row: the AAD names the row, so they do not open there.
      await db.execute(sql`UPDATE outbox_messages SET summary_enc = z.summary_enc, raw_enc = z.raw_enc FROM outbox_messages z WHERE z.id = ${zoe.id} AND outbox_messages.id = ${max.id}`);
      const after = (await client.get('/api/outbox')).json() as { items: { id: number; subject: string; to: string }[] };
      assert.match(after.items.find((i) => i.id === max.id)?.subject ?? '', /cannot be decrypted/);
      assert.equal(after.items.find((i) => i.id === zoe.id)?.to, 'Zoe <zoe.kern@example.org>');
      const res = await client.get(`/api/outbox/${max.id}`);
      assert.equal(res.statusCode, 409);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.match(res.json().detail, /master key/);
      // Another master key opens nothing either.
      const other = await listOutbox(db, outboxKey(randomBytes(32)));
      assert.ok(other.items.every((i) => /cannot be decrypted/.test(i.subject)));
    } finally {
      await db.delete(outboxMessages);
    }
  });

  it('seals messages captured before encryption at start-up, keeping what the console shows', async () => {
    const db = t.database.db;
    const raw = plainMail('ivy.lund@example.org', 'Ivy', 'Welcome Ivy');
    try {
      const [legacy] = await db
        .insert(outboxMessages)
        .values({ messageId: '<Ivy@acme.example>', envelopeFrom: 'b@bounce.acme.example', envelopeTo: ['ivy.lund@example.org'], raw, size: raw.length, fromAddress: 'Acme <news@acme.example>', toAddresses: 'Ivy <ivy.lund@example.org>', subject: 'Welcome Ivy', snippet: 'Dear Ivy, your order is ready.' })
        .returning();
      const before = await listOutbox(db, key());
      assert.equal(before.items[0].subject, 'Welcome Ivy', 'legacy rows are readable until sealed');
      assert.equal(await sealLegacyOutbox(db, key(), 1), 1);
      assert.equal(await sealLegacyOutbox(db, key()), 0, 'idempotent');
      for (const bytes of await storedBytes()) assert.equal(bytes.includes('ivy.lund@'), false);
      const { client } = await signedInAs(t, 'marketer');
      const d = (await client.get(`/api/outbox/${legacy.id}`)).json() as { subject: string; to: string; envelope: { to: string[] }; source: string };
      assert.equal(d.subject, 'Welcome Ivy');
      assert.equal(d.to, 'Ivy <ivy.lund@example.org>');
      assert.deepEqual(d.envelope.to, ['ivy.lund@example.org']);
      assert.equal(d.source, raw.toString('utf8'));
    } finally {
      await db.delete(outboxMessages);
    }
  });

  it('searches the newest messages within a budget and hands back a cursor to go on', async () => {
    const db = t.database.db;
    const outbox = new OutboxTransport(db, key());
    try {
      for (let i = 0; i < 7; i++) {
        const name = i === 1 ? 'Needle' : `Hay${i}`;
        await outbox.send({ envelope: { from: 'b@bounce.acme.example', to: [`${name.toLowerCase()}@example.org`] }, raw: plainMail(`${name.toLowerCase()}@example.org`, name, `Hello ${name}`), messageId: `<${name}@acme.example>` });
      }
      const first = await listOutbox(db, key(), { q: 'needle', scanRows: 3 });
      assert.deepEqual(first.items, []);
      assert.equal(first.searched, 3);
      assert.ok(first.nextBefore);
      const second = await listOutbox(db, key(), { q: 'needle', scanRows: 3, before: first.nextBefore });
      assert.deepEqual(second.items.map((i) => i.subject), ['Hello Needle']);
    } finally {
      await db.delete(outboxMessages);
    }
  });

  it('sanitises hostile HTML', () => {
    const { html, remoteContentBlocked } = sanitiseForDisplay(
      '<style>body{background:url(https://x.example/a)}</style><img src="//x.example/p"><img src="cid:logo"><a href="javascript:alert(1)">x</a><iframe src="https://x.example"></iframe><div style="background:url(https://x.example)">t</div>',
    );
    assert.doesNotMatch(html, /x\.example|javascript|iframe|style/);
    assert.match(html, /src="cid:logo"/);
    assert.equal(remoteContentBlocked, 1);
  });
});

describe(`inbound SMTP listener (${backendName})`, () => {
  it('accepts a DSN over SMTP for the bounce domain, stores it and hands over the parsed result', async () => {
    const seen: StoredReport[] = [];
    const listener = await startInboundListener({ db: t.database.db, port: 0, host: '127.0.0.1', bounceDomain: 'bounce.acme.example', onReport: (r) => void seen.push(r) });
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: listener.port, secure: false, ignoreTLS: true });
    try {
      const verp = 'b-42-0190b7b4-1111-7000-8000-000000000001-0000000000@bounce.acme.example';
      const raw = readFileSync(new URL('./testdata/gmail-dsn.eml', import.meta.url));
      await transport.sendMail({ envelope: { from: '', to: [verp] }, raw });
      assert.equal(seen.length, 1);
      assert.equal(seen[0].envelopeFrom, '');
      assert.deepEqual(seen[0].envelopeTo, [verp]);
      assert.equal(seen[0].outcome.status, 'parsed');
      const report = (seen[0].outcome as { report: DsnReport }).report;
      assert.equal(report.recipients[0].status, '5.1.1');
      assert.equal(report.verp, verp);
      const [row] = await t.database.db.select().from(inboundReports).where(eq(inboundReports.id, seen[0].id));
      assert.equal(row.kind, 'dsn');
      assert.equal(row.parseStatus, 'parsed');
      assert.ok(row.raw.equals(raw.toString().includes('\r\n') ? raw : Buffer.from(raw.toString().replace(/\r?\n/g, '\r\n'))));

      // garbage is kept for review
      await transport.sendMail({ envelope: { from: 'someone@example.org', to: ['fbl@bounce.acme.example'] }, raw: Buffer.from('Subject: hi\r\n\r\nnot a report\r\n') });
      assert.equal(seen[1].outcome.status, 'unparseable');

      // never a relay: other domains are refused at RCPT TO
      await assert.rejects(transport.sendMail({ envelope: { from: '', to: ['victim@example.org'] }, raw: Buffer.from('Subject: x\r\n\r\nx\r\n') }), /550|Relaying denied/);
      assert.equal(seen.length, 2);

      const { client } = await signedInAs(t, 'auditor');
      const list = (await client.get('/api/inbound-reports?status=unparseable')).json() as { items: { parseError: string }[] };
      assert.equal(list.items.length, 1);
      assert.equal(list.items[0].parseError, 'not a delivery or feedback report');
    } finally {
      transport.close();
      await listener.close();
    }
  });

  it('refuses messages over the size limit', async () => {
    const listener = await startInboundListener({ db: t.database.db, port: 0, host: '127.0.0.1', bounceDomain: 'bounce.acme.example', maxSize: 1024 });
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: listener.port, secure: false, ignoreTLS: true });
    try {
      const before = (await t.database.db.select().from(inboundReports)).length;
      const outboxBefore = (await t.database.db.select().from(outboxMessages)).length;
      await assert.rejects(transport.sendMail({ envelope: { from: '', to: ['x@bounce.acme.example'] }, raw: Buffer.from(`Subject: big\r\n\r\n${'x'.repeat(4000)}\r\n`) }), /552|size|too big/i);
      assert.equal((await t.database.db.select().from(inboundReports)).length, before);
      assert.equal((await t.database.db.select().from(outboxMessages)).length, outboxBefore);
    } finally {
      transport.close();
      await listener.close();
    }
  });
});
