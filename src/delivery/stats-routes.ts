// Campaign progress (polled by the console every 2 s while sending) and
// statistics. Read-only, same permission as reading campaigns.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { deliveryStates } from '../campaigns/schema.ts';
import type { ServerDeps } from '../http/server.ts';
import { notFound } from '../http/problem.ts';
import { campaignProgress, campaignStats } from './stats.ts';

const idParams = z.object({ id: z.coerce.number().int().positive() });

const progressOut = z.object({
  campaignId: z.number(),
  state: z.string(),
  total: z.number(),
  counts: z.object(
    Object.fromEntries(deliveryStates.map((s) => [s, z.number()])) as Record<
      (typeof deliveryStates)[number],
      z.ZodNumber
    >,
  ),
  done: z.number(),
  remaining: z.number(),
  ratePerSecond: z.number(),
  etaSeconds: z.number().nullable(),
  at: z.date(),
});

const engagementOut = z.object({
  human: z.number(),
  automated: z.number(),
  humanUnique: z.number(),
  automatedUnique: z.number(),
});

const statsOut = z.object({
  campaignId: z.number(),
  recipients: z.number(),
  delivered: z.number(),
  sent: z.number(),
  opens: engagementOut,
  clicks: engagementOut,
  bounces: z.number(),
  complaints: z.number(),
  unsubscribes: z.number(),
  bucketSeconds: z.number(),
  series: z.array(
    z.object({
      t: z.date(),
      sent: z.number(),
      opensHuman: z.number(),
      opensAutomated: z.number(),
      clicksHuman: z.number(),
      clicksAutomated: z.number(),
      bounces: z.number(),
      complaints: z.number(),
      unsubscribes: z.number(),
    }),
  ),
});

export function statsRoutes(base: FastifyInstance, deps: ServerDeps) {
  const app = base.withTypeProvider<ZodTypeProvider>();
  const db = deps.database.db;

  app.get(
    '/api/campaigns/:id/progress',
    {
      config: { guard: 'campaigns:read' },
      schema: { tags: ['campaigns'], params: idParams, response: { 200: progressOut } },
    },
    async (req, reply) => {
      const p = await campaignProgress(db, req.params.id);
      if (!p) throw notFound('Campaign');
      reply.header('cache-control', 'no-store');
      return p;
    },
  );

  app.get(
    '/api/campaigns/:id/stats',
    {
      config: { guard: 'campaigns:read' },
      schema: { tags: ['campaigns'], params: idParams, response: { 200: statsOut } },
    },
    async (req) => {
      const s = await campaignStats(db, req.params.id);
      if (!s) throw notFound('Campaign');
      return s;
    },
  );
}
