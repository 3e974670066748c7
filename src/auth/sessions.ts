// Server-side sessions. The cookie carries a random token; the database keeps
// only its SHA-256, so a leaked table does not yield usable sessions.
import { createHash, randomBytes } from 'node:crypto';
import { and, desc, eq, isNull, ne, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { getSettings } from '../settings/service.ts';
import { type SessionStage, sessions, users } from './schema.ts';

export const SESSION_COOKIE = 'mw_session';
export const CSRF_COOKIE = 'mw_csrf';
/** A half-finished sign-in (password ok, code missing) lives this long. */
const PENDING_TTL_MS = 10 * 60_000;
/** last_seen_at is written at most this often, to keep reads cheap. */
const TOUCH_EVERY_MS = 60_000;

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

export type SessionRow = typeof sessions.$inferSelect;
export type UserRow = typeof users.$inferSelect;

export async function createSession(
  db: Tx,
  userId: number,
  stage: SessionStage,
  ctx: { ip?: string | null; userAgent?: string | null },
): Promise<{ token: string; session: SessionRow }> {
  const settings = await getSettings(db);
  const token = randomBytes(32).toString('base64url');
  const ttl = stage === 'full' ? settings.sessionAbsoluteHours * 3_600_000 : PENDING_TTL_MS;
  const [session] = await db
    .insert(sessions)
    .values({
      id: hashToken(token),
      handle: randomBytes(9).toString('base64url'),
      userId,
      stage,
      csrfToken: randomBytes(24).toString('base64url'),
      ip: ctx.ip ?? null,
      userAgent: ctx.userAgent?.slice(0, 512) ?? null,
      expiresAt: new Date(Date.now() + ttl),
    })
    .returning();
  return { token, session };
}

/** The live session and its user for a cookie token, or null (expired, idle, revoked, disabled). */
export async function resolveSession(db: Tx, token: string): Promise<{ session: SessionRow; user: UserRow } | null> {
  const [row] = await db
    .select({ session: sessions, user: users })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.id, hashToken(token)), isNull(sessions.revokedAt)));
  if (!row || row.user.disabled) return null;
  const now = Date.now();
  const settings = await getSettings(db);
  if (row.session.expiresAt.getTime() <= now) return null;
  if (row.session.stage === 'full' && now - row.session.lastSeenAt.getTime() > settings.sessionIdleMinutes * 60_000) return null;
  if (now - row.session.lastSeenAt.getTime() > TOUCH_EVERY_MS)
    await db.update(sessions).set({ lastSeenAt: new Date(now) }).where(eq(sessions.id, row.session.id));
  return row;
}

export async function revokeSession(db: Tx, id: string): Promise<void> {
  await db.update(sessions).set({ revokedAt: new Date() }).where(and(eq(sessions.id, id), isNull(sessions.revokedAt)));
}

export async function revokeUserSessions(db: Tx, userId: number, exceptId?: string): Promise<number> {
  const where = and(eq(sessions.userId, userId), isNull(sessions.revokedAt), exceptId ? ne(sessions.id, exceptId) : undefined);
  const r = await db.update(sessions).set({ revokedAt: new Date() }).where(where).returning({ id: sessions.id });
  return r.length;
}

export async function listUserSessions(db: Tx, userId: number): Promise<SessionRow[]> {
  return db
    .select()
    .from(sessions)
    .where(
      and(
        eq(sessions.userId, userId),
        isNull(sessions.revokedAt),
        eq(sessions.stage, 'full'),
        sql`${sessions.expiresAt} > now()`,
      ),
    )
    .orderBy(desc(sessions.lastSeenAt));
}
