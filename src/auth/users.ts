// Staff account administration, shared by the HTTP routes and the CLI.
import { and, asc, eq, ne, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Tx } from '../db/client.ts';
import { type Actor, appendAudit } from '../audit/service.ts';
import { conflict, fieldError, forbidden, notFound, Problem } from '../http/problem.ts';
import { getSettings } from '../settings/service.ts';
import { hashPassword, passwordProblem } from './passwords.ts';
import { canAssignRole } from './permissions.ts';
import { authThrottle, recoveryCodes, type Role, users } from './schema.ts';
import { revokeUserSessions, type UserRow } from './sessions.ts';
import { accountKey, clearThrottle } from './throttle.ts';

export const emailSchema = z.email().max(254).transform((e) => e.trim().toLowerCase());

export async function assertPasswordAcceptable(password: string, context: string[], path = 'password') {
  const problem = await passwordProblem(password, context);
  if (problem) throw fieldError(path, problem);
}

export async function countOwners(db: Tx): Promise<number> {
  const [{ n }] = await db.select({ n: sql<number>`count(*)::int` }).from(users).where(and(eq(users.role, 'owner'), eq(users.disabled, false)));
  return n;
}

export async function createUser(
  db: Tx,
  actor: Actor,
  input: { email: string; name: string; role: Role; password: string },
): Promise<UserRow> {
  const email = emailSchema.parse(input.email);
  await assertPasswordAcceptable(input.password, [input.name, email.split('@')[0]]);
  const passwordHash = await hashPassword(input.password);
  const require2fa = (await getSettings(db)).require2fa;
  const [user] = await db
    .insert(users)
    .values({ email, name: input.name, role: input.role, passwordHash, mustEnrol2fa: require2fa })
    .onConflictDoNothing()
    .returning();
  if (!user) throw conflict('email_taken', 'A user with this email already exists.');
  await appendAudit(db, actor, { action: 'user.created', target: email, details: { userId: user.id, role: input.role } });
  return user;
}

/**
 * The first owner, from the setup page or the CLI. Serialised on an advisory
 * lock so two simultaneous setups cannot both create an owner.
 */
export async function createFirstOwner(db: Tx, actor: Actor, input: { email: string; name: string; password: string }): Promise<UserRow> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(727004)`);
    const [{ n }] = await tx.select({ n: sql<number>`count(*)::int` }).from(users);
    if (n > 0) throw conflict('setup_done', 'Setup is already complete: sign in instead.');
    return createUser(tx, actor, { ...input, role: 'owner' });
  });
}

export async function needsSetup(db: Tx): Promise<boolean> {
  const [{ n }] = await db.select({ n: sql<number>`count(*)::int` }).from(users);
  return n === 0;
}

export async function getUser(db: Tx, id: number): Promise<UserRow> {
  const [u] = await db.select().from(users).where(eq(users.id, id));
  if (!u) throw notFound('User');
  return u;
}

export async function listUsers(db: Tx) {
  return db
    .select({ user: users, lockedUntil: authThrottle.lockedUntil })
    .from(users)
    .leftJoin(authThrottle, eq(authThrottle.key, sql`'acct:' || lower(${users.email})`))
    .orderBy(asc(users.id));
}

export async function updateUser(
  db: Tx,
  actor: Actor & { role: Role; userId: number },
  id: number,
  patch: { name?: string; role?: Role; disabled?: boolean },
): Promise<UserRow> {
  const target = await getUser(db, id);
  if (target.role === 'owner' && actor.role !== 'owner') throw forbidden('Only an owner can change an owner.');
  if (patch.role && patch.role !== target.role && !canAssignRole(actor.role, patch.role)) throw forbidden('Only an owner can make someone an owner.');
  if (id === actor.userId && (patch.disabled || (patch.role && patch.role !== target.role)))
    throw new Problem(409, 'self_change', 'You cannot disable yourself or change your own role.');
  const losesOwner = target.role === 'owner' && ((patch.role && patch.role !== 'owner') || patch.disabled);
  if (losesOwner && (await countOwners(db)) <= 1) throw new Problem(409, 'last_owner', 'The workspace must keep at least one active owner.');
  const [user] = await db
    .update(users)
    .set({ ...patch, updatedAt: new Date() })
    .where(eq(users.id, id))
    .returning();
  const privilegeChanged = (patch.role && patch.role !== target.role) || patch.disabled;
  // A role change or disabling ends the user's sessions: they sign in again with the new rights.
  const revoked = privilegeChanged ? await revokeUserSessions(db, id) : 0;
  await appendAudit(db, actor, {
    action: patch.role && patch.role !== target.role ? 'user.role_changed' : 'user.updated',
    target: target.email,
    details: { userId: id, before: { name: target.name, role: target.role, disabled: target.disabled }, after: patch, sessionsRevoked: revoked },
  });
  return user;
}

export async function unlockUser(db: Tx, actor: Actor, email: string): Promise<boolean> {
  const cleared = await clearThrottle(db, accountKey(email));
  await appendAudit(db, actor, { action: 'user.unlocked', target: email.toLowerCase(), details: { wasThrottled: cleared } });
  return cleared;
}

export async function resetTwoFactor(db: Tx, actor: Actor, id: number): Promise<void> {
  const target = await getUser(db, id);
  await db
    .update(users)
    .set({ totpEnabled: false, totpSecret: null, totpPendingSecret: null, totpLastStep: null, mustEnrol2fa: true, updatedAt: new Date() })
    .where(eq(users.id, id));
  await db.delete(recoveryCodes).where(eq(recoveryCodes.userId, id));
  const revoked = await revokeUserSessions(db, id);
  await appendAudit(db, actor, { action: '2fa.reset', target: target.email, details: { userId: id, sessionsRevoked: revoked } });
}

export async function changePassword(db: Tx, actor: Actor, user: UserRow, newPassword: string, keepSessionId?: string): Promise<void> {
  await assertPasswordAcceptable(newPassword, [user.name, user.email.split('@')[0]], 'newPassword');
  await db.update(users).set({ passwordHash: await hashPassword(newPassword), updatedAt: new Date() }).where(eq(users.id, user.id));
  const revoked = await revokeUserSessions(db, user.id, keepSessionId);
  await appendAudit(db, actor, { action: 'user.password_changed', target: user.email, details: { sessionsRevoked: revoked } });
}

/** Users other than `exceptId` who must enrol in 2FA now that the workspace requires it. */
export async function flagUsersWithout2fa(db: Tx): Promise<number> {
  const r = await db
    .update(users)
    .set({ mustEnrol2fa: true })
    .where(and(eq(users.totpEnabled, false), ne(users.mustEnrol2fa, true)))
    .returning({ id: users.id });
  return r.length;
}
