import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type Actor, appendAudit } from '../audit/service.ts';
import { actorOf } from '../auth/request-auth.ts';
import type { ServerDeps } from '../http/server.ts';
import { notFound } from '../http/problem.ts';
import { getRotation, runRotation, startFieldKeyRotation } from './rotation.ts';
import { attributeTypes, suppressionReasons } from './schema.ts';
import * as svc from './service.ts';
import { normaliseEmail } from './normalize.ts';
import { dataKeyRows } from './vault.ts';
import { numParams } from './routes-common.ts';

export function organisationRoutes(base: FastifyInstance, deps: ServerDeps) {
  const app = base.withTypeProvider<ZodTypeProvider>();
  const db = deps.database.db;
  const vault = deps.vault;

  // --- companies -------------------------------------------------------------
  const companyOut = z.object({
    id: z.number(),
    name: z.string(),
    domain: z.string().nullable(),
    attributes: z.record(z.string(), z.unknown()),
    createdAt: z.date(),
  });
  const companyIn = z.object({
    name: z.string().trim().min(1).max(200),
    domain: z.string().trim().max(253).nullable().optional(),
    attributes: z.record(z.string(), z.unknown()).optional(),
  });
  app.get(
    '/api/companies',
    {
      config: { guard: 'contacts:read' },
      schema: { tags: ['companies'], response: { 200: z.array(companyOut) } },
    },
    async () => svc.listCompanies(db),
  );
  app.post(
    '/api/companies',
    {
      config: { guard: 'contacts:write' },
      schema: { tags: ['companies'], body: companyIn, response: { 201: companyOut } },
    },
    async (req, reply) => reply.code(201).send(await svc.createCompany(db, req.body)),
  );
  app.patch(
    '/api/companies/:id',
    {
      config: { guard: 'contacts:write' },
      schema: {
        tags: ['companies'],
        params: numParams,
        body: companyIn.partial(),
        response: { 200: companyOut },
      },
    },
    async (req) => svc.updateCompany(db, req.params.id, req.body),
  );
  app.delete(
    '/api/companies/:id',
    {
      config: { guard: 'contacts:write' },
      schema: { tags: ['companies'], params: numParams, response: { 204: z.null() } },
    },
    async (req, reply) => {
      await svc.deleteCompany(db, req.params.id);
      return reply.code(204).send(null);
    },
  );

  // --- lists -----------------------------------------------------------------
  const listOut = z.object({
    id: z.number(),
    name: z.string(),
    description: z.string().nullable(),
    members: z.number(),
    createdAt: z.date(),
  });
  app.get(
    '/api/lists',
    { config: { guard: 'contacts:read' }, schema: { tags: ['lists'], response: { 200: z.array(listOut) } } },
    async () => (await svc.listLists(db)).map((l) => ({ ...l, createdAt: new Date(l.createdAt) })),
  );
  app.post(
    '/api/lists',
    {
      config: { guard: 'contacts:write' },
      schema: {
        tags: ['lists'],
        body: z.object({
          name: z.string().trim().min(1).max(200),
          description: z.string().max(1000).nullable().optional(),
        }),
        response: { 201: listOut },
      },
    },
    async (req, reply) => reply.code(201).send({ ...(await svc.createList(db, req.body)), members: 0 }),
  );
  app.delete(
    '/api/lists/:id',
    {
      config: { guard: 'contacts:write' },
      schema: { tags: ['lists'], params: numParams, response: { 204: z.null() } },
    },
    async (req, reply) => {
      await svc.deleteList(db, req.params.id);
      return reply.code(204).send(null);
    },
  );
  app.post(
    '/api/lists/:id/members',
    {
      config: { guard: 'contacts:write' },
      schema: {
        tags: ['lists'],
        params: numParams,
        body: z.object({ contactIds: z.array(z.uuid()).min(1).max(1000) }),
        response: { 200: z.object({ added: z.number() }) },
      },
    },
    async (req) => ({ added: await svc.addListMembers(db, req.params.id, req.body.contactIds) }),
  );
  app.delete(
    '/api/lists/:id/members/:contactId',
    {
      config: { guard: 'contacts:write' },
      schema: {
        tags: ['lists'],
        params: z.object({ id: z.coerce.number().int().positive(), contactId: z.uuid() }),
        response: { 204: z.null() },
      },
    },
    async (req, reply) => {
      await svc.removeListMember(db, req.params.id, req.params.contactId);
      return reply.code(204).send(null);
    },
  );

  // --- attribute definitions ------------------------------------------------
  const attrOut = z.object({
    key: z.string(),
    label: z.string(),
    type: z.enum(attributeTypes),
    options: z.array(z.string()),
    sensitive: z.boolean(),
  });
  app.get(
    '/api/contact-attributes',
    {
      config: { guard: 'contacts:read' },
      schema: { tags: ['contacts'], response: { 200: z.array(attrOut) } },
    },
    async () => svc.listAttributeDefs(db),
  );
  app.post(
    '/api/contact-attributes',
    {
      config: { guard: 'contacts:write' },
      schema: {
        tags: ['contacts'],
        body: z.object({
          key: z
            .string()
            .regex(/^[a-z][a-z0-9_]{0,62}$/, 'must be lower-case letters, digits and _')
            .refine(
              (k) => !['email', 'firstName', 'lastName', 'phone', 'country', 'timeZone', 'notes'].includes(k),
              'is a core field',
            ),
          label: z.string().trim().min(1).max(100),
          type: z.enum(attributeTypes),
          options: z.array(z.string().min(1).max(100)).max(100).optional(),
          sensitive: z.boolean().default(false),
        }),
        response: { 201: attrOut },
      },
    },
    async (req, reply) => {
      const row = await svc.createAttributeDef(db, req.body);
      await appendAudit(db, actorOf(req), {
        action: 'contacts.attribute_defined',
        target: row.key,
        details: { type: row.type, sensitive: row.sensitive },
      });
      return reply.code(201).send(row);
    },
  );
  app.delete(
    '/api/contact-attributes/:key',
    {
      config: { guard: 'contacts:write' },
      schema: {
        tags: ['contacts'],
        params: z.object({ key: z.string().max(63) }),
        response: { 204: z.null() },
      },
    },
    async (req, reply) => {
      await svc.deleteAttributeDef(db, req.params.key);
      return reply.code(204).send(null);
    },
  );

  // --- suppression ------------------------------------------------------------
  app.post(
    '/api/suppressions',
    {
      config: { guard: 'contacts:write' },
      schema: {
        tags: ['contacts'],
        body: z.object({
          email: z.string().max(320),
          reason: z.enum(suppressionReasons).default('manual'),
          note: z.string().max(500).optional(),
        }),
        response: { 201: z.object({ suppressed: z.boolean() }) },
      },
    },
    async (req, reply) => {
      const e = normaliseEmail(req.body.email);
      if (!e.ok) throw notFound('Valid email address');
      await svc.suppress(db, await vault.keyring(), e.value, req.body.reason, req.body.note);
      await appendAudit(db, actorOf(req), {
        action: 'contacts.suppressed',
        target: 'suppression list',
        details: { reason: req.body.reason },
      });
      return reply.code(201).send({ suppressed: true });
    },
  );
  app.get(
    '/api/suppressions/check',
    {
      config: { guard: 'contacts:read' },
      schema: {
        tags: ['contacts'],
        querystring: z.object({ email: z.string().max(320) }),
        response: { 200: z.object({ suppressed: z.boolean(), reason: z.string().nullable() }) },
      },
    },
    async (req) => {
      const e = normaliseEmail(req.query.email);
      if (!e.ok) return { suppressed: false, reason: null };
      const reason = await svc.isSuppressed(db, await vault.keyring(), e.value);
      return { suppressed: reason !== null, reason };
    },
  );

  // --- keys --------------------------------------------------------------------
  const rotationOut = z
    .object({
      id: z.number(),
      fromVersion: z.number(),
      toVersion: z.number(),
      state: z.string(),
      total: z.number(),
      done: z.number(),
      error: z.string().nullable(),
      startedAt: z.date(),
      finishedAt: z.date().nullable(),
    })
    .nullable();
  app.get(
    '/api/keys',
    {
      config: { guard: 'settings:manage' },
      schema: {
        tags: ['keys'],
        response: {
          200: z.object({
            keys: z.array(
              z.object({
                purpose: z.string(),
                version: z.number(),
                state: z.string(),
                masterKeyId: z.string(),
                createdAt: z.date(),
              }),
            ),
            masterKeyId: z.string(),
            rotation: rotationOut,
          }),
        },
      },
    },
    async () => ({
      keys: (await dataKeyRows(db)).map(({ wrappedKey: _w, workspaceId: _ws, ...k }) => k),
      masterKeyId: vault.provider.id,
      rotation: await getRotation(db),
    }),
  );
  app.post(
    '/api/keys/rotate',
    { config: { guard: 'settings:manage' }, schema: { tags: ['keys'], response: { 202: rotationOut } } },
    async (req, reply) => {
      const actor: Actor = actorOf(req);
      const rotation = await startFieldKeyRotation(db, vault, actor);
      // Swept in this process; a restart resumes it (resumeRotationJobs).
      void runRotation(db, vault, actor, rotation.id).catch(async (err) => {
        req.log.error({ err }, 'key rotation sweep failed');
      });
      return reply.code(202).send(rotation);
    },
  );
}
