// REST routes of the customer-data vault. Every response carrying PII is
// decrypted, then masked for the caller (masking.ts), then audited in one
// entry per request when PII was shown beyond ownership.
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { appendAudit } from '../audit/service.ts';
import { permissionsOf } from '../auth/permissions.ts';
import { actorOf } from '../auth/request-auth.ts';
import type { ServerDeps } from '../http/server.ts';
import { forbidden } from '../http/problem.ts';
import { type ExportRequest, exportContacts } from './export.ts';
import { type ContactView, type MaskBatchResult, maskContacts, type Role } from './masking.ts';
import { consentStates } from './schema.ts';
import * as privacy from './privacy.ts';
import { importRoutes } from './routes-imports.ts';
import { organisationRoutes } from './routes-organisation.ts';
import { uuidParams } from './routes-common.ts';
import * as svc from './service.ts';
import { uuidv7 } from './vault.ts';

const attrValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

const contactOut = z.object({
  id: z.string(),
  email: z.string().nullable(),
  firstName: z.string().nullable(),
  lastName: z.string().nullable(),
  phone: z.string().nullable(),
  notes: z.string().nullable(),
  attributes: z.record(z.string(), attrValue),
  maskedFields: z.array(z.string()),
  jobTitle: z.string().nullable(),
  country: z.string().nullable(),
  timeZone: z.string().nullable(),
  companyId: z.number().nullable(),
  ownerUserId: z.number().nullable(),
  tags: z.array(z.string()),
  suppressed: z.boolean(),
  createdAt: z.date(),
  updatedAt: z.date(),
});

const contactIn = z.object({
  email: z.string().max(320).optional(),
  firstName: z.string().max(200).nullable().optional(),
  lastName: z.string().max(200).nullable().optional(),
  phone: z.string().max(50).nullable().optional(),
  notes: z.string().max(10_000).nullable().optional(),
  attributes: z.record(z.string(), attrValue).optional(),
  jobTitle: z.string().max(200).nullable().optional(),
  country: z.string().max(10).nullable().optional(),
  timeZone: z.string().max(64).nullable().optional(),
  companyId: z.number().int().positive().nullable().optional(),
  ownerUserId: z.number().int().positive().nullable().optional(),
  tags: z.array(z.string().max(64)).max(50).optional(),
});

const filterQuery = z.object({
  email: z.string().max(320).optional(),
  phone: z.string().max(50).optional(),
  tag: z.string().max(64).optional(),
  listId: z.coerce.number().int().positive().optional(),
  ownerUserId: z.coerce.number().int().positive().optional(),
  companyId: z.coerce.number().int().positive().optional(),
  /** `key:value` on a plain attribute. */
  attribute: z.string().max(300).optional(),
});

type FilterQuery = z.infer<typeof filterQuery>;

function toFilter(q: FilterQuery): svc.ContactFilter {
  const f: svc.ContactFilter = { ...q, attribute: undefined };
  if (q.attribute) {
    const i = q.attribute.indexOf(':');
    const key = i < 0 ? q.attribute : q.attribute.slice(0, i);
    const raw = i < 0 ? '' : q.attribute.slice(i + 1);
    const value = raw === 'true' ? true : raw === 'false' ? false : raw !== '' && !Number.isNaN(Number(raw)) ? Number(raw) : raw;
    f.attribute = { key, value };
  }
  return f;
}

/** Who is looking: users by role; API keys see like a marketer, with their scopes as permissions. */
export function viewOf(req: FastifyRequest, attributes: readonly svc.AttributeDef[]): ContactView {
  const p = req.principal;
  if (p?.kind === 'user') return { userId: String(p.user.id), role: p.user.role as Role, permissions: permissionsOf(p.user.role), attributes };
  if (p?.kind === 'api_key') return { userId: `api_key:${p.key.id}`, role: 'marketer', permissions: p.key.scopes, attributes };
  throw forbidden();
}


export function contactRoutes(base: FastifyInstance, deps: ServerDeps) {
  const app = base.withTypeProvider<ZodTypeProvider>();
  const db = deps.database.db;
  const vault = deps.vault;

  /** Mask a page for the caller and write the one audit entry the request needs. */
  async function present(req: FastifyRequest, list: svc.Contact[], action: string) {
    const defs = await svc.listAttributeDefs(db);
    const masked: MaskBatchResult = maskContacts(viewOf(req, defs), list.map(svc.toPii));
    if (masked.beyondOwnershipIds.length > 0) {
      await appendAudit(db, actorOf(req), {
        action: 'contacts.unmasked_read',
        target: action,
        details: {
          count: masked.beyondOwnershipIds.length,
          contactIds: masked.beyondOwnershipIds.slice(0, 100),
          fields: masked.unmaskedFields,
          viaUnmaskPermission: masked.usedUnmaskPermission,
        },
      });
    }
    return masked.contacts.map((m, i) => ({ ...list[i], ...m, ownerUserId: list[i].ownerUserId }));
  }

  // --- contacts --------------------------------------------------------------
  app.get(
    '/api/contacts',
    {
      config: { guard: 'contacts:read' },
      schema: {
        tags: ['contacts'],
        querystring: filterQuery.extend({ before: z.uuid().optional(), limit: z.coerce.number().int().min(1).max(500).default(50) }),
        response: { 200: z.object({ items: z.array(contactOut), nextBefore: z.string().nullable() }) },
      },
    },
    async (req) => {
      const kr = await vault.keyring();
      const { items, nextBefore } = await svc.listContacts(db, kr, { ...toFilter(req.query), before: req.query.before, limit: req.query.limit });
      return { items: await present(req, items, 'GET /api/contacts'), nextBefore };
    },
  );

  app.post(
    '/api/contacts',
    { config: { guard: 'contacts:write' }, schema: { tags: ['contacts'], body: contactIn, response: { 201: contactOut } } },
    async (req, reply) => {
      const kr = await vault.keyring();
      const c = await svc.createContact(db, kr, actorOf(req), req.body);
      const [out] = await present(req, [c], 'POST /api/contacts');
      return reply.code(201).send(out);
    },
  );

  app.get(
    '/api/contacts/:id',
    {
      config: { guard: 'contacts:read' },
      schema: {
        tags: ['contacts'],
        params: uuidParams,
        response: {
          200: contactOut.extend({
            lists: z.array(z.object({ id: z.number(), name: z.string() })),
            consents: z.array(z.object({ id: z.string(), purpose: z.string(), state: z.enum(consentStates), source: z.string(), at: z.date() })),
          }),
        },
      },
    },
    async (req) => {
      const kr = await vault.keyring();
      const c = await svc.getContact(db, kr, req.params.id);
      const [out] = await present(req, [c], `GET /api/contacts/${c.id}`);
      const consents = (await svc.currentConsents(db, kr, c.id)).map(({ evidence: _e, ...rest }) => rest);
      return { ...out, lists: await svc.listsOfContact(db, c.id), consents };
    },
  );

  app.patch(
    '/api/contacts/:id',
    { config: { guard: 'contacts:write' }, schema: { tags: ['contacts'], params: uuidParams, body: contactIn, response: { 200: contactOut } } },
    async (req) => {
      const kr = await vault.keyring();
      const c = await svc.updateContact(db, kr, actorOf(req), req.params.id, req.body);
      const [out] = await present(req, [c], `PATCH /api/contacts/${c.id}`);
      return out;
    },
  );

  // --- timeline --------------------------------------------------------------
  const activityOut = z.object({
    id: z.string(),
    kind: z.string(),
    body: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
    actorLabel: z.string().nullable(),
    at: z.date(),
  });

  app.get(
    '/api/contacts/:id/activities',
    { config: { guard: 'contacts:read' }, schema: { tags: ['contacts'], params: uuidParams, response: { 200: z.array(activityOut) } } },
    async (req) => {
      const kr = await vault.keyring();
      const c = await svc.getContact(db, kr, req.params.id);
      const acts = await svc.listActivities(db, kr, c.id);
      // Note/call bodies follow the 'notes' rule of the masking matrix.
      const defs = await svc.listAttributeDefs(db);
      const probe = maskContacts(viewOf(req, defs), [{ ...svc.toPii(c), notes: 'probe' }]);
      const clear = probe.contacts[0].notes === 'probe';
      if (clear && acts.some((a) => a.body) && probe.beyondOwnershipIds.length)
        await appendAudit(db, actorOf(req), {
          action: 'contacts.unmasked_read',
          target: `GET /api/contacts/${c.id}/activities`,
          details: { count: 1, contactIds: [c.id], fields: ['activities.body'] },
        });
      return acts.map((a) => ({ ...a, body: a.body === null || clear ? a.body : '••••••' }));
    },
  );

  app.post(
    '/api/contacts/:id/activities',
    {
      config: { guard: 'contacts:write' },
      schema: {
        tags: ['contacts'],
        params: uuidParams,
        body: z.object({ kind: z.enum(['note', 'call']), body: z.string().trim().min(1).max(10_000), at: z.iso.datetime({ offset: true }).optional() }),
        response: { 201: z.object({ id: z.string() }) },
      },
    },
    async (req, reply) => {
      const kr = await vault.keyring();
      await svc.getContact(db, kr, req.params.id);
      const id = await svc.addActivity(db, kr, actorOf(req), {
        contactId: req.params.id,
        kind: req.body.kind,
        body: req.body.body,
        at: req.body.at ? new Date(req.body.at) : undefined,
      });
      return reply.code(201).send({ id });
    },
  );

  // --- consent ---------------------------------------------------------------
  app.post(
    '/api/contacts/:id/consents',
    {
      config: { guard: 'contacts:write' },
      schema: {
        tags: ['contacts'],
        params: uuidParams,
        body: z.object({
          purpose: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/).default('marketing_email'),
          state: z.enum(consentStates),
          source: z.string().min(1).max(100),
          evidence: z.object({ ip: z.string().max(64).optional(), form: z.string().max(200).optional() }).default({}),
        }),
        response: { 201: z.object({ id: z.string(), state: z.enum(consentStates), confirmationUrl: z.string().nullable() }) },
      },
    },
    async (req, reply) => {
      const kr = await vault.keyring();
      const { consent, confirmToken } = await svc.setConsent(db, kr, actorOf(req), req.params.id, {
        ...req.body,
        evidence: { ...req.body.evidence, recordedBy: actorOf(req).label ?? null },
      });
      const confirmationUrl = confirmToken ? `${deps.config.publicUrl}/api/public/consent/confirm?token=${confirmToken}` : null;
      return reply.code(201).send({ id: consent.id, state: consent.state, confirmationUrl });
    },
  );

  app.get(
    '/api/public/consent/confirm',
    { config: { guard: 'public' }, schema: { tags: ['contacts'], querystring: z.object({ token: z.string().max(200) }) } },
    async (req, reply) => {
      const kr = await vault.keyring();
      const r = await svc.confirmConsent(db, kr, req.query.token, { ip: req.ip, userAgent: req.headers['user-agent'] ?? null });
      const message = r.ok
        ? 'Thank you: your subscription is confirmed.'
        : r.reason === 'expired'
          ? 'This confirmation link has expired.'
          : 'This confirmation link is not valid.';
      return reply
        .code(r.ok ? 200 : 400)
        .type('text/html; charset=utf-8')
        .send(`<!doctype html><meta charset="utf-8"><title>Subscription</title><p>${message}</p>`);
    },
  );

  // --- privacy requests -----------------------------------------------------
  const reasonBody = z.object({ reason: z.string().trim().min(3).max(500) });

  app.post(
    '/api/contacts/:id/privacy-export',
    { config: { guard: 'contacts:export' }, schema: { tags: ['privacy'], params: uuidParams, body: reasonBody } },
    async (req, reply) => {
      const kr = await vault.keyring();
      const data = await privacy.privacyExport(db, kr, req.params.id);
      await svc.addActivity(db, kr, actorOf(req), { contactId: req.params.id, kind: 'export', details: { privacyRequest: true } });
      await appendAudit(db, actorOf(req), {
        action: 'contacts.privacy_export',
        target: `contact ${req.params.id}`,
        details: { reason: req.body.reason, count: 1 },
      });
      await privacy.emitMonitoringEvent(db, actorOf(req), 'contacts.exported', { kind: 'privacy_export', rows: 1, contactId: req.params.id });
      return reply.header('content-disposition', `attachment; filename="contact-${req.params.id}.json"`).send(data);
    },
  );

  app.post(
    '/api/contacts/:id/erase',
    { config: { guard: 'contacts:export' }, schema: { tags: ['privacy'], params: uuidParams, body: reasonBody, response: { 200: z.object({ erased: z.boolean() }) } } },
    async (req) => {
      const kr = await vault.keyring();
      await privacy.eraseContact(db, kr, req.params.id);
      await appendAudit(db, actorOf(req), {
        action: 'contacts.erased',
        target: `contact ${req.params.id}`,
        details: { reason: req.body.reason, suppressed: true },
      });
      await privacy.emitMonitoringEvent(db, actorOf(req), 'contacts.erased', { contactId: req.params.id });
      return { erased: true };
    },
  );

  // --- export ----------------------------------------------------------------
  app.post(
    '/api/contacts/exports',
    {
      config: { guard: 'contacts:export' },
      schema: {
        tags: ['contacts'],
        body: z.object({
          format: z.enum(['csv', 'jsonl']),
          fields: z.array(z.string().max(100)).min(1).max(100),
          reason: z.string().trim().min(3).max(500),
          filter: filterQuery.default({}),
        }),
      },
    },
    async (req, reply) => {
      const kr = await vault.keyring();
      const defs = await svc.listAttributeDefs(db);
      const actor = actorOf(req);
      const request: ExportRequest = { format: req.body.format, fields: req.body.fields, filter: toFilter(req.body.filter) };
      const result = { rows: 0, exportId: uuidv7() };
      const gen = exportContacts(db, kr, { ...viewOf(req, defs), actor }, request, result);
      // Validate fields before the first byte goes out (errors become problem+json).
      const first = await gen.next();
      const finish = async (outcome: 'success' | 'failure') => {
        await appendAudit(db, actor, {
          action: 'contacts.exported',
          target: `export ${result.exportId}`,
          outcome,
          details: { reason: req.body.reason, count: result.rows, fields: req.body.fields, format: req.body.format, filter: req.body.filter },
        });
        await privacy.emitMonitoringEvent(db, actor, 'contacts.exported', { exportId: result.exportId, rows: result.rows, fields: req.body.fields });
      };
      async function* body() {
        let ok = false;
        try {
          if (!first.done) yield first.value;
          yield* gen;
          ok = true;
        } finally {
          await finish(ok ? 'success' : 'failure').catch((err) => req.log.error({ err }, 'export audit failed'));
        }
      }
      const ext = req.body.format === 'csv' ? 'csv' : 'jsonl';
      return reply
        .type(req.body.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
        .header('content-disposition', `attachment; filename="contacts-${result.exportId}.${ext}"`)
        .header('x-export-id', result.exportId)
        .send(Readable.from(body()));
    },
  );

  importRoutes(base, deps);
  organisationRoutes(base, deps);
}
