// Sign-in throttling per account and per IP, stored in the database so that it
// holds across processes. Failures within a window raise an increasing delay
// before the next attempt; enough of them lock the account for a while.
import { eq, inArray, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { authThrottle } from './schema.ts';

export type ThrottlePolicy = {
  /** Failures older than this are forgotten. */
  windowMs: number;
  /** Failures allowed before any delay applies. */
  freeFailures: number;
  /** Maximum delay between attempts. */
  maxDelayMs: number;
  /** Failures that lock (accounts only; 0 = never). */
  lockAfter: number;
  lockMs: number;
};

export const accountPolicy: ThrottlePolicy = {
  windowMs: 15 * 60_000,
  freeFailures: 3,
  maxDelayMs: 60_000,
  lockAfter: 10,
  lockMs: 15 * 60_000,
};
export const ipPolicy: ThrottlePolicy = { windowMs: 15 * 60_000, freeFailures: 20, maxDelayMs: 60_000, lockAfter: 0, lockMs: 0 };

export const accountKey = (email: string) => `acct:${email.trim().toLowerCase()}`;
export const ipKey = (ip: string) => `ip:${ip}`;

/** Delay before the next attempt after `failures` failures: 0 for the free ones, then 1 s, 2 s, 4 s … */
export function delayAfter(failures: number, policy: ThrottlePolicy): number {
  const over = failures - policy.freeFailures;
  if (over <= 0) return 0;
  return Math.min(policy.maxDelayMs, 1000 * 2 ** (over - 1));
}

export type ThrottleState =
  | { blocked: false; known: string[] }
  | { blocked: true; reason: 'locked' | 'too_soon'; retryAfterSec: number; key: string };

export async function checkThrottle(db: Tx, keys: string[]): Promise<ThrottleState> {
  const rows = await db.select().from(authThrottle).where(inArray(authThrottle.key, keys));
  const now = Date.now();
  for (const r of rows) {
    if (r.lockedUntil && r.lockedUntil.getTime() > now)
      return { blocked: true, reason: 'locked', retryAfterSec: Math.ceil((r.lockedUntil.getTime() - now) / 1000), key: r.key };
  }
  for (const r of rows) {
    if (r.nextAttemptAt && r.nextAttemptAt.getTime() > now && now - r.lastFailureAt.getTime() < accountPolicy.windowMs)
      return { blocked: true, reason: 'too_soon', retryAfterSec: Math.ceil((r.nextAttemptAt.getTime() - now) / 1000), key: r.key };
  }
  // The keys that have failures on record (so a success need not clear the others).
  return { blocked: false, known: rows.map((r) => r.key) };
}

/** Count a failure; returns the new count and whether this failure locked the key. */
export async function recordFailure(db: Tx, key: string, policy: ThrottlePolicy): Promise<{ failures: number; locked: boolean }> {
  const windowSec = policy.windowMs / 1000;
  // One atomic upsert: reset the count when the previous failure is outside the window.
  const [row] = await db
    .insert(authThrottle)
    .values({ key, failures: 1 })
    .onConflictDoUpdate({
      target: authThrottle.key,
      set: {
        failures: sql`CASE WHEN ${authThrottle.lastFailureAt} < now() - make_interval(secs => ${windowSec}) THEN 1 ELSE ${authThrottle.failures} + 1 END`,
        firstFailureAt: sql`CASE WHEN ${authThrottle.lastFailureAt} < now() - make_interval(secs => ${windowSec}) THEN now() ELSE ${authThrottle.firstFailureAt} END`,
        lastFailureAt: sql`now()`,
      },
    })
    .returning();
  const failures = row.failures;
  const delay = delayAfter(failures, policy);
  const lock = policy.lockAfter > 0 && failures >= policy.lockAfter && !(row.lockedUntil && row.lockedUntil.getTime() > Date.now());
  await db
    .update(authThrottle)
    .set({
      nextAttemptAt: delay ? new Date(Date.now() + delay) : null,
      ...(lock ? { lockedUntil: new Date(Date.now() + policy.lockMs) } : {}),
    })
    .where(eq(authThrottle.key, key));
  return { failures, locked: lock };
}

export async function clearThrottle(db: Tx, key: string): Promise<boolean> {
  const r = await db.delete(authThrottle).where(eq(authThrottle.key, key)).returning({ key: authThrottle.key });
  return r.length > 0;
}

export async function lockedUntil(db: Tx, email: string): Promise<Date | null> {
  const [r] = await db.select().from(authThrottle).where(eq(authThrottle.key, accountKey(email)));
  return r?.lockedUntil && r.lockedUntil.getTime() > Date.now() ? r.lockedUntil : null;
}
