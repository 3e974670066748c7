import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { appendAudit } from '../audit/service.ts';
import { actorOf } from '../auth/request-auth.ts';
import { flagUsersWithout2fa } from '../auth/users.ts';
import type { ServerDeps } from '../http/server.ts';
import { getSettings, updateSettings } from './service.ts';

const settingsOut = z.object({ require2fa: z.boolean(), sessionIdleMinutes: z.number(), sessionAbsoluteHours: z.number() });

export function settingsRoutes(base: FastifyInstance, deps: ServerDeps) {
  const app = base.withTypeProvider<ZodTypeProvider>();
  const db = deps.database.db;
  app.get('/api/settings', { config: { guard: 'settings:manage' }, schema: { tags: ['settings'], response: { 200: settingsOut } } }, async () => getSettings(db));
  app.patch(
    '/api/settings',
    {
      config: { guard: 'settings:manage' },
      schema: {
        tags: ['settings'],
        body: z
          .object({
            require2fa: z.boolean(),
            sessionIdleMinutes: z.number().int().min(5).max(24 * 60),
            sessionAbsoluteHours: z.number().int().min(1).max(24 * 30),
          })
          .partial(),
        response: { 200: settingsOut },
      },
    },
    async (req) => {
      const { before, after } = await updateSettings(db, req.body);
      // Requiring 2FA: everyone without it must enrol at their next request.
      const flagged = after.require2fa && !before.require2fa ? await flagUsersWithout2fa(db) : 0;
      await appendAudit(db, actorOf(req), { action: 'settings.changed', target: 'workspace', details: { before, after, usersToEnrol: flagged } });
      return after;
    },
  );
}
