// Administration of staff accounts and API keys.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { appendAudit } from '../audit/service.ts';
import type { ServerDeps } from '../http/server.ts';
import { fieldError, notFound } from '../http/problem.ts';
import { createApiKey, isValidIpRule, listApiKeys, revokeApiKey, type ApiKeyRow } from './api-keys.ts';
import { apiKeyScopes, permissions } from './permissions.ts';
import { actorOf, currentUser } from './request-auth.ts';
import { roles } from './schema.ts';
import { revokeUserSessions } from './sessions.ts';
import { createUser, emailSchema, getUser, listUsers, resetTwoFactor, unlockUser, updateUser } from './users.ts';

const userOut = z.object({
  id: z.number(),
  email: z.string(),
  name: z.string(),
  role: z.enum(roles),
  totpEnabled: z.boolean(),
  lockedUntil: z.date().nullable(),
  disabled: z.boolean(),
  lastLoginAt: z.date().nullable(),
  createdAt: z.date(),
});
const idParams = z.object({ id: z.coerce.number().int().positive() });

const apiKeyOut = z.object({
  id: z.number(),
  name: z.string(),
  prefix: z.string(),
  scopes: z.array(z.string()),
  expiresAt: z.date().nullable(),
  allowedIps: z.array(z.string()),
  lastUsedAt: z.date().nullable(),
  lastUsedIp: z.string().nullable(),
  revokedAt: z.date().nullable(),
  createdAt: z.date(),
  createdBy: z.number().nullable(),
});
const keyOut = (k: ApiKeyRow) => ({ ...k, secretHash: undefined });

export function adminRoutes(base: FastifyInstance, deps: ServerDeps) {
  const app = base.withTypeProvider<ZodTypeProvider>();
  const db = deps.database.db;

  app.get('/api/users', { config: { guard: 'users:manage' }, schema: { tags: ['users'], response: { 200: z.array(userOut) } } }, async () => {
    const rows = await listUsers(db);
    return rows.map(({ user, lockedUntil }) => ({
      ...user,
      lockedUntil: lockedUntil && lockedUntil.getTime() > Date.now() ? lockedUntil : null,
    }));
  });

  app.post(
    '/api/users',
    {
      config: { guard: 'users:manage' },
      schema: {
        tags: ['users'],
        body: z.object({ email: emailSchema, name: z.string().trim().min(1).max(200), role: z.enum(roles), password: z.string().max(1024) }),
        response: { 201: userOut },
      },
    },
    async (req, reply) => {
      const me = currentUser(req).user;
      if (req.body.role === 'owner' && me.role !== 'owner') throw fieldError('role', 'owner can only be given by an owner');
      const user = await createUser(db, actorOf(req), req.body);
      return reply.code(201).send({ ...user, lockedUntil: null });
    },
  );

  app.patch(
    '/api/users/:id',
    {
      config: { guard: 'users:manage' },
      schema: {
        tags: ['users'],
        params: idParams,
        body: z.object({ name: z.string().trim().min(1).max(200).optional(), role: z.enum(roles).optional(), disabled: z.boolean().optional() }),
        response: { 200: userOut },
      },
    },
    async (req) => {
      const me = currentUser(req).user;
      const user = await updateUser(db, { ...actorOf(req), role: me.role, userId: me.id }, req.params.id, req.body);
      return { ...user, lockedUntil: null };
    },
  );

  app.post('/api/users/:id/unlock', { config: { guard: 'users:manage' }, schema: { tags: ['users'], params: idParams, response: { 200: z.object({ unlocked: z.boolean() }) } } }, async (req) => {
    const user = await getUser(db, req.params.id);
    return { unlocked: await unlockUser(db, actorOf(req), user.email) };
  });

  app.post('/api/users/:id/reset-2fa', { config: { guard: 'users:manage' }, schema: { tags: ['users'], params: idParams, response: { 204: z.null() } } }, async (req, reply) => {
    await resetTwoFactor(db, actorOf(req), req.params.id);
    return reply.code(204).send(null);
  });

  app.post(
    '/api/users/:id/revoke-sessions',
    { config: { guard: 'users:manage' }, schema: { tags: ['users'], params: idParams, response: { 200: z.object({ revoked: z.number() }) } } },
    async (req) => {
      const user = await getUser(db, req.params.id);
      const revoked = await revokeUserSessions(db, user.id);
      await appendAudit(db, actorOf(req), { action: 'session.revoked_all', target: user.email, details: { revoked } });
      return { revoked };
    },
  );

  app.get(
    '/api/api-keys/scopes',
    { config: { guard: 'apikeys:manage' }, schema: { tags: ['api-keys'], response: { 200: z.array(z.object({ scope: z.string(), description: z.string() })) } } },
    async () => apiKeyScopes.map((scope) => ({ scope, description: permissions[scope] })),
  );

  app.get('/api/api-keys', { config: { guard: 'apikeys:manage' }, schema: { tags: ['api-keys'], response: { 200: z.array(apiKeyOut) } } }, async () =>
    (await listApiKeys(db)).map(keyOut),
  );

  app.post(
    '/api/api-keys',
    {
      config: { guard: 'apikeys:manage' },
      schema: {
        tags: ['api-keys'],
        body: z.object({
          name: z.string().trim().min(1).max(100),
          scopes: z.array(z.enum(apiKeyScopes)).min(1),
          expiresAt: z.iso.datetime({ offset: true }).nullable().optional(),
          allowedIps: z.array(z.string().trim().refine(isValidIpRule, 'must be an IP address or CIDR range')).max(100).default([]),
        }),
        response: { 201: z.object({ apiKey: apiKeyOut, secret: z.string() }) },
      },
    },
    async (req, reply) => {
      const expiresAt = req.body.expiresAt ? new Date(req.body.expiresAt) : null;
      if (expiresAt && expiresAt.getTime() <= Date.now()) throw fieldError('expiresAt', 'must be in the future');
      const { apiKey, secret } = await createApiKey(db, {
        name: req.body.name,
        scopes: [...new Set(req.body.scopes)],
        expiresAt,
        allowedIps: req.body.allowedIps,
        createdBy: currentUser(req).user.id,
      });
      await appendAudit(db, actorOf(req), {
        action: 'apikey.created',
        target: `${apiKey.name} (${apiKey.prefix})`,
        details: { id: apiKey.id, scopes: apiKey.scopes, expiresAt: apiKey.expiresAt?.toISOString() ?? null, allowedIps: apiKey.allowedIps },
      });
      return reply.code(201).send({ apiKey: keyOut(apiKey), secret });
    },
  );

  app.delete('/api/api-keys/:id', { config: { guard: 'apikeys:manage' }, schema: { tags: ['api-keys'], params: idParams, response: { 204: z.null() } } }, async (req, reply) => {
    const key = await revokeApiKey(db, req.params.id);
    if (!key) throw notFound('API key');
    await appendAudit(db, actorOf(req), { action: 'apikey.revoked', target: `${key.name} (${key.prefix})`, details: { id: key.id } });
    return reply.code(204).send(null);
  });
}
