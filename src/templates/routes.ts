// Template routes: CRUD (with analysis), preview, test sends, sensitive-field approval.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { permissionsOf } from '../auth/permissions.ts';
import { actorOf, currentUser } from '../auth/request-auth.ts';
import type { ServerDeps } from '../http/server.ts';
import * as svc from './service.ts';

const idParams = z.object({ id: z.coerce.number().int().positive() });
const templateIn = z.object({
  name: z.string().min(1).max(200),
  subject: z.string().min(1).max(500),
  format: z.enum(['html', 'mjml']).default('html'),
  body: z.string().min(1).max(500_000),
  text: z.string().max(200_000).nullable().optional(),
});
const templateOut = z.object({
  id: z.number(),
  name: z.string(),
  subject: z.string(),
  format: z.enum(['html', 'mjml']),
  body: z.string(),
  text: z.string().nullable(),
  sensitiveFields: z.array(z.string()),
  authorUserId: z.number().nullable(),
  approvedByUserId: z.number().nullable(),
  approvedAt: z.date().nullable(),
  needsApproval: z.boolean(),
  createdAt: z.date(),
  updatedAt: z.date(),
});
const analysisOut = z.object({ variables: z.array(z.string()), unknown: z.array(z.string()), unavailable: z.array(z.string()), sensitive: z.array(z.string()), forbiddenMarkup: z.array(z.string()) });
const renderedOut = z.object({ subject: z.string(), html: z.string(), text: z.string(), warnings: z.array(z.string()) });

const present = (t: svc.Template) => ({ ...t, needsApproval: t.sensitiveFields.length > 0 && t.approvedByUserId === null });

export function senderOf(req: FastifyRequest): svc.Sender {
  const { user } = currentUser(req);
  return { userId: user.id, role: user.role, permissions: permissionsOf(user.role) };
}

export function templateRoutes(base: FastifyInstance, deps: ServerDeps) {
  const app = base.withTypeProvider<ZodTypeProvider>();
  const db = deps.database.db;
  const tags = ['templates'];
  const publicUrl = deps.config.publicUrl.replace(/\/$/, '');

  app.get('/api/templates', { config: { guard: 'templates:manage' }, schema: { tags, response: { 200: z.object({ items: z.array(templateOut) }) } } }, async () => ({
    items: (await svc.listTemplates(db)).map(present),
  }));

  app.post('/api/templates', { config: { guard: 'templates:manage' }, schema: { tags, body: templateIn, response: { 201: z.object({ template: templateOut, analysis: analysisOut }) } } }, async (req, reply) => {
    const r = await svc.createTemplate(db, actorOf(req), senderOf(req), req.body);
    return reply.code(201).send({ template: present(r.template), analysis: r.analysis });
  });

  app.get('/api/templates/:id', { config: { guard: 'templates:manage' }, schema: { tags, params: idParams, response: { 200: templateOut } } }, async (req) => present(await svc.getTemplate(db, req.params.id)));

  app.patch(
    '/api/templates/:id',
    { config: { guard: 'templates:manage' }, schema: { tags, params: idParams, body: templateIn.partial(), response: { 200: z.object({ template: templateOut, analysis: analysisOut }) } } },
    async (req) => {
      const r = await svc.updateTemplate(db, actorOf(req), senderOf(req), req.params.id, req.body);
      return { template: present(r.template), analysis: r.analysis };
    },
  );

  app.delete('/api/templates/:id', { config: { guard: 'templates:manage' }, schema: { tags, params: idParams } }, async (req, reply) => {
    await svc.deleteTemplate(db, actorOf(req), req.params.id);
    return reply.code(204).send();
  });

  /** Render an unsaved template (editor preview) for the sample contact or a chosen one. */
  app.post(
    '/api/templates/preview',
    { config: { guard: 'templates:manage' }, schema: { tags, body: templateIn.omit({ name: true }).extend({ contactId: z.uuid().optional() }), response: { 200: renderedOut.extend({ analysis: analysisOut }) } } },
    async (req) => {
      const { contactId, ...t } = req.body;
      const sender = senderOf(req);
      const analysis = await svc.analyse(db, t, sender);
      const r = await svc.previewTemplate(db, await deps.vault.keyring(), sender, publicUrl, t, contactId);
      return { ...r, analysis };
    },
  );

  app.post(
    '/api/templates/:id/test-send',
    {
      config: { guard: 'templates:manage' },
      schema: { tags, params: idParams, body: z.object({ to: z.array(z.email()).min(1).max(10), contactId: z.uuid().optional() }), response: { 202: z.object({ queued: z.array(z.number()) }) } },
    },
    async (req, reply) => {
      const ids = await svc.testSend(db, await deps.vault.keyring(), actorOf(req), senderOf(req), publicUrl, req.params.id, req.body.to, req.body.contactId);
      return reply.code(202).send({ queued: ids });
    },
  );

  app.post('/api/templates/:id/approve', { config: { guard: 'campaigns:approve' }, schema: { tags, params: idParams, response: { 200: templateOut } } }, async (req) =>
    present(await svc.approveTemplate(db, actorOf(req), currentUser(req).user.id, req.params.id)),
  );
}
