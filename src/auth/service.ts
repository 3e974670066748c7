// Sign-in and second factor: the flows behind the routes and the CLI.
// Every outcome is audited; answers never reveal whether an account exists.
import { and, eq, isNull, sql } from 'drizzle-orm';
import { openWithKey, sealWithKey } from '../crypto/aead.ts';
import type { Tx } from '../db/client.ts';
import { type Actor, appendAudit } from '../audit/service.ts';
import { Problem } from '../http/problem.ts';
import { getSettings } from '../settings/service.ts';
import { dummyHash, verifyPassword } from './passwords.ts';
import { recoveryCodes, users } from './schema.ts';
import { createSession, revokeSession, type SessionRow, type UserRow } from './sessions.ts';
import {
  accountKey,
  accountPolicy,
  checkThrottle,
  clearThrottle,
  ipKey,
  ipPolicy,
  recordFailure,
} from './throttle.ts';
import { checkTotp, hashRecoveryCode, newRecoveryCodes, newTotpSecret, totpQrDataUrl, totpUri } from './totp.ts';

export type AuthContext = { db: Tx; totpKey: Buffer };
export type RequestMeta = { ip?: string | null; userAgent?: string | null };

const invalidCredentials = () => new Problem(401, 'invalid_credentials', 'Invalid email or password.');

const sealAad = (userId: number) => `users.totp_secret|${userId}`;
export const sealTotpSecret = (ctx: AuthContext, userId: number, secret: string) => sealWithKey(ctx.totpKey, secret, sealAad(userId));
const openTotpSecret = (ctx: AuthContext, userId: number, sealed: Buffer) => openWithKey(ctx.totpKey, sealed, sealAad(userId)).toString();

export const userActor = (user: Pick<UserRow, 'id' | 'email'>, meta: RequestMeta): Actor => ({
  type: 'user',
  id: user.id,
  label: user.email,
  ip: meta.ip,
  userAgent: meta.userAgent,
});

export async function findUserByEmail(db: Tx, email: string): Promise<UserRow | undefined> {
  const [u] = await db.select().from(users).where(sql`lower(${users.email}) = ${email.trim().toLowerCase()}`);
  return u;
}

async function throttleOrThrow(ctx: AuthContext, email: string, meta: RequestMeta) {
  const keys = [accountKey(email), ...(meta.ip ? [ipKey(meta.ip)] : [])];
  const state = await checkThrottle(ctx.db, keys);
  if (!state.blocked) return state.known.includes(accountKey(email));
  await appendAudit(ctx.db, { type: 'anonymous', label: email, ...meta }, {
    action: 'auth.login',
    target: email,
    outcome: 'denied',
    details: { reason: state.reason === 'locked' ? 'account_locked' : 'throttled' },
  });
  const headers = { 'retry-after': String(state.retryAfterSec) };
  if (state.reason === 'locked')
    throw new Problem(423, 'account_locked', `Too many failed attempts: sign-in is locked for ${Math.ceil(state.retryAfterSec / 60)} minutes, or until an administrator unlocks it.`, { headers });
  throw new Problem(429, 'too_many_attempts', `Too many failed attempts. Try again in ${state.retryAfterSec} seconds.`, { headers });
}

/** Count a failed password or code for the account and the IP; audit a resulting lock. */
async function failAttempt(ctx: AuthContext, email: string, meta: RequestMeta, action: string, reason: string) {
  const acct = await recordFailure(ctx.db, accountKey(email), accountPolicy);
  if (meta.ip) await recordFailure(ctx.db, ipKey(meta.ip), ipPolicy);
  const actor: Actor = { type: 'anonymous', label: email, ...meta };
  await appendAudit(ctx.db, actor, { action, target: email, outcome: 'failure', details: { reason, failures: acct.failures } });
  if (acct.locked)
    await appendAudit(ctx.db, actor, {
      action: 'auth.lockout',
      target: email,
      outcome: 'success',
      details: { failures: acct.failures, minutes: accountPolicy.lockMs / 60_000 },
    });
}

export type LoginResult = {
  status: 'ok' | 'totp_required' | 'enrol_required';
  token: string;
  session: SessionRow;
  user: UserRow;
};

async function needsEnrolment(ctx: AuthContext, user: UserRow): Promise<boolean> {
  if (user.totpEnabled) return false;
  return user.mustEnrol2fa || (await getSettings(ctx.db)).require2fa;
}

export async function login(ctx: AuthContext, email: string, password: string, meta: RequestMeta): Promise<LoginResult> {
  const hadFailures = await throttleOrThrow(ctx, email, meta);
  const user = await findUserByEmail(ctx.db, email);
  // Verify against a dummy hash for unknown accounts so timing does not tell.
  const ok = await verifyPassword(user?.passwordHash ?? (await dummyHash()), password);
  if (!user || !ok || user.disabled) {
    await failAttempt(ctx, email, meta, 'auth.login', !user ? 'unknown_account' : user.disabled ? 'disabled' : 'bad_password');
    throw invalidCredentials();
  }
  const stage = user.totpEnabled ? 'totp_pending' : (await needsEnrolment(ctx, user)) ? 'enrol_pending' : 'full';
  const { token, session } = await createSession(ctx.db, user.id, stage, meta);
  if (stage === 'totp_pending') return { status: 'totp_required', token, session, user };
  await completeLogin(ctx, user, meta, 'password', hadFailures);
  return { status: stage === 'full' ? 'ok' : 'enrol_required', token, session, user };
}

async function completeLogin(ctx: AuthContext, user: UserRow, meta: RequestMeta, method: string, hadFailures = true) {
  if (hadFailures) await clearThrottle(ctx.db, accountKey(user.email));
  await ctx.db.update(users).set({ lastLoginAt: new Date() }).where(eq(users.id, user.id));
  await appendAudit(ctx.db, userActor(user, meta), { action: 'auth.login', target: user.email, outcome: 'success', details: { method } });
}

/** Second step of sign-in: a TOTP code or a recovery code. Returns a new, full session. */
export async function verifySecondFactor(
  ctx: AuthContext,
  pending: { session: SessionRow; user: UserRow },
  input: { code?: string; recoveryCode?: string },
  meta: RequestMeta,
): Promise<{ token: string; session: SessionRow; user: UserRow }> {
  const { user } = pending;
  if (pending.session.stage !== 'totp_pending') throw new Problem(409, 'no_pending_sign_in', 'There is no sign-in waiting for a code.');
  await throttleOrThrow(ctx, user.email, meta);
  let method: string;
  if (input.recoveryCode) {
    const used = await ctx.db
      .update(recoveryCodes)
      .set({ usedAt: new Date() })
      .where(and(eq(recoveryCodes.userId, user.id), eq(recoveryCodes.codeHash, hashRecoveryCode(input.recoveryCode)), isNull(recoveryCodes.usedAt)))
      .returning({ id: recoveryCodes.id });
    if (used.length === 0) {
      await failAttempt(ctx, user.email, meta, 'auth.recovery_code', 'invalid_code');
      throw new Problem(401, 'invalid_code', 'That recovery code is not valid.');
    }
    const [{ left }] = await ctx.db
      .select({ left: sql<number>`count(*)::int` })
      .from(recoveryCodes)
      .where(and(eq(recoveryCodes.userId, user.id), isNull(recoveryCodes.usedAt)));
    await appendAudit(ctx.db, userActor(user, meta), { action: 'auth.recovery_code_used', target: user.email, details: { remaining: left } });
    method = 'recovery_code';
  } else {
    const secret = openTotpSecret(ctx, user.id, user.totpSecret!);
    const check = checkTotp(secret, input.code ?? '', user.totpLastStep);
    if (!check.ok) {
      if (check.reason === 'replayed') {
        await failAttempt(ctx, user.email, meta, 'auth.totp_replay', 'replayed_code');
        throw new Problem(
          401,
          'code_replayed',
          'This code was already used. Wait for the next code. If you did not just sign in, someone may know your password: change it.',
        );
      }
      await failAttempt(ctx, user.email, meta, 'auth.totp', 'invalid_code');
      throw new Problem(401, 'invalid_code', 'That code is not valid.');
    }
    // Conditional update: two concurrent requests with the same code cannot both win.
    const won = await ctx.db
      .update(users)
      .set({ totpLastStep: check.step })
      .where(and(eq(users.id, user.id), sql`coalesce(${users.totpLastStep}, -1) < ${check.step}`))
      .returning({ id: users.id });
    if (won.length === 0) {
      await failAttempt(ctx, user.email, meta, 'auth.totp_replay', 'replayed_code');
      throw new Problem(401, 'code_replayed', 'This code was already used. Wait for the next code.');
    }
    method = 'totp';
  }
  // Privilege change: the half-signed-in session is replaced by a new one.
  await revokeSession(ctx.db, pending.session.id);
  const { token, session } = await createSession(ctx.db, user.id, 'full', meta);
  await completeLogin(ctx, user, meta, method);
  return { token, session, user };
}

export async function startEnrolment(ctx: AuthContext, user: UserRow): Promise<{ secret: string; otpauthUrl: string; qrDataUrl: string }> {
  const secret = newTotpSecret();
  await ctx.db.update(users).set({ totpPendingSecret: sealTotpSecret(ctx, user.id, secret) }).where(eq(users.id, user.id));
  const otpauthUrl = totpUri(secret, user.email);
  return { secret, otpauthUrl, qrDataUrl: await totpQrDataUrl(otpauthUrl) };
}

async function replaceRecoveryCodes(db: Tx, userId: number): Promise<string[]> {
  const codes = newRecoveryCodes();
  await db.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
  await db.insert(recoveryCodes).values(codes.map((c) => ({ userId, codeHash: hashRecoveryCode(c) })));
  return codes;
}

export async function confirmEnrolment(ctx: AuthContext, user: UserRow, code: string, meta: RequestMeta): Promise<string[]> {
  if (!user.totpPendingSecret) throw new Problem(409, 'no_pending_enrolment', 'Start the enrolment first.');
  const secret = openTotpSecret(ctx, user.id, user.totpPendingSecret);
  const check = checkTotp(secret, code, null);
  if (!check.ok) {
    await appendAudit(ctx.db, userActor(user, meta), { action: '2fa.enrol', target: user.email, outcome: 'failure', details: { reason: 'invalid_code' } });
    throw new Problem(422, 'invalid_code', 'That code is not valid. Check the time on your device and try the next code.', {
      errors: [{ path: 'code', message: 'is not valid' }],
    });
  }
  const codes = await ctx.db.transaction(async (tx) => {
    await tx
      .update(users)
      .set({ totpSecret: user.totpPendingSecret, totpPendingSecret: null, totpEnabled: true, totpLastStep: check.step, mustEnrol2fa: false, updatedAt: new Date() })
      .where(eq(users.id, user.id));
    return replaceRecoveryCodes(tx, user.id);
  });
  await appendAudit(ctx.db, userActor(user, meta), { action: '2fa.enabled', target: user.email, details: { recoveryCodes: codes.length } });
  return codes;
}

/** Check a current TOTP code for a signed-in user (for sensitive changes). */
export async function requireCurrentCode(ctx: AuthContext, user: UserRow, code: string, meta: RequestMeta): Promise<void> {
  if (!user.totpEnabled || !user.totpSecret) throw new Problem(409, 'totp_not_enabled', 'Two-factor authentication is not enabled.');
  const check = checkTotp(openTotpSecret(ctx, user.id, user.totpSecret), code, user.totpLastStep);
  if (!check.ok) {
    await failAttempt(ctx, user.email, meta, 'auth.totp', check.reason === 'replayed' ? 'replayed_code' : 'invalid_code');
    throw new Problem(422, 'invalid_code', 'That code is not valid.', { errors: [{ path: 'code', message: 'is not valid' }] });
  }
  await ctx.db.update(users).set({ totpLastStep: check.step }).where(eq(users.id, user.id));
}

export async function regenerateRecoveryCodes(ctx: AuthContext, user: UserRow, code: string, meta: RequestMeta): Promise<string[]> {
  await requireCurrentCode(ctx, user, code, meta);
  const codes = await replaceRecoveryCodes(ctx.db, user.id);
  await appendAudit(ctx.db, userActor(user, meta), { action: '2fa.recovery_codes_regenerated', target: user.email });
  return codes;
}

export async function disableTotp(ctx: AuthContext, user: UserRow, password: string, code: string, meta: RequestMeta): Promise<void> {
  if ((await getSettings(ctx.db)).require2fa)
    throw new Problem(409, 'two_factor_required', 'This workspace requires two-factor authentication; it cannot be turned off.');
  if (!(await verifyPassword(user.passwordHash, password))) {
    await failAttempt(ctx, user.email, meta, '2fa.disable', 'bad_password');
    throw new Problem(422, 'invalid_password', 'The password is not correct.', { errors: [{ path: 'password', message: 'is not correct' }] });
  }
  await requireCurrentCode(ctx, user, code, meta);
  await ctx.db.update(users).set({ totpEnabled: false, totpSecret: null, totpLastStep: null, updatedAt: new Date() }).where(eq(users.id, user.id));
  await ctx.db.delete(recoveryCodes).where(eq(recoveryCodes.userId, user.id));
  await appendAudit(ctx.db, userActor(user, meta), { action: '2fa.disabled', target: user.email });
}
