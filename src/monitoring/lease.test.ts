// Several processes on one database: one runs the detectors (the lease
// holder), the others only store events, which the holder reads back.
process.env.MAILWARDEN_GEOIP = 'off';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eq } from 'drizzle-orm';
import { backendName, createTestDatabase, type TestDatabase } from '../../test/support/db.ts';
import { openPostgres } from '../db/client.ts';
import { Monitor } from './engine.ts';
import type { MonitorEvent } from './events.ts';
import { UnseenTail } from './lease.ts';
import { monitoringAlerts, securityEvents } from './schema.ts';

type Row = { id: number };
/** A stand-in for the events table: the rows a poll may see (ids only). */
function table(rows: number[]) {
  const visible = new Set(rows);
  const query = async <T>(sql: string, params?: unknown[]): Promise<T[]> => {
    const ids = [...visible].sort((a, b) => a - b);
    if (sql.includes('= ANY')) {
      const want = new Set(((params ?? [])[0] as number[]).map(Number));
      return ids.filter((id) => want.has(id)).map((id) => ({ id }) as T);
    }
    const after = Number(params?.[0]);
    const limit = Number(params?.[1]);
    return ids
      .filter((id) => id > after)
      .slice(0, limit)
      .map((id) => ({ id }) as T);
  };
  return { visible, query };
}

describe('reading back events stored by other processes', () => {
  test('each row once, own ids never waited for, late commits picked up from the gaps', async () => {
    const tail = new UnseenTail(30_000, 0);
    tail.startAfter([1, 2, 3], 3);
    tail.addOwn([4, 5, 6, 7]);
    // 8 and 10 committed; 9 is still in an open transaction.
    const db = table([8, 10]);
    assert.deepEqual(
      (await tail.poll<Row>(db.query)).map((r) => r.id),
      [8, 10],
    );
    assert.equal(tail.pendingGaps, 1, 'only 9 is missing: 4–7 are this process’s own');
    assert.deepEqual(await tail.poll<Row>(db.query), []);
    db.visible.add(9);
    db.visible.add(11);
    assert.deepEqual(
      (await tail.poll<Row>(db.query)).map((r) => r.id),
      [9, 11],
    );
    assert.equal(tail.pendingGaps, 0);
    assert.deepEqual(await tail.poll<Row>(db.query), []);
  });

  test('a gap is given up after the grace period (a rolled-back id)', async () => {
    const tail = new UnseenTail(-1, 0);
    const db = table([2]);
    assert.deepEqual(
      (await tail.poll<Row>(db.query)).map((r) => r.id),
      [2],
    );
    assert.equal(tail.pendingGaps, 1);
    await tail.poll<Row>(db.query);
    assert.equal(tail.pendingGaps, 0);
  });
});

describe('detector lease on PostgreSQL', {
  skip: backendName !== 'postgres' && 'needs PostgreSQL (TEST_DATABASE_URL)',
}, () => {
  let database: TestDatabase;
  let other: Awaited<ReturnType<typeof openPostgres>>;
  let holder: Monitor;
  let follower: Monitor;
  before(async () => {
    database = await createTestDatabase();
    other = await openPostgres(database.url!, { max: 3 });
    // tailMs 0: the test reads back explicitly (pollUnseen), no timer racing it.
    holder = new Monitor(database, { prune: false, tailMs: 0 });
    await holder.ready;
    // A second process: its own connection pool.
    follower = new Monitor(other, { prune: false, tailMs: 0 });
    await follower.ready;
  });
  after(async () => {
    await follower?.stop();
    await holder?.stop();
    await other?.close();
    await database?.close();
  });

  const failures = (actor: string, n: number, at = Date.parse('2026-11-20T09:00:00Z')): MonitorEvent[] =>
    Array.from({ length: n }, (_, i) => ({
      at: new Date(at + i * 1000),
      type: 'auth.login.failure',
      source: 'api',
      actorType: 'user',
      actorId: null,
      actor,
      target: null,
      outcome: 'failure',
      ip: '203.0.113.9',
      userAgent: null,
      country: null,
      city: null,
      lat: null,
      lon: null,
      asn: null,
      size: null,
      count: null,
      details: {},
    }));

  test('one process holds the lease; the other stores only, and the holder alerts on what it stored', async () => {
    assert.equal(holder.leads, true);
    assert.equal(follower.leads, false);
    const r = await follower.ingest(failures('carol@lease.test', 25));
    assert.equal(r.accepted, 25);
    assert.equal(r.alertsCreated, 0, 'the follower runs no detectors');
    const stored = await database.db
      .select()
      .from(securityEvents)
      .where(eq(securityEvents.actor, 'carol@lease.test'));
    assert.equal(stored.length, 25);
    assert.ok(stored.every((e) => e.seen === false));
    assert.equal(await holder.pollUnseen(), 25);
    const alerts = await database.db
      .select()
      .from(monitoringAlerts)
      .where(eq(monitoringAlerts.entity, 'carol@lease.test'));
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0].detector, 'password_guessing');
    assert.equal(alerts[0].firstSeen.toISOString(), '2026-11-20T09:00:00.000Z');
    const ids = new Set(stored.map((e) => e.id));
    assert.ok(alerts[0].evidence.every((id) => ids.has(id)));
    assert.equal(await holder.pollUnseen(), 0, 'each event is read back once');
  });

  test('the holder’s own events are detected inline and marked seen', async () => {
    const r = await holder.ingest(failures('dave@lease.test', 20));
    assert.equal(r.alertsCreated, 1);
    const stored = await database.db
      .select()
      .from(securityEvents)
      .where(eq(securityEvents.actor, 'dave@lease.test'));
    assert.ok(stored.length === 20 && stored.every((e) => e.seen));
    assert.equal(await holder.pollUnseen(), 0);
  });

  test('an alert closed elsewhere is not extended: the next detection opens a new one', async () => {
    const [open] = await database.db
      .select()
      .from(monitoringAlerts)
      .where(eq(monitoringAlerts.entity, 'dave@lease.test'));
    await database.db
      .update(monitoringAlerts)
      .set({ state: 'resolved' })
      .where(eq(monitoringAlerts.id, open.id));
    const r = await holder.ingest(failures('dave@lease.test', 1, Date.parse('2026-11-20T09:00:30Z')));
    assert.equal(r.alertsCreated, 1);
    const [closed] = await database.db
      .select()
      .from(monitoringAlerts)
      .where(eq(monitoringAlerts.id, open.id));
    assert.equal(closed.eventCount, 20);
  });

  test('when the holder stops, the other process takes the lease over', async () => {
    assert.equal(await follower.tryLead(), false);
    await holder.stop();
    assert.equal(await follower.tryLead(), true);
    assert.equal(follower.leads, true);
    const r = await follower.ingest(failures('erin@lease.test', 20));
    assert.equal(r.alertsCreated, 1);
  });
});

describe('event storage round trip (COPY on PostgreSQL, INSERT on PGlite)', () => {
  let database: TestDatabase;
  let monitor: Monitor;
  before(async () => {
    database = await createTestDatabase();
    monitor = new Monitor(database, { prune: false, tailMs: 0 });
    await monitor.ready;
  });
  after(async () => {
    await monitor?.stop();
    await database?.close();
  });

  test('tabs, newlines, backslashes, quotes and non-ASCII text come back unchanged; nulls stay null', async () => {
    const odd = 'tab\there\\back\\\\slash\nnew line\r"quoted" \\N ünïcødé 🙂';
    const e: MonitorEvent = {
      at: new Date('2026-11-21T08:00:00.123Z'),
      type: 'mail.sent',
      source: 'jsonl',
      actorType: 'sender',
      actorId: null,
      actor: 'odd@round.test',
      target: odd,
      outcome: 'success',
      ip: null,
      userAgent: odd,
      country: null,
      city: null,
      lat: 51.5,
      lon: -0.12,
      asn: 64500,
      size: 1234567890123,
      count: 3,
      details: { note: odd, nested: { list: [1, 'two', null] } },
    };
    await monitor.ingest([e]);
    const [row] = await database.db
      .select()
      .from(securityEvents)
      .where(eq(securityEvents.actor, 'odd@round.test'));
    assert.equal(row.target, odd);
    assert.equal(row.userAgent, odd);
    assert.deepEqual(row.details, { note: odd, nested: { list: [1, 'two', null] } });
    assert.equal(row.at.toISOString(), '2026-11-21T08:00:00.123Z');
    assert.equal(row.size, 1234567890123);
    assert.equal(row.asn, 64500);
    assert.equal(row.lat, 51.5);
    assert.equal(row.ip, null);
    assert.equal(row.actorId, null);
    assert.equal(row.seen, true);
  });

  test('a batch the database refuses fails the ingest call, and the next batch goes through', async () => {
    const ev = (actor: string, target: string): MonitorEvent => ({
      at: new Date('2026-11-21T09:00:00Z'),
      type: 'mail.sent',
      source: 'jsonl',
      actorType: 'sender',
      actorId: null,
      actor,
      target,
      outcome: 'success',
      ip: null,
      userAgent: null,
      country: null,
      city: null,
      lat: null,
      lon: null,
      asn: null,
      size: 10,
      count: 1,
      details: {},
    });
    // PostgreSQL text cannot hold NUL.
    await assert.rejects(monitor.ingest([ev('nul@round.test', 'a\u0000b')]));
    const r = await monitor.ingest([ev('after@round.test', 'fine@round.test')]);
    assert.equal(r.accepted, 1);
    const rows = await database.db
      .select()
      .from(securityEvents)
      .where(eq(securityEvents.actor, 'after@round.test'));
    assert.equal(rows.length, 1);
  });
});
