// The ledger's queue statements on their own (PGlite, or PostgreSQL with TEST_DATABASE_URL): what is due and in
// which order, disjoint claims, ownership when recording, lease renewal by key, completion. The engine tests
// cover them end to end; these pin the statements rewritten for PostgreSQL's CPU per message (index range,
// updates by ctid, prepared statements).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { sql } from 'drizzle-orm';
import { createTestApp, type TestApp } from '../../test/support/app.ts';
import { rows } from '../db/client.ts';
import { campaignsWithWork, claim, completeFinished, record, renewLease } from './ledger.ts';

let t: TestApp;
before(async () => {
  t = await createTestApp();
});
after(async () => {
  await t?.close();
});

/** A sending campaign with `n` due rows (send_at now), one without send_at, one due tomorrow. */
async function campaignWithRows(n: number): Promise<{ id: number; due: string[]; noSendAt: string; future: string }> {
  const db = t.database.db;
  const [c] = await rows<{ id: number }>(
    db,
    sql`INSERT INTO campaigns (workspace_id, name, state, launched_at) VALUES (1, ${`ledger ${randomUUID()}`}, 'sending', now()) RETURNING id`,
  );
  const due = Array.from({ length: n }, () => randomUUID());
  const noSendAt = randomUUID();
  const future = randomUUID();
  await db.execute(sql`INSERT INTO campaign_recipients (campaign_id, contact_id, send_at)
    SELECT ${c.id}, id, now() - interval '1 minute' FROM unnest(${sql.param(due)}::uuid[]) id`);
  await db.execute(sql`INSERT INTO campaign_recipients (campaign_id, contact_id) VALUES (${c.id}, ${noSendAt})`);
  await db.execute(sql`INSERT INTO campaign_recipients (campaign_id, contact_id, send_at) VALUES (${c.id}, ${future}, now() + interval '1 day')`);
  return { id: Number(c.id), due, noSendAt, future };
}

const stateOf = async (campaignId: number, contactId: string) =>
  (await rows<{ state: string; worker: string | null; attempts: number }>(
    t.database.db,
    sql`SELECT state, worker, attempts FROM campaign_recipients WHERE campaign_id = ${campaignId} AND contact_id = ${contactId}`,
  ))[0];

describe('ledger', () => {
  test('claims take due rows only (no send_at first), disjoint between workers, and only while sending', async () => {
    const db = t.database.db;
    const c = await campaignWithRows(5);
    assert.ok((await campaignsWithWork(db)).includes(c.id));
    const first = await claim(db, c.id, 'worker-a', 1, 60);
    assert.deepEqual(first, [{ contactId: c.noSendAt, attempts: 1 }], 'a row without send_at is due first');
    const a = await claim(db, c.id, 'worker-a', 2, 60);
    assert.equal(a.length, 2);
    const b = await claim(db, c.id, 'worker-b', 10, 60);
    assert.equal(b.length, 3, 'the rest of the due rows, not the future one');
    const claimed = new Set([...first, ...a, ...b].map((r) => r.contactId));
    assert.equal(claimed.size, 6);
    assert.ok(!claimed.has(c.future));
    assert.deepEqual(await claim(db, c.id, 'worker-c', 10, 60), []);

    const paused = await campaignWithRows(2);
    await db.execute(sql`UPDATE campaigns SET state = 'paused' WHERE id = ${paused.id}`);
    assert.deepEqual(await claim(db, paused.id, 'worker-a', 10, 60), []);
    assert.ok(!(await campaignsWithWork(db)).includes(paused.id));
  });

  test('outcomes are written for the claiming worker only; sent rows get their received event; untried gives the attempt back', async () => {
    const db = t.database.db;
    const c = await campaignWithRows(3);
    const [r1, r2, r3] = (await claim(db, c.id, 'worker-a', 3, 60)).map((r) => r.contactId);
    assert.equal(await record(db, c.id, 'worker-b', [{ contactId: r1, state: 'sent', code: 250 }]), 0, 'not the owner');
    assert.equal((await stateOf(c.id, r1)).state, 'sending');
    const n = await record(db, c.id, 'worker-a', [
      { contactId: r1, state: 'sent', code: 250, response: '250 ok', relay: 'sink' },
      { contactId: r2, state: 'deferred', code: 451, retryAt: new Date(Date.now() + 60_000) },
      { contactId: r3, state: 'queued', untried: true },
    ]);
    assert.equal(n, 3);
    assert.deepEqual(await stateOf(c.id, r1), { state: 'sent', worker: null, attempts: 1 });
    assert.equal((await stateOf(c.id, r2)).state, 'deferred');
    assert.deepEqual(await stateOf(c.id, r3), { state: 'queued', worker: null, attempts: 0 });
    assert.equal(await record(db, c.id, 'worker-a', [{ contactId: r1, state: 'sent', code: 250 }]), 0, 'recorded once');
    const events = await rows<{ contact_id: string }>(
      db,
      sql`SELECT contact_id FROM engagement_events WHERE campaign_id = ${c.id} AND type = 1`,
    );
    assert.deepEqual(
      events.map((e) => e.contact_id),
      [r1],
    );
  });

  test('an expired lease is due again; renewal extends the owner’s rows only; a campaign with nothing left completes', async () => {
    const db = t.database.db;
    const c = await campaignWithRows(2);
    await db.execute(sql`DELETE FROM campaign_recipients WHERE campaign_id = ${c.id} AND contact_id IN (${c.noSendAt}, ${c.future})`);
    const [r1, r2] = (await claim(db, c.id, 'worker-a', 2, 60)).map((r) => r.contactId);
    await db.execute(sql`UPDATE campaign_recipients SET lease_until = now() - interval '1 second' WHERE campaign_id = ${c.id}`);
    await renewLease(db, c.id, 'worker-a', 60, [r1]);
    const again = await claim(db, c.id, 'worker-b', 10, 60);
    assert.deepEqual(
      again.map((r) => [r.contactId, r.attempts]),
      [[r2, 2]],
      'only the row whose lease was not renewed',
    );
    assert.ok(!(await completeFinished(db)).includes(c.id));
    await record(db, c.id, 'worker-a', [{ contactId: r1, state: 'sent', code: 250 }]);
    await record(db, c.id, 'worker-b', [{ contactId: r2, state: 'failed', code: 550 }]);
    assert.ok((await completeFinished(db)).includes(c.id));
  });
});
