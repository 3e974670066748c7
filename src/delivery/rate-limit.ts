// Sliding-window rate limits that hold across every worker process, kept in the
// database (table rate_limit_buckets).
//
// A window of length W (a second, minute, hour or day) is split into N
// sub-buckets; a reservation counts the last N+1 buckets (so the span covered is
// always ≥ W: conservative) and adds to the current one. One reservation is one
// short transaction: a transaction-scoped advisory lock on the scope serialises
// reservations of the same scope across processes, then the sums are read and
// the current buckets bumped with INSERT … ON CONFLICT DO UPDATE … RETURNING.
// Workers reserve in batches (`want` > 1) and may be granted fewer, so the cost
// is one round trip per batch, not per message. Scopes: `relay:<id>`,
// `domain:gmail.com`, `warmup:<sending domain>`…
//
// Time is a parameter (`now`, ms): tests and callers control it.
import { sql } from 'drizzle-orm';
import { type Db, rows } from '../db/client.ts';

export type Unit = 'second' | 'minute' | 'hour' | 'day';
export type Limit = { per: Unit; max: number };

const UNITS: Record<Unit, { windowMs: number; bucketMs: number }> = {
  second: { windowMs: 1_000, bucketMs: 100 },
  minute: { windowMs: 60_000, bucketMs: 5_000 },
  hour: { windowMs: 3_600_000, bucketMs: 60_000 },
  day: { windowMs: 86_400_000, bucketMs: 3_600_000 },
};

export type Reservation = {
  granted: number;
  /** When more may be available (ms since epoch), if not everything was granted. */
  retryAt: number | null;
};

/** Reserve up to `want` sends in `scope` under every limit, at time `now`. */
export async function reserve(db: Db, scope: string, limits: Limit[], want: number, now: number = Date.now()): Promise<Reservation> {
  if (!Number.isInteger(want) || want < 1) throw new RangeError('want must be a positive integer');
  const active = limits.filter((l) => Number.isFinite(l.max));
  if (active.length === 0) return { granted: want, retryAt: null };
  return db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtextextended(${`rate:${scope}`}, 0))`);
    let granted = want;
    let retryAt: number | null = null;
    const current: { unit: Unit; bucket: number; n: number }[] = [];
    for (const l of active) {
      const { windowMs, bucketMs } = UNITS[l.per];
      const n = windowMs / bucketMs;
      const bucket = Math.floor(now / bucketMs);
      current.push({ unit: l.per, bucket, n });
      const [r] = await rows<{ used: number; oldest: number | null }>(
        tx,
        sql`SELECT coalesce(sum(count), 0)::int AS used, min(bucket) AS oldest FROM rate_limit_buckets
            WHERE scope = ${scope} AND unit = ${l.per} AND bucket >= ${bucket - n} AND count > 0`,
      );
      const remaining = Math.max(0, l.max - r.used);
      if (remaining < want) {
        // the oldest counted bucket leaves the window at bucket oldest + n + 1
        const at = ((r.oldest ?? bucket) + n + 1) * bucketMs;
        retryAt = Math.max(retryAt ?? 0, at);
      }
      granted = Math.min(granted, remaining);
    }
    if (granted > 0) {
      for (const c of current) {
        await tx.execute(sql`INSERT INTO rate_limit_buckets (scope, unit, bucket, count) VALUES (${scope}, ${c.unit}, ${c.bucket}, ${granted})
          ON CONFLICT (scope, unit, bucket) DO UPDATE SET count = rate_limit_buckets.count + excluded.count RETURNING count`);
      }
    }
    // forget buckets that can no longer be counted
    for (const c of current)
      await tx.execute(sql`DELETE FROM rate_limit_buckets WHERE scope = ${scope} AND unit = ${c.unit} AND bucket < ${c.bucket - c.n}`);
    return { granted, retryAt: granted < want ? retryAt : null };
  });
}

/** Give back reservations that were not used (e.g. the relay refused the batch). */
export async function release(db: Db, scope: string, limits: Limit[], count: number, reservedAt: number): Promise<void> {
  for (const l of limits) {
    const bucket = Math.floor(reservedAt / UNITS[l.per].bucketMs);
    await db.execute(sql`UPDATE rate_limit_buckets SET count = greatest(0, count - ${count})
      WHERE scope = ${scope} AND unit = ${l.per} AND bucket = ${bucket}`);
  }
}

/**
 * Warm-up for a new sending domain or IP: the daily cap on day `d` since the
 * start (0-based); null once the schedule is over (no warm-up cap).
 * Roughly doubles daily, the usual advice of mailbox providers.
 */
export const DEFAULT_WARMUP = [50, 100, 200, 400, 800, 1_500, 3_000, 6_000, 10_000, 20_000, 35_000, 50_000, 75_000, 100_000];

export function warmupDailyLimit(startedAt: Date, now: number, schedule: readonly number[] = DEFAULT_WARMUP): number | null {
  const day = Math.floor((now - startedAt.getTime()) / UNITS.day.windowMs);
  if (day < 0) return schedule[0] ?? null;
  return day < schedule.length ? schedule[day] : null;
}

/** The limits of a scope with a warm-up schedule applied to its daily limit. */
export function withWarmup(limits: Limit[], startedAt: Date | null, now: number, schedule?: readonly number[]): Limit[] {
  const cap = startedAt ? warmupDailyLimit(startedAt, now, schedule) : null;
  if (cap === null) return limits;
  const day = limits.find((l) => l.per === 'day');
  return [...limits.filter((l) => l.per !== 'day'), { per: 'day', max: Math.min(cap, day?.max ?? Number.POSITIVE_INFINITY) }];
}
