// Transactional messages API: POST /api/messages (API key scope messages:send,
// or a user with that permission) with an optional Idempotency-Key header, and
// GET /api/messages/:id for the delivery state.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { appendAudit } from '../audit/service.ts';
import { actorOf } from '../auth/request-auth.ts';
import type { ServerDeps } from '../http/server.ts';
import { notFound, Problem } from '../http/problem.ts';
import { enqueueMessage, getMessage } from './transactional.ts';

const address = z.email().max(254);
const headerName = z.string().regex(/^X-[A-Za-z0-9-]{1,64}$/, 'only X- headers can be added');

const body = z
  .object({
    from: z.object({ name: z.string().max(200).optional(), address }),
    to: z.union([address, z.array(address).min(1).max(50)]).transform((v) => (Array.isArray(v) ? v : [v])),
    replyTo: address.optional(),
    subject: z.string().min(1).max(998),
    html: z.string().max(2_000_000).optional(),
    text: z.string().max(2_000_000).optional(),
    headers: z
      .record(
        headerName,
        z
          .string()
          .max(998)
          .regex(/^[^\r\n]*$/, 'no line breaks'),
      )
      .optional(),
  })
  .refine((b) => b.html !== undefined || b.text !== undefined, {
    message: 'give html or text',
    path: ['text'],
  });

const queued = z.object({
  id: z.number(),
  messageId: z.string(),
  state: z.string(),
  createdAt: z.date(),
  replayed: z.boolean(),
});

export function messageRoutes(base: FastifyInstance, deps: ServerDeps) {
  const app = base.withTypeProvider<ZodTypeProvider>();
  const db = deps.database.db;

  app.post(
    '/api/messages',
    {
      config: { guard: 'messages:send' },
      schema: {
        tags: ['messages'],
        summary: 'Queue a transactional message (sent before campaign traffic)',
        headers: z
          .object({
            'idempotency-key': z
              .string()
              .min(1)
              .max(255)
              .regex(/^[\x21-\x7e]+$/, 'printable ASCII')
              .optional(),
          })
          .passthrough(),
        body,
        response: { 200: queued, 202: queued },
      },
    },
    async (req, reply) => {
      if (!deps.delivery)
        throw new Problem(
          503,
          'delivery_unavailable',
          'The delivery engine is not configured in this process.',
        );
      const kr = await deps.vault.keyring();
      const key = req.headers['idempotency-key'];
      const apiKeyId = req.principal?.kind === 'api_key' ? req.principal.key.id : null;
      const q = await enqueueMessage(db, kr, deps.delivery.keys, deps.delivery.bounceDomain, req.body, {
        idempotencyKey: key,
        apiKeyId,
      });
      if (q.replayed) {
        reply.header('Idempotent-Replayed', 'true');
        return reply.code(200).send(q);
      }
      await appendAudit(db, actorOf(req), {
        action: 'message.queued',
        target: `message:${q.id}`,
        details: { recipients: req.body.to.length, idempotencyKey: Boolean(key) },
      });
      return reply.code(202).send(q);
    },
  );

  app.get(
    '/api/messages/:id',
    {
      config: { guard: 'messages:send' },
      schema: {
        tags: ['messages'],
        params: z.object({ id: z.coerce.number().int().positive() }),
        response: {
          200: z.object({
            id: z.number(),
            messageId: z.string(),
            state: z.string(),
            attempts: z.number(),
            lastCode: z.number().nullable(),
            lastResponse: z.string().nullable(),
            sentAt: z.date().nullable(),
            createdAt: z.date(),
          }),
        },
      },
    },
    async (req) => {
      const m = await getMessage(db, req.params.id);
      if (!m) throw notFound('Message');
      return m;
    },
  );
}
