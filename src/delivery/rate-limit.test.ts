import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendName, createTestDatabase, type TestDatabase } from '../../test/support/db.ts';
import { openPostgres } from '../db/client.ts';
import { reserve, release, warmupDailyLimit, withWarmup } from './rate-limit.ts';

let database: TestDatabase;
before(async () => {
  database = await createTestDatabase();
});
after(async () => {
  await database?.close();
});

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

describe(`rate limits (${backendName})`, () => {
  it('grants up to the per-second limit and slides the window', async () => {
    const db = database.db;
    const limits = [{ per: 'second' as const, max: 10 }];
    assert.deepEqual(await reserve(db, 'relay:a', limits, 6, T0), { granted: 6, retryAt: null });
    const second = await reserve(db, 'relay:a', limits, 6, T0 + 300);
    assert.equal(second.granted, 4);
    assert.ok(second.retryAt !== null && second.retryAt > T0 + 300 && second.retryAt <= T0 + 1100);
    assert.equal((await reserve(db, 'relay:a', limits, 1, T0 + 900)).granted, 0);
    // the first 6 (in the bucket at T0) leave the window after ≥ 1 s
    assert.equal((await reserve(db, 'relay:a', limits, 10, T0 + 1100)).granted, 6);
    // another scope is independent
    assert.equal((await reserve(db, 'domain:gmail.com', limits, 10, T0)).granted, 10);
  });

  it('applies every limit at once (per second, hour, day) and releases unused reservations', async () => {
    const db = database.db;
    const limits = [
      { per: 'second' as const, max: 100 },
      { per: 'hour' as const, max: 150 },
      { per: 'day' as const, max: 1000 },
    ];
    assert.equal((await reserve(db, 'relay:b', limits, 100, T0)).granted, 100);
    assert.equal((await reserve(db, 'relay:b', limits, 100, T0 + 5_000)).granted, 50);
    const denied = await reserve(db, 'relay:b', limits, 1, T0 + 10 * 60_000);
    assert.equal(denied.granted, 0);
    assert.ok((denied.retryAt ?? 0) >= T0 + 3_600_000, 'hour window must pass');
    await release(db, 'relay:b', limits, 20, T0 + 5_000);
    assert.equal((await reserve(db, 'relay:b', limits, 100, T0 + 10 * 60_000)).granted, 20);
    assert.equal((await reserve(db, 'relay:b', limits, 100, T0 + 2 * 3_600_000)).granted, 100);
  });

  it('never over-grants under concurrent reservations from several connections', async () => {
    const limits = [{ per: 'minute' as const, max: 50 }];
    // on PostgreSQL: separate pools = separate processes' view; on PGlite: one embedded connection
    const extra = database.url ? await Promise.all([openPostgres(database.url, { max: 4 }), openPostgres(database.url, { max: 4 })]) : [];
    const dbs = [database.db, ...extra.map((d) => d.db)];
    try {
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) => reserve(dbs[i % dbs.length], 'domain:contended', limits, 3, T0)));
      assert.equal(
        results.reduce((s, r) => s + r.granted, 0),
        50,
      );
    } finally {
      await Promise.all(extra.map((d) => d.close()));
    }
  });

  it('warm-up schedule caps the daily limit', () => {
    const start = new Date(T0);
    assert.equal(warmupDailyLimit(start, T0), 50);
    assert.equal(warmupDailyLimit(start, T0 + 86_400_000 * 2.5), 200);
    assert.equal(warmupDailyLimit(start, T0 + 86_400_000 * 60), null);
    assert.deepEqual(withWarmup([{ per: 'second', max: 10 }], start, T0 + 86_400_000), [
      { per: 'second', max: 10 },
      { per: 'day', max: 100 },
    ]);
    assert.deepEqual(withWarmup([{ per: 'day', max: 70 }], start, T0 + 86_400_000), [{ per: 'day', max: 70 }]);
    assert.deepEqual(withWarmup([{ per: 'day', max: 70 }], null, T0), [{ per: 'day', max: 70 }]);
  });
});
