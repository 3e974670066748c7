// Setup, sign-in, second factor, and the signed-in user's own account.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ServerDeps } from '../http/server.ts';
import { Problem } from '../http/problem.ts';
import { appendAudit } from '../audit/service.ts';
import { permissionsOf } from './permissions.ts';
import { actorOf, currentUser, requestMeta } from './request-auth.ts';
import { roles } from './schema.ts';
import {
  type AuthContext,
  confirmEnrolment,
  disableTotp,
  login,
  regenerateRecoveryCodes,
  startEnrolment,
  verifySecondFactor,
} from './service.ts';
import { createSession, CSRF_COOKIE, listUserSessions, revokeSession, revokeUserSessions, resolveSession, SESSION_COOKIE, type SessionRow, type UserRow } from './sessions.ts';
import { changePassword, createFirstOwner, emailSchema, needsSetup } from './users.ts';
import { verifyPassword } from './passwords.ts';
import { and, eq, isNull } from 'drizzle-orm';
import { sessions } from './schema.ts';

export const meSchema = z.object({
  id: z.number(),
  email: z.string(),
  name: z.string(),
  role: z.enum(roles),
  totpEnabled: z.boolean(),
  mustEnrol2fa: z.boolean(),
  permissions: z.array(z.string()),
});

export function meOf(user: UserRow, session?: SessionRow) {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    role: user.role,
    totpEnabled: user.totpEnabled,
    mustEnrol2fa: session?.stage === 'enrol_pending' || (user.mustEnrol2fa && !user.totpEnabled),
    permissions: permissionsOf(user.role),
  };
}

const loginBody = z.object({ email: z.string().min(1).max(254), password: z.string().min(1).max(1024) });
const loginReply = z.object({ status: z.enum(['ok', 'totp_required', 'enrol_required']), user: meSchema.optional() });
const strictLimit = { max: 20, timeWindow: '1 minute' };

export function authRoutes(base: FastifyInstance, deps: ServerDeps) {
  const app = base.withTypeProvider<ZodTypeProvider>();
  const db = deps.database.db;
  const ctx: AuthContext = { db, totpKey: deps.totpKey };
  const secure = deps.config.secureCookies;

  const setSessionCookies = (reply: FastifyReply, token: string, session: SessionRow) => {
    const expires = session.expiresAt;
    reply.setCookie(SESSION_COOKIE, token, { path: '/', httpOnly: true, sameSite: 'lax', secure, expires });
    // Readable by the console's scripts, which echo it in X-CSRF-Token.
    reply.setCookie(CSRF_COOKIE, session.csrfToken, { path: '/', httpOnly: false, sameSite: 'lax', secure, expires });
  };
  const clearSessionCookies = (reply: FastifyReply) => {
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    reply.clearCookie(CSRF_COOKIE, { path: '/' });
  };

  app.get('/api/setup/status', { config: { guard: 'public' }, schema: { tags: ['auth'], response: { 200: z.object({ needsSetup: z.boolean() }) } } }, async () => ({
    needsSetup: await needsSetup(db),
  }));

  app.post(
    '/api/setup',
    {
      config: { guard: 'public', rateLimit: strictLimit },
      schema: {
        tags: ['auth'],
        summary: 'Create the first owner (only while no user exists) and sign in',
        body: z.object({ email: emailSchema, name: z.string().trim().min(1).max(200), password: z.string().max(1024) }),
        response: { 200: loginReply },
      },
    },
    async (req, reply) => {
      const meta = requestMeta(req);
      const user = await createFirstOwner(db, { type: 'anonymous', label: req.body.email, ...meta }, req.body);
      const result = await login(ctx, req.body.email, req.body.password, meta);
      setSessionCookies(reply, result.token, result.session);
      return { status: result.status, user: meOf(user, result.session) };
    },
  );

  app.post(
    '/api/auth/login',
    { config: { guard: 'public', rateLimit: { max: 60, timeWindow: '1 minute' } }, schema: { tags: ['auth'], body: loginBody, response: { 200: loginReply } } },
    async (req, reply) => {
      // A sign-in always starts a new session: any existing one is ended (fixation).
      const old = req.cookies[SESSION_COOKIE];
      if (old) {
        const existing = await resolveSession(db, old);
        if (existing) await revokeSession(db, existing.session.id);
      }
      const result = await login(ctx, req.body.email, req.body.password, requestMeta(req));
      setSessionCookies(reply, result.token, result.session);
      return { status: result.status, user: result.status === 'totp_required' ? undefined : meOf(result.user, result.session) };
    },
  );

  app.post(
    '/api/auth/totp',
    {
      config: { guard: 'public', rateLimit: strictLimit },
      schema: {
        tags: ['auth'],
        summary: 'Complete sign-in with a TOTP code or a recovery code',
        body: z.union([z.object({ code: z.string().min(6).max(12) }), z.object({ recoveryCode: z.string().min(8).max(32) })]),
        response: { 200: loginReply },
      },
    },
    async (req, reply) => {
      const token = req.cookies[SESSION_COOKIE];
      const pending = token ? await resolveSession(db, token) : null;
      if (!pending) throw new Problem(401, 'unauthorized', 'Sign in with your password first.');
      const body = req.body as { code?: string; recoveryCode?: string };
      const result = await verifySecondFactor(ctx, pending, body, requestMeta(req));
      setSessionCookies(reply, result.token, result.session);
      return { status: 'ok' as const, user: meOf(result.user, result.session) };
    },
  );

  app.post('/api/auth/logout', { config: { guard: 'pending' }, schema: { tags: ['auth'], response: { 204: z.null() } } }, async (req, reply) => {
    const { session, user } = currentUser(req);
    await revokeSession(db, session.id);
    await appendAudit(db, actorOf(req), { action: 'auth.logout', target: user.email });
    clearSessionCookies(reply);
    return reply.code(204).send(null);
  });

  app.get('/api/me', { config: { guard: 'pending' }, schema: { tags: ['account'], response: { 200: meSchema } } }, async (req) => {
    const { user, session } = currentUser(req);
    return meOf(user, session);
  });

  app.post(
    '/api/me/2fa/enrol',
    { config: { guard: 'pending' }, schema: { tags: ['account'], response: { 200: z.object({ secret: z.string(), otpauthUrl: z.string(), qrDataUrl: z.string() }) } } },
    async (req) => startEnrolment(ctx, currentUser(req).user),
  );

  app.post(
    '/api/me/2fa/confirm',
    {
      config: { guard: 'pending', rateLimit: strictLimit },
      schema: { tags: ['account'], body: z.object({ code: z.string().min(6).max(12) }), response: { 200: z.object({ recoveryCodes: z.array(z.string()) }) } },
    },
    async (req, reply) => {
      const { user, session } = currentUser(req);
      const codes = await confirmEnrolment(ctx, user, req.body.code, requestMeta(req));
      if (session.stage === 'enrol_pending') {
        // Enrolment completes the sign-in: a new session id for the raised privilege.
        await revokeSession(db, session.id);
        const fresh = await createSession(db, user.id, 'full', requestMeta(req));
        setSessionCookies(reply, fresh.token, fresh.session);
      }
      return { recoveryCodes: codes };
    },
  );

  app.post(
    '/api/me/2fa/recovery-codes',
    { config: { guard: 'signed-in', rateLimit: strictLimit }, schema: { tags: ['account'], body: z.object({ code: z.string().min(6).max(12) }), response: { 200: z.object({ recoveryCodes: z.array(z.string()) }) } } },
    async (req) => ({ recoveryCodes: await regenerateRecoveryCodes(ctx, currentUser(req).user, req.body.code, requestMeta(req)) }),
  );

  app.post(
    '/api/me/2fa/disable',
    { config: { guard: 'signed-in', rateLimit: strictLimit }, schema: { tags: ['account'], body: z.object({ password: z.string().max(1024), code: z.string().min(6).max(12) }), response: { 204: z.null() } } },
    async (req, reply) => {
      await disableTotp(ctx, currentUser(req).user, req.body.password, req.body.code, requestMeta(req));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/me/password',
    {
      config: { guard: 'signed-in', rateLimit: strictLimit },
      schema: { tags: ['account'], body: z.object({ currentPassword: z.string().max(1024), newPassword: z.string().max(1024) }), response: { 204: z.null() } },
    },
    async (req, reply) => {
      const { user, session } = currentUser(req);
      if (!(await verifyPassword(user.passwordHash, req.body.currentPassword))) {
        await appendAudit(db, actorOf(req), { action: 'user.password_changed', target: user.email, outcome: 'failure', details: { reason: 'bad_current_password' } });
        throw new Problem(422, 'invalid_password', 'The current password is not correct.', { errors: [{ path: 'currentPassword', message: 'is not correct' }] });
      }
      await changePassword(db, actorOf(req), user, req.body.newPassword, session.id);
      return reply.code(204).send(null);
    },
  );

  const sessionOut = z.object({ id: z.string(), createdAt: z.date(), lastSeenAt: z.date(), ip: z.string().nullable(), userAgent: z.string().nullable(), current: z.boolean() });
  app.get('/api/me/sessions', { config: { guard: 'signed-in' }, schema: { tags: ['account'], response: { 200: z.array(sessionOut) } } }, async (req) => {
    const { user, session } = currentUser(req);
    const list = await listUserSessions(db, user.id);
    return list.map((s) => ({ id: s.handle, createdAt: s.createdAt, lastSeenAt: s.lastSeenAt, ip: s.ip, userAgent: s.userAgent, current: s.id === session.id }));
  });

  app.delete(
    '/api/me/sessions/:id',
    { config: { guard: 'signed-in' }, schema: { tags: ['account'], params: z.object({ id: z.string().max(64) }), response: { 204: z.null() } } },
    async (req, reply) => {
      const { user } = currentUser(req);
      const r = await db
        .update(sessions)
        .set({ revokedAt: new Date() })
        .where(and(eq(sessions.handle, req.params.id), eq(sessions.userId, user.id), isNull(sessions.revokedAt)))
        .returning({ id: sessions.id });
      if (r.length === 0) throw new Problem(404, 'not_found', 'Session not found.');
      await appendAudit(db, actorOf(req), { action: 'session.revoked', target: user.email, details: { session: req.params.id } });
      return reply.code(204).send(null);
    },
  );

  app.post('/api/me/sessions/revoke-others', { config: { guard: 'signed-in' }, schema: { tags: ['account'], response: { 200: z.object({ revoked: z.number() }) } } }, async (req) => {
    const { user, session } = currentUser(req);
    const revoked = await revokeUserSessions(db, user.id, session.id);
    await appendAudit(db, actorOf(req), { action: 'session.revoked_others', target: user.email, details: { revoked } });
    return { revoked };
  });
}
