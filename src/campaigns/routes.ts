// Campaign routes: settings, sending domains + DKIM, campaigns, transitions,
// guardrail evaluation (the review step), and the approval queue.
import { resolveTxt } from 'node:dns/promises';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf, currentUser } from '../auth/request-auth.ts';
import { Problem } from '../http/problem.ts';
import type { ServerDeps } from '../http/server.ts';
import { listTemplates } from '../templates/service.ts';
import { senderOf } from '../templates/routes.ts';
import { campaignStates } from './schema.ts';
import * as svc from './service.ts';

const idParams = z.object({ id: z.coerce.number().int().positive() });
const schedule = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('now') }),
  z.object({ mode: z.literal('at'), at: z.iso.datetime({ offset: true }) }),
  z.object({ mode: z.literal('local_time'), date: z.iso.date(), localTime: z.string().regex(/^\d{2}:\d{2}$/), fallbackTimeZone: z.string().min(1).max(64).default('UTC') }),
]);
const campaignIn = z.object({
  name: z.string().min(1).max(200),
  templateId: z.number().int().positive().nullable().optional(),
  segmentId: z.number().int().positive().nullable().optional(),
  sendingDomainId: z.number().int().positive().nullable().optional(),
  fromName: z.string().max(200).optional(),
  fromLocalPart: z.string().regex(/^[A-Za-z0-9._+-]{1,64}$/).optional(),
  replyTo: z.email().nullable().optional(),
  tracking: z.boolean().optional(),
  schedule: schedule.optional(),
});
const guardrailOut = z.object({ id: z.string(), title: z.string(), status: z.enum(['pass', 'fail', 'needs_approval']), detail: z.string(), data: z.record(z.string(), z.unknown()).optional() });
const campaignOut = z.object({
  id: z.number(),
  name: z.string(),
  state: z.enum(campaignStates),
  templateId: z.number().nullable(),
  segmentId: z.number().nullable(),
  sendingDomainId: z.number().nullable(),
  fromName: z.string(),
  fromLocalPart: z.string(),
  replyTo: z.string().nullable(),
  tracking: z.boolean(),
  schedule: z.record(z.string(), z.unknown()),
  authorUserId: z.number().nullable(),
  approvedByUserId: z.number().nullable(),
  approvedAt: z.date().nullable(),
  guardrails: z.array(guardrailOut).nullable(),
  recipientCount: z.number().nullable(),
  launchedAt: z.date().nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
});
const patternIn = z.object({ name: z.string().min(1).max(100), pattern: z.string().min(1).max(300), flags: z.string().max(4).optional() });

/** DNS lookups for domain verification; tests replace it. */
export const dns: { resolveTxt: svc.TxtResolver } = { resolveTxt };

export function campaignRoutes(base: FastifyInstance, deps: ServerDeps) {
  const app = base.withTypeProvider<ZodTypeProvider>();
  const db = deps.database.db;
  const tags = ['campaigns'];
  const publicUrl = deps.config.publicUrl.replace(/\/$/, '');

  // --- settings --------------------------------------------------------------
  const settingsOut = z.object({ postalAddress: z.string().nullable(), blastRadius: z.number(), dlpPatterns: z.array(patternIn) });
  app.get('/api/campaign-settings', { config: { guard: 'campaigns:read' }, schema: { tags, response: { 200: settingsOut } } }, async () => svc.getSettings(db));
  app.put(
    '/api/campaign-settings',
    {
      config: { guard: 'settings:manage' },
      schema: { tags, body: z.object({ postalAddress: z.string().max(500).nullable().optional(), blastRadius: z.number().int().min(1).max(10_000_000).optional(), dlpPatterns: z.array(patternIn).max(100).optional() }), response: { 200: settingsOut } },
    },
    async (req) => svc.updateSettings(db, actorOf(req), req.body),
  );

  // --- sending domains ---------------------------------------------------------
  const domainOut = z.object({
    id: z.number(),
    domain: z.string(),
    verified: z.boolean(),
    verifiedAt: z.date().nullable(),
    dkim: z.array(z.object({ id: z.number(), selector: z.string(), algorithm: z.string(), state: z.string(), dnsName: z.string(), txt: z.string(), createdAt: z.date() })),
  });
  app.get('/api/sending-domains', { config: { guard: 'campaigns:read' }, schema: { tags, response: { 200: z.object({ items: z.array(domainOut) }) } } }, async () => ({
    items: (await svc.listDomains(db)).map(({ workspaceId: _w, createdAt: _c, ...d }) => d),
  }));
  app.post(
    '/api/sending-domains',
    { config: { guard: 'settings:manage' }, schema: { tags, body: z.object({ domain: z.string().regex(/^(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$/i) }), response: { 201: z.object({ id: z.number(), domain: z.string() }) } } },
    async (req, reply) => {
      const d = await svc.addDomain(db, actorOf(req), req.body.domain);
      return reply.code(201).send({ id: d.id, domain: d.domain });
    },
  );
  app.post(
    '/api/sending-domains/:id/dkim',
    {
      config: { guard: 'settings:manage' },
      schema: {
        tags,
        params: idParams,
        body: z.object({ algorithm: z.enum(['rsa', 'ed25519']).default('rsa'), selector: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/).optional() }),
        response: { 201: z.object({ id: z.number(), selector: z.string(), algorithm: z.string(), dnsName: z.string(), txt: z.string() }) },
      },
    },
    async (req, reply) => {
      if (!deps.dkimKey) throw new Problem(503, 'dkim_unavailable', 'The DKIM key-encryption key is not configured.');
      return reply.code(201).send(await svc.generateDkim(db, deps.dkimKey, actorOf(req), req.params.id, req.body.algorithm, req.body.selector));
    },
  );
  app.post(
    '/api/sending-domains/:id/verify',
    { config: { guard: 'settings:manage' }, schema: { tags, params: idParams, body: z.object({ force: z.boolean().default(false) }), response: { 200: z.object({ verified: z.boolean() }) } } },
    async (req) => {
      await svc.verifyDomain(db, actorOf(req), req.params.id, dns.resolveTxt, req.body.force);
      return { verified: true };
    },
  );

  // --- campaigns -------------------------------------------------------------
  app.get(
    '/api/campaigns',
    { config: { guard: 'campaigns:read' }, schema: { tags, querystring: z.object({ state: z.enum(campaignStates).optional() }), response: { 200: z.object({ items: z.array(campaignOut) }) } } },
    async (req) => ({ items: await svc.listCampaigns(db, req.query.state) }),
  );
  app.post('/api/campaigns', { config: { guard: 'campaigns:write' }, schema: { tags, body: campaignIn, response: { 201: campaignOut } } }, async (req, reply) => {
    const c = await svc.createCampaign(db, actorOf(req), currentUser(req).user.id, req.body);
    return reply.code(201).send(c);
  });
  app.get('/api/campaigns/:id', { config: { guard: 'campaigns:read' }, schema: { tags, params: idParams, response: { 200: campaignOut } } }, async (req) => svc.getCampaign(db, req.params.id));
  app.patch('/api/campaigns/:id', { config: { guard: 'campaigns:write' }, schema: { tags, params: idParams, body: campaignIn.partial(), response: { 200: campaignOut } } }, async (req) =>
    svc.updateCampaign(db, actorOf(req), req.params.id, req.body),
  );
  app.post(
    '/api/campaigns/:id/attachments',
    {
      config: { guard: 'campaigns:write' },
      schema: { tags, params: idParams, body: z.object({ filename: z.string().min(1).max(200), contentType: z.string().min(1).max(100), contentBase64: z.base64().max(700_000) }), response: { 201: z.object({ id: z.number() }) } },
    },
    async (req, reply) => {
      const id = await svc.addAttachment(db, actorOf(req), req.params.id, { filename: req.body.filename, contentType: req.body.contentType, content: Buffer.from(req.body.contentBase64, 'base64') });
      return reply.code(201).send({ id });
    },
  );

  /** The review step: every guardrail's result, without changing anything. */
  app.post('/api/campaigns/:id/guardrails', { config: { guard: 'campaigns:read' }, schema: { tags, params: idParams, response: { 200: z.object({ guardrails: z.array(guardrailOut) }) } } }, async (req) => {
    const c = await svc.getCampaign(db, req.params.id);
    return { guardrails: await svc.evaluateGuardrails(db, await deps.vault.keyring(), publicUrl, senderOf(req), c) };
  });

  const transitionOut = z.object({ campaign: campaignOut, guardrails: z.array(guardrailOut).optional() });
  const guards: Record<svc.Transition, 'campaigns:write' | 'campaigns:approve'> = {
    submit: 'campaigns:write',
    withdraw: 'campaigns:write',
    approve: 'campaigns:approve',
    reject: 'campaigns:approve',
    launch: 'campaigns:write',
    pause: 'campaigns:write',
    resume: 'campaigns:write',
    complete: 'campaigns:write',
    cancel: 'campaigns:write',
  };
  for (const [t, guard] of Object.entries(guards) as [svc.Transition, typeof guards.submit][]) {
    app.post(`/api/campaigns/:id/${t}`, { config: { guard }, schema: { tags, params: idParams, response: { 200: transitionOut } } }, async (req) =>
      svc.transition(db, await deps.vault.keyring(), publicUrl, actorOf(req), senderOf(req), req.params.id, t),
    );
  }

  /** The approval queue: campaigns in review and templates whose sensitive fields await an approver. */
  app.get(
    '/api/approvals',
    {
      config: { guard: 'campaigns:approve' },
      schema: {
        tags,
        response: {
          200: z.object({
            campaigns: z.array(campaignOut),
            templates: z.array(z.object({ id: z.number(), name: z.string(), sensitiveFields: z.array(z.string()), authorUserId: z.number().nullable() })),
          }),
        },
      },
    },
    async () => ({
      campaigns: await svc.listCampaigns(db, 'in_review'),
      templates: (await listTemplates(db))
        .filter((t) => t.sensitiveFields.length > 0 && t.approvedByUserId === null)
        .map((t) => ({ id: t.id, name: t.name, sensitiveFields: t.sensitiveFields, authorUserId: t.authorUserId })),
    }),
  );
}
