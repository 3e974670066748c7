// Segment routes: CRUD, live count (the builder posts the unsaved rule),
// masked sample, EXPLAIN (admins), freeze as list.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { appendAudit } from '../audit/service.ts';
import { actorOf } from '../auth/request-auth.ts';
import { maskContacts } from '../contacts/masking.ts';
import { viewOf } from '../contacts/routes.ts';
import { listAttributeDefs } from '../contacts/service.ts';
import { forbidden } from '../http/problem.ts';
import type { ServerDeps } from '../http/server.ts';
import { describeRule, segmentRuleSchema } from './rules.ts';
import * as svc from './service.ts';

const idParams = z.object({ id: z.coerce.number().int().positive() });
const segmentIn = z.object({
  name: z.string().min(1).max(200),
  description: z.string().max(2000).nullable().optional(),
  rule: segmentRuleSchema,
});
const segmentOut = z.object({
  id: z.number(),
  name: z.string(),
  description: z.string().nullable(),
  rule: z.unknown(),
  summary: z.string(),
  createdAt: z.date(),
  updatedAt: z.date(),
});
const countsOut = z.object({
  matched: z.number(),
  eligible: z.number(),
  excluded: z.object({
    suppressed: z.number(),
    unsubscribed: z.number(),
    pending: z.number(),
    noConsent: z.number(),
  }),
  /** Email domains matched by blind-index bucket (too many contacts to decrypt live): the count is an upper bound for them; sample, freeze and launch are exact. */
  approximateDomains: z.array(z.string()),
});

const present = (s: svc.Segment) => ({
  id: s.id,
  name: s.name,
  description: s.description,
  rule: s.rule,
  summary: describeRule(s.rule),
  createdAt: s.createdAt,
  updatedAt: s.updatedAt,
});

export function segmentRoutes(base: FastifyInstance, deps: ServerDeps) {
  const app = base.withTypeProvider<ZodTypeProvider>();
  const db = deps.database.db;
  const vault = deps.vault;
  const tags = ['segments'];

  app.get(
    '/api/segments',
    {
      config: { guard: 'segments:manage' },
      schema: { tags, response: { 200: z.object({ items: z.array(segmentOut) }) } },
    },
    async () => ({
      items: (await svc.listSegments(db)).map(present),
    }),
  );

  app.post(
    '/api/segments',
    {
      config: { guard: 'segments:manage' },
      schema: { tags, body: segmentIn, response: { 201: segmentOut } },
    },
    async (req, reply) => {
      const s = await svc.createSegment(db, await vault.keyring(), actorOf(req), req.body);
      return reply.code(201).send(present(s));
    },
  );

  app.get(
    '/api/segments/:id',
    {
      config: { guard: 'segments:manage' },
      schema: { tags, params: idParams, response: { 200: segmentOut } },
    },
    async (req) => present(await svc.getSegment(db, req.params.id)),
  );

  app.patch(
    '/api/segments/:id',
    {
      config: { guard: 'segments:manage' },
      schema: { tags, params: idParams, body: segmentIn.partial(), response: { 200: segmentOut } },
    },
    async (req) =>
      present(await svc.updateSegment(db, await vault.keyring(), actorOf(req), req.params.id, req.body)),
  );

  app.delete(
    '/api/segments/:id',
    { config: { guard: 'segments:manage' }, schema: { tags, params: idParams } },
    async (req, reply) => {
      await svc.deleteSegment(db, actorOf(req), req.params.id);
      return reply.code(204).send();
    },
  );

  /** What the rule builder offers (attributes, tags, lists, campaigns, consent purposes). */
  app.get(
    '/api/segments/options',
    {
      config: { guard: 'segments:manage' },
      schema: {
        tags,
        response: {
          200: z.object({
            attributes: z.array(
              z.object({
                key: z.string(),
                label: z.string(),
                type: z.string(),
                options: z.array(z.string()),
              }),
            ),
            tags: z.array(z.string()),
            lists: z.array(z.object({ id: z.number(), name: z.string() })),
            campaigns: z.array(z.object({ id: z.number(), name: z.string() })),
            purposes: z.array(z.string()),
          }),
        },
      },
    },
    async () => svc.builderOptions(db),
  );

  /** Live count of an unsaved rule (the builder calls this, debounced). */
  app.post(
    '/api/segments/count',
    {
      config: { guard: 'segments:manage' },
      schema: { tags, body: z.object({ rule: segmentRuleSchema }), response: { 200: countsOut } },
    },
    async (req) => svc.countSegmentLive(db, await vault.keyring(), req.body.rule),
  );

  /** Up to 20 eligible members, masked for the caller's role. */
  app.post(
    '/api/segments/sample',
    {
      config: { guard: 'segments:manage' },
      schema: {
        tags,
        body: z.object({ rule: segmentRuleSchema }),
        response: {
          200: z.object({
            items: z.array(
              z.object({
                id: z.string(),
                email: z.string().nullable(),
                firstName: z.string().nullable(),
                lastName: z.string().nullable(),
                tags: z.array(z.string()),
                maskedFields: z.array(z.string()),
              }),
            ),
          }),
        },
      },
    },
    async (req) => {
      const kr = await vault.keyring();
      const list = await svc.sampleSegment(db, kr, req.body.rule, 20);
      const { toPii } = await import('../contacts/service.ts');
      const masked = maskContacts(viewOf(req, await listAttributeDefs(db)), list.map(toPii));
      if (masked.beyondOwnershipIds.length > 0)
        await appendAudit(db, actorOf(req), {
          action: 'contacts.unmasked_read',
          target: 'POST /api/segments/sample',
          details: {
            count: masked.beyondOwnershipIds.length,
            contactIds: masked.beyondOwnershipIds,
            fields: masked.unmaskedFields,
            viaUnmaskPermission: masked.usedUnmaskPermission,
          },
        });
      return {
        items: masked.contacts.map((m, i) => ({
          id: m.id,
          email: m.email,
          firstName: m.firstName,
          lastName: m.lastName,
          tags: list[i].tags,
          maskedFields: m.maskedFields,
        })),
      };
    },
  );

  /** The EXPLAIN plan of the count (owners and admins). */
  app.post(
    '/api/segments/explain',
    {
      config: { guard: 'segments:manage' },
      schema: {
        tags,
        body: z.object({ rule: segmentRuleSchema }),
        response: { 200: z.object({ plan: z.string() }) },
      },
    },
    async (req) => {
      const p = req.principal;
      if (p?.kind !== 'user' || (p.user.role !== 'admin' && p.user.role !== 'owner'))
        throw forbidden('Only admins can see query plans.');
      return { plan: await svc.explainSegment(db, await vault.keyring(), req.body.rule) };
    },
  );

  app.post(
    '/api/segments/:id/freeze',
    {
      config: { guard: 'segments:manage' },
      schema: {
        tags,
        params: idParams,
        body: z.object({ listName: z.string().min(1).max(200) }),
        response: { 200: z.object({ listId: z.number(), members: z.number() }) },
      },
    },
    async (req) =>
      svc.freezeSegment(db, await vault.keyring(), actorOf(req), req.params.id, req.body.listName),
  );
}
