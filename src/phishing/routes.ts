// POST /api/phishing/scan: score one raw message (RFC 5322) and explain why.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { badRequest } from '../http/problem.ts';
import type { ServerDeps } from '../http/server.ts';
import { scanForWorkspace } from './queue.ts';

/** Raw messages up to this size are accepted (the parser bounds what it analyses). */
export const MAX_SCAN_BYTES = 25 * 1024 * 1024;

const scanOut = z.looseObject({
  score: z.number().min(0).max(100),
  verdict: z.enum(['phishing', 'suspicious', 'clean']),
  reasons: z.array(z.object({ signal: z.string(), detail: z.string(), weight: z.number() }).loose()),
  subject: z.string().optional(),
  limits: z.array(z.string()),
});

export function phishingRoutes(base: FastifyInstance, deps: ServerDeps) {
  const app = base.withTypeProvider<ZodTypeProvider>();
  // The raw message is the body: message/rfc822 (or octet-stream / text/plain).
  for (const type of ['message/rfc822', 'application/octet-stream', 'text/plain'])
    if (!app.hasContentTypeParser(type))
      app.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: MAX_SCAN_BYTES }, (_req, body, done) => done(null, body));

  app.post(
    '/api/phishing/scan',
    {
      config: { guard: 'phishing:scan', rateLimit: { max: 600, timeWindow: '1 minute' } },
      bodyLimit: MAX_SCAN_BYTES,
      schema: {
        tags: ['phishing'],
        summary: 'Score a raw message for phishing',
        description: 'Send the message as the body with Content-Type message/rfc822. Answers the score (0-100), the verdict and each signal’s contribution.',
        response: { 200: scanOut },
      },
    },
    async (req) => {
      // Fastify's own text/plain parser hands over a string; the others a Buffer.
      const body = typeof req.body === 'string' ? Buffer.from(req.body) : req.body;
      if (!Buffer.isBuffer(body) || body.length === 0) throw badRequest('Send the raw message as the body with Content-Type: message/rfc822.');
      // With the workspace's learned adjustment, configuration and blocklist.
      return scanForWorkspace(deps.database.db, body);
    },
  );
}
