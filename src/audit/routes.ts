import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf } from '../auth/request-auth.ts';
import type { ServerDeps } from '../http/server.ts';
import { type AuditEntry, type AuditFilter, appendAudit, iterateAudit, listAudit, verifyAuditChain } from './service.ts';

const filterQuery = z.object({
  actor: z.string().max(200).optional(),
  action: z.string().max(100).optional(),
  outcome: z.enum(['success', 'failure', 'denied']).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
});
const entryOut = z.object({
  id: z.number(),
  at: z.date(),
  actorType: z.string(),
  actorId: z.string().nullable(),
  actorLabel: z.string().nullable(),
  action: z.string(),
  target: z.string().nullable(),
  outcome: z.string(),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  hash: z.string(),
});

function toFilter(q: z.infer<typeof filterQuery>): AuditFilter {
  return { ...q, from: q.from ? new Date(q.from) : undefined, to: q.to ? new Date(q.to) : undefined };
}

const csvCell = (v: unknown) => {
  let s = v == null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  // Neutralise spreadsheet formulas (CSV injection).
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};
const csvColumns: (keyof AuditEntry)[] = ['id', 'at', 'actorType', 'actorId', 'actorLabel', 'action', 'target', 'outcome', 'ip', 'userAgent', 'details', 'prevHash', 'hash'];

export function auditRoutes(base: FastifyInstance, deps: ServerDeps) {
  const app = base.withTypeProvider<ZodTypeProvider>();
  const db = deps.database.db;

  app.get(
    '/api/audit',
    {
      config: { guard: 'audit:read' },
      schema: {
        tags: ['audit'],
        querystring: filterQuery.extend({ limit: z.coerce.number().int().min(1).max(500).default(50), before: z.coerce.number().int().positive().optional() }),
        response: { 200: z.object({ items: z.array(entryOut), nextBefore: z.number().nullable() }) },
      },
    },
    async (req) => listAudit(db, { ...toFilter(req.query), limit: req.query.limit, before: req.query.before }),
  );

  app.get(
    '/api/audit/export',
    { config: { guard: 'audit:export' }, schema: { tags: ['audit'], querystring: filterQuery.extend({ format: z.enum(['csv', 'json']).default('csv') }) } },
    async (req, reply) => {
      const { format, ...q } = req.query;
      const filter = toFilter(q);
      let count = 0;
      const chunks: string[] = [];
      if (format === 'csv') chunks.push(`${csvColumns.join(',')}\n`);
      else chunks.push('[');
      for await (const e of iterateAudit(db, filter)) {
        if (format === 'csv') chunks.push(`${csvColumns.map((c) => csvCell(c === 'at' ? e.at.toISOString() : e[c])).join(',')}\n`);
        else chunks.push(`${count ? ',' : ''}\n${JSON.stringify(e)}`);
        count++;
      }
      if (format === 'json') chunks.push('\n]\n');
      // The export itself is a privileged action.
      await appendAudit(db, actorOf(req), { action: 'audit.exported', target: 'audit_log', details: { format, rows: count, filter: q } });
      const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
      return reply
        .header('content-disposition', `attachment; filename="mailwarden-audit-${stamp}.${format}"`)
        .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json')
        .send(chunks.join(''));
    },
  );

  app.get(
    '/api/audit/verify',
    {
      config: { guard: 'audit:read' },
      schema: {
        tags: ['audit'],
        response: { 200: z.object({ ok: z.boolean(), checked: z.number(), brokenAt: z.object({ id: z.number(), reason: z.string() }).optional() }) },
      },
    },
    async (req) => {
      const result = await verifyAuditChain(db);
      await appendAudit(db, actorOf(req), { action: 'audit.verified', target: 'audit_log', outcome: result.ok ? 'success' : 'failure', details: { ...result } });
      return result;
    },
  );
}
