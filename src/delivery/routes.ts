// Console/API routes of the delivery module: the built-in outbox and the inbound
// report review list. Read-only, guarded by campaigns:read. Captured mail is
// customer data (addresses, personalised bodies): opening a message and
// searching the outbox (which decrypts every summary it scans) are audited,
// one entry per request, like unmasked contact reads; the query text itself is
// not written to the audit log (it may be an address).
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { desc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { appendAudit } from '../audit/service.ts';
import { actorOf } from '../auth/request-auth.ts';
import type { ServerDeps } from '../http/server.ts';
import { notFound } from '../http/problem.ts';
import { getOutboxMessage, listOutbox } from './outbox.ts';
import { inboundParseStatuses, inboundReports } from './schema.ts';

const listItem = z.object({
  id: z.number(),
  messageId: z.string(),
  from: z.string(),
  to: z.string(),
  subject: z.string(),
  snippet: z.string(),
  size: z.number(),
  campaignId: z.number().nullable(),
  createdAt: z.date(),
});

const detail = listItem.omit({ snippet: true }).extend({
  envelope: z.object({ from: z.string(), to: z.array(z.string()) }),
  headers: z.array(z.object({ key: z.string(), value: z.string() })),
  text: z.string().nullable(),
  html: z.string().nullable(),
  remoteContentBlocked: z.number(),
  attachments: z.array(z.object({ filename: z.string().nullable(), mimeType: z.string() })),
  source: z.string(),
  dkim: z.array(z.object({ domain: z.string(), selector: z.string(), algorithm: z.string(), result: z.string(), comment: z.string().optional() })),
});

export function deliveryRoutes(base: FastifyInstance, deps: ServerDeps) {
  const app = base.withTypeProvider<ZodTypeProvider>();
  const db = deps.database.db;
  const key = () => {
    if (!deps.outboxKey) throw new Error('outboxKey missing from server deps');
    return deps.outboxKey;
  };

  app.get(
    '/api/outbox',
    {
      config: { guard: 'campaigns:read' },
      schema: {
        tags: ['outbox'],
        querystring: z.object({
          q: z.string().max(200).optional(),
          campaignId: z.coerce.number().int().positive().optional(),
          before: z.coerce.number().int().positive().optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
        }),
        response: { 200: z.object({ items: z.array(listItem), nextBefore: z.number().nullable(), searched: z.number() }) },
      },
    },
    async (req) => {
      const page = await listOutbox(db, key(), req.query);
      if (req.query.q)
        await appendAudit(db, actorOf(req), {
          action: 'outbox.searched',
          target: 'outbox',
          details: { scanned: page.searched, found: page.items.length, messageIds: page.items.slice(0, 100).map((m) => m.id) },
        });
      return page;
    },
  );

  app.get(
    '/api/outbox/:id',
    {
      config: { guard: 'campaigns:read' },
      schema: { tags: ['outbox'], params: z.object({ id: z.coerce.number().int().positive() }), response: { 200: detail } },
    },
    async (req) => {
      const m = await getOutboxMessage(db, key(), req.params.id);
      if (!m) throw notFound('Message');
      await appendAudit(db, actorOf(req), { action: 'outbox.message_read', target: `outbox:${m.id}`, details: { campaignId: m.campaignId } });
      return m;
    },
  );

  app.get(
    '/api/inbound-reports',
    {
      config: { guard: 'campaigns:read' },
      schema: {
        tags: ['outbox'],
        querystring: z.object({ status: z.enum(inboundParseStatuses).optional(), limit: z.coerce.number().int().min(1).max(200).default(50) }),
        response: {
          200: z.object({
            items: z.array(
              z.object({
                id: z.number(),
                receivedAt: z.date(),
                envelopeFrom: z.string(),
                kind: z.string(),
                parseStatus: z.string(),
                parseError: z.string().nullable(),
                summary: z.record(z.string(), z.unknown()).nullable(),
                size: z.number(),
              }),
            ),
          }),
        },
      },
    },
    async (req) => {
      const items = await db
        .select({
          id: inboundReports.id,
          receivedAt: inboundReports.receivedAt,
          envelopeFrom: inboundReports.envelopeFrom,
          kind: inboundReports.kind,
          parseStatus: inboundReports.parseStatus,
          parseError: inboundReports.parseError,
          summary: inboundReports.summary,
          size: inboundReports.size,
        })
        .from(inboundReports)
        .where(req.query.status ? eq(inboundReports.parseStatus, req.query.status) : undefined)
        .orderBy(desc(inboundReports.id))
        .limit(req.query.limit);
      return { items };
    },
  );
}
