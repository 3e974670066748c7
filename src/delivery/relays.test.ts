// Workspace relays at run time: per-relay limits shared through the database by
// two pools (as two worker processes would), failover to the next relay, and the
// transport choice (relays → SMTP_URL → outbox), all against real SMTP servers.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import { backendName, createTestDatabase, type TestDatabase } from '../../test/support/db.ts';
import { type Sink, startSink } from '../../test/support/smtp-sink.ts';
import {
  openRelayPassword,
  poolFromRows,
  type RelayRow,
  relayKey,
  sealRelayPassword,
  WORKSPACE_ID,
  workspaceTransport,
} from './relays.ts';
import { outboxMessages, smtpRelays } from './schema.ts';

let database: TestDatabase;
const sinks: Sink[] = [];
before(async () => {
  database = await createTestDatabase();
});
after(async () => {
  await Promise.all(sinks.map((s) => s.close()));
  await database?.close();
});

const masterKey = randomBytes(32);
const key = relayKey(masterKey);
const T0 = Date.UTC(2031, 0, 1, 12, 0, 0);

async function sink() {
  const s = await startSink();
  sinks.push(s);
  return s;
}

/** A loopback port nothing listens on (connections are refused). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function addRelay(
  values: Partial<typeof smtpRelays.$inferInsert> & { name: string; port: number },
): Promise<RelayRow> {
  const [row] = await database.db
    .insert(smtpRelays)
    .values({ workspaceId: WORKSPACE_ID, host: '127.0.0.1', security: 'none', ...values })
    .returning();
  return row;
}

let n = 0;
const message = (to = 'ann@example.org') => {
  const messageId = `<r${++n}@acme.example>`;
  return {
    envelope: { from: 'news@acme.example', to: [to] },
    raw: Buffer.from(
      `From: news@acme.example\r\nTo: ${to}\r\nSubject: hi\r\nMessage-ID: ${messageId}\r\n\r\nHello\r\n`,
    ),
    messageId,
  };
};

describe(`workspace relays (${backendName})`, () => {
  it('seals the password bound to its relay id', () => {
    const sealed = sealRelayPassword(key, 7, 's3cret-pw');
    assert.ok(!sealed.includes(Buffer.from('s3cret-pw')));
    assert.equal(openRelayPassword(key, 7, sealed), 's3cret-pw');
    assert.throws(() => openRelayPassword(key, 8, sealed), /decryption failed/);
  });

  it('holds a per-relay limit across two pools sharing the database: the 6th message in a second is deferred', async () => {
    const s = await sink();
    const row = await addRelay({ name: 'limited', port: s.port, perSecond: 5 });
    const now = () => T0; // the same second for every send
    const a = poolFromRows(database.db, key, [row], { now })!;
    const b = poolFromRows(database.db, key, [row], { now })!;
    try {
      const results = [];
      for (let i = 0; i < 3; i++) {
        results.push(await a.pool.send(message()));
        results.push(await b.pool.send(message()));
      }
      assert.deepEqual(
        results.map((r) => r.status),
        ['accepted', 'accepted', 'accepted', 'accepted', 'accepted', 'deferred'],
      );
      assert.equal(results[5].response, 'relay rate limit reached');
      assert.equal(s.received.length, 5);
      assert.equal(results[0].relay, `limited#${row.id}`);
    } finally {
      await a.pool.close();
      await b.pool.close();
    }
  });

  it('skips a relay whose quota is used up and sends through the next one', async () => {
    const s1 = await sink();
    const s2 = await sink();
    const tight = await addRelay({ name: 'tight', port: s1.port, perDay: 1, weight: 1000 });
    const open = await addRelay({ name: 'open', port: s2.port, weight: 1 });
    const p = poolFromRows(database.db, key, [tight, open], { now: () => T0, random: () => 0 })!;
    try {
      const first = await p.pool.send(message());
      const second = await p.pool.send(message());
      assert.equal(first.relay, `tight#${tight.id}`);
      assert.equal(second.status, 'accepted');
      assert.equal(second.relay, `open#${open.id}`);
      assert.equal(s1.received.length, 1);
      assert.equal(s2.received.length, 1);
    } finally {
      await p.pool.close();
    }
  });

  it('fails over to the second relay when the first refuses connections', async () => {
    const up = await sink();
    const down = await addRelay({ name: 'down', port: await closedPort(), weight: 1000 });
    const ok = await addRelay({ name: 'up', port: up.port, weight: 1 });
    const p = poolFromRows(database.db, key, [down, ok], { random: () => 0 })!;
    try {
      const m = message();
      const r = await p.pool.send(m);
      assert.equal(r.status, 'accepted');
      assert.equal(r.relay, `up#${ok.id}`);
      assert.equal(r.failovers?.[0]?.relay, `down#${down.id}`);
      assert.match(r.failovers?.[0]?.error ?? '', /ECONNECTION|ECONNREFUSED/);
      assert.deepEqual(
        up.received.map((x) => x.messageId),
        [m.messageId],
      );
    } finally {
      await p.pool.close();
    }
  });

  it('sends through enabled workspace relays, else SMTP_URL, else the outbox, following changes', async () => {
    const db = database.db;
    await db.delete(smtpRelays);
    const envSink = await sink();
    const relaySink = await sink();

    const outboxOnly = workspaceTransport(db, masterKey, undefined, { checkMs: 60_000 });
    try {
      const m = message();
      assert.equal((await outboxOnly.send(m)).status, 'accepted');
      assert.equal(outboxOnly.source(), 'outbox');
      const [captured] = await db
        .select({ id: outboxMessages.id })
        .from(outboxMessages)
        .where(eq(outboxMessages.messageId, m.messageId));
      assert.ok(captured);
    } finally {
      await outboxOnly.close();
    }

    const t = workspaceTransport(db, masterKey, envSink.url, { checkMs: 60_000 });
    try {
      await t.send(message());
      assert.equal(t.source(), 'smtp_url');
      assert.equal(envSink.received.length, 1);

      const row = await addRelay({ name: 'workspace', port: relaySink.port });
      await t.refresh();
      assert.equal(t.source(), 'relays');
      const r = await t.send(message());
      assert.equal(r.relay, `workspace#${row.id}`);
      assert.equal(relaySink.received.length, 1);

      await db
        .update(smtpRelays)
        .set({ enabled: false, updatedAt: new Date() })
        .where(eq(smtpRelays.id, row.id));
      await t.refresh();
      assert.equal(t.source(), 'smtp_url');
      await t.send(message());
      assert.equal(envSink.received.length, 2);
      assert.equal(relaySink.received.length, 1);
    } finally {
      await t.close();
    }
  });

  it('skips a relay whose password cannot be opened (another master key) instead of sending without it', async () => {
    const s = await sink();
    const row = await addRelay({ name: 'foreign', port: s.port, username: 'u' });
    await database.db
      .update(smtpRelays)
      .set({ passwordEnc: sealRelayPassword(relayKey(randomBytes(32)), row.id, 'pw') })
      .where(eq(smtpRelays.id, row.id));
    const [fresh] = await database.db.select().from(smtpRelays).where(eq(smtpRelays.id, row.id));
    assert.equal(poolFromRows(database.db, key, [fresh]), null);
  });
});
