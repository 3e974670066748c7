// Monitoring API: event intake (POST /api/events), activity explorer, alerts
// inbox and detail, responses, detector settings.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { appendAudit } from '../audit/service.ts';
import { actorOf, currentUser } from '../auth/request-auth.ts';
import type { ServerDeps } from '../http/server.ts';
import { notFound } from '../http/problem.ts';
import { configPatch, loadConfig, redactConfig, saveConfig } from './config.ts';
import { detectors } from './detectors/index.ts';
import { validateEvents } from './events.ts';
import { monitorFor } from './registry.ts';
import { applyResponse, revertResponse } from './responses.ts';
import { alertStates, monitoringAlerts, responseActions, severities } from './schema.ts';
import { alertTrend, getAlert, listAlerts, listEvents } from './service.ts';
import { eq, sql } from 'drizzle-orm';

const idParam = z.object({ id: z.coerce.number().int().positive() });
const csv = <T extends string>(values: readonly [T, ...T[]]) =>
  z
    .string()
    .transform((s) => s.split(',').filter(Boolean))
    .pipe(z.array(z.enum(values)));

export function monitoringRoutes(base: FastifyInstance, deps: ServerDeps) {
  const app = base.withTypeProvider<ZodTypeProvider>();
  const db = deps.database.db;
  const monitor = monitorFor(deps.database, { logger: deps.logger });
  base.addHook('onClose', async () => monitor.stop());
  // API key use: the first request of a key from an IP becomes an apikey.used event.
  base.addHook('onResponse', async (req) => {
    const p = req.principal;
    if (p?.kind === 'api_key') monitor.noteApiKeyUse(p.key, req.ip, req.headers['user-agent']);
  });

  app.post(
    '/api/events',
    {
      config: { guard: 'events:write' },
      schema: {
        tags: ['monitoring'],
        summary: 'Submit activity events (batch of up to 5,000); invalid records are reported, valid ones stored',
        body: z.object({ events: z.array(z.unknown()).min(1).max(5000) }),
      },
    },
    async (req) => {
      const { events, rejects } = validateEvents(req.body.events, 'api');
      const p = req.principal;
      if (p?.kind === 'api_key') for (const e of events) e.details = { ...e.details, submittedBy: p.key.prefix };
      const r = await monitor.ingest(events);
      return { accepted: r.accepted, rejected: rejects.length, rejects: rejects.slice(0, 1000), alertsCreated: r.alertsCreated };
    },
  );

  app.get(
    '/api/monitoring/events',
    {
      config: { guard: 'monitoring:read' },
      schema: {
        tags: ['monitoring'],
        querystring: z.object({
          user: z.string().max(320).optional(),
          ip: z.string().max(64).optional(),
          country: z.string().length(2).optional(),
          type: z.string().max(64).optional(),
          source: z.string().max(32).optional(),
          from: z.coerce.date().optional(),
          to: z.coerce.date().optional(),
          before: z.coerce.number().int().positive().optional(),
          limit: z.coerce.number().int().min(1).max(1000).optional(),
        }),
      },
    },
    async (req) => {
      await monitor.flush();
      return listEvents(db, req.query);
    },
  );

  app.get(
    '/api/monitoring/alerts',
    {
      config: { guard: 'monitoring:read' },
      schema: {
        tags: ['monitoring'],
        querystring: z.object({
          state: csv(alertStates).optional(),
          severity: csv(severities).optional(),
          detector: z.string().max(64).optional(),
          entity: z.string().max(320).optional(),
          from: z.coerce.date().optional(),
          to: z.coerce.date().optional(),
          before: z.coerce.number().int().positive().optional(),
          limit: z.coerce.number().int().min(1).max(500).optional(),
        }),
      },
    },
    async (req) => {
      await monitor.flush();
      return listAlerts(db, req.query);
    },
  );

  app.get(
    '/api/monitoring/alerts/trend',
    { config: { guard: 'monitoring:read' }, schema: { tags: ['monitoring'], querystring: z.object({ days: z.coerce.number().int().min(1).max(365).default(30) }) } },
    async (req) => alertTrend(db, req.query.days),
  );

  app.get('/api/monitoring/alerts/:id', { config: { guard: 'monitoring:read' }, schema: { tags: ['monitoring'], params: idParam } }, async (req) => {
    const a = await getAlert(db, req.params.id);
    if (!a) throw notFound('Alert');
    return a;
  });

  app.patch(
    '/api/monitoring/alerts/:id',
    {
      config: { guard: 'monitoring:manage' },
      schema: { tags: ['monitoring'], params: idParam, body: z.object({ state: z.enum(alertStates).optional(), note: z.string().min(1).max(4000).optional() }) },
    },
    async (req) => {
      const { user } = currentUser(req);
      const [before] = await db.select().from(monitoringAlerts).where(eq(monitoringAlerts.id, req.params.id));
      if (!before) throw notFound('Alert');
      const note = req.body.note ? [{ at: new Date().toISOString(), by: user.email, text: req.body.note }] : [];
      const [alert] = await db
        .update(monitoringAlerts)
        .set({
          ...(req.body.state ? { state: req.body.state } : {}),
          notes: sql`${monitoringAlerts.notes} || ${JSON.stringify(note)}::jsonb`,
          updatedAt: new Date(),
        })
        .where(eq(monitoringAlerts.id, req.params.id))
        .returning();
      if (req.body.state === 'resolved' || req.body.state === 'false_positive') monitor.forgetAlert(alert.id);
      await appendAudit(db, actorOf(req), {
        action: 'monitoring.alert_updated',
        target: `alert ${alert.id}`,
        details: { from: before.state, to: alert.state, noted: note.length > 0 },
      });
      return alert;
    },
  );

  app.post(
    '/api/monitoring/alerts/:id/responses',
    { config: { guard: 'monitoring:manage' }, schema: { tags: ['monitoring'], params: idParam, body: z.object({ action: z.enum(responseActions) }) } },
    async (req, reply) => {
      const { user } = currentUser(req);
      const [alert] = await db.select().from(monitoringAlerts).where(eq(monitoringAlerts.id, req.params.id));
      if (!alert) throw notFound('Alert');
      const r = await applyResponse(db, alert, req.body.action, { by: user.email, actor: actorOf(req) });
      const { undo: _u, ...out } = r;
      return reply.code(201).send(out);
    },
  );

  app.post('/api/monitoring/responses/:id/revert', { config: { guard: 'monitoring:manage' }, schema: { tags: ['monitoring'], params: idParam } }, async (req) => {
    const { user } = currentUser(req);
    const { undo: _u, ...out } = await revertResponse(db, req.params.id, user.email, actorOf(req));
    return out;
  });

  app.get('/api/monitoring/detectors', { config: { guard: 'monitoring:read' }, schema: { tags: ['monitoring'] } }, async () =>
    detectors.map((d) => ({ id: d.id, title: d.title, logic: d.logic, limits: d.limits, types: d.types, defaultSeverity: d.severity, defaultParams: d.params, suggestedResponses: d.responses })),
  );

  app.get('/api/monitoring/settings', { config: { guard: 'monitoring:read' }, schema: { tags: ['monitoring'] } }, async () => redactConfig(await loadConfig(db)));

  app.patch('/api/monitoring/settings', { config: { guard: 'monitoring:manage' }, schema: { tags: ['monitoring'], body: configPatch } }, async (req) => {
    const before = await loadConfig(db);
    const patch = req.body;
    // Webhooks sent back with the redacted secret keep their stored secret.
    if (patch.notify?.webhooks)
      patch.notify.webhooks = patch.notify.webhooks.map((w) => (w.secret === '••••' ? { ...w, secret: before.notify.webhooks.find((b) => b.url === w.url)?.secret ?? w.secret } : w));
    const after = await saveConfig(db, patch);
    await monitor.reloadConfig();
    await appendAudit(db, actorOf(req), { action: 'settings.changed', target: 'monitoring', details: { before: redactConfig(before), after: redactConfig(after) } });
    return redactConfig(after);
  });
}
