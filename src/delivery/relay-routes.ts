// SMTP relays of the workspace (relays.ts): list, create, update, delete and
// test, all guarded by settings:manage and audited. The password is write-only:
// it is sealed before it is stored, never returned, and audit entries only say
// that it changed.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { and, asc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { appendAudit } from '../audit/service.ts';
import { actorOf } from '../auth/request-auth.ts';
import type { Db } from '../db/client.ts';
import { conflict, notFound, Problem } from '../http/problem.ts';
import type { ServerDeps } from '../http/server.ts';
import {
  openRelayPassword,
  type RelayRow,
  relayConfigOf,
  sealRelayPassword,
  testRelay,
  WORKSPACE_ID,
} from './relays.ts';
import { smtpRelays } from './schema.ts';
import { isLoopbackHost } from './smtp.ts';

const tags = ['relays'];
const idParams = z.object({ id: z.coerce.number().int().positive() });

// A DNS name, an IPv4 address or an IPv6 address (no scheme, no port).
const hostRe =
  /^(?:(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[?[0-9a-f:.]+\]?)$/i;
const limit = z.number().int().min(1).max(100_000_000).nullable();

const relayIn = z.object({
  name: z.string().trim().min(1).max(100),
  host: z.string().trim().toLowerCase().regex(hostRe, 'must be a host name or IP address'),
  port: z.number().int().min(1).max(65_535).default(587),
  security: z.enum(['starttls', 'tls', 'none']).default('starttls'),
  username: z.string().max(320).nullable().default(null),
  /** Write-only. On update: a string replaces it, null clears it, absent keeps it. */
  password: z.string().max(1000).nullable().optional(),
  weight: z.number().int().min(1).max(1000).default(1),
  enabled: z.boolean().default(true),
  perSecond: limit.default(null),
  perHour: limit.default(null),
  perDay: limit.default(null),
});

const relayPatch = z
  .object({
    name: z.string().trim().min(1).max(100),
    host: z.string().trim().toLowerCase().regex(hostRe, 'must be a host name or IP address'),
    port: z.number().int().min(1).max(65_535),
    security: z.enum(['starttls', 'tls', 'none']),
    username: z.string().max(320).nullable(),
    password: z.string().max(1000).nullable(),
    weight: z.number().int().min(1).max(1000),
    enabled: z.boolean(),
    perSecond: limit,
    perHour: limit,
    perDay: limit,
  })
  .partial();

const relayOut = z.object({
  id: z.number(),
  name: z.string(),
  host: z.string(),
  port: z.number(),
  security: z.enum(['starttls', 'tls', 'none']),
  username: z.string().nullable(),
  hasPassword: z.boolean(),
  weight: z.number(),
  enabled: z.boolean(),
  perSecond: z.number().nullable(),
  perHour: z.number().nullable(),
  perDay: z.number().nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
});

/** What the API shows of a row: everything but the sealed password. */
function out(row: RelayRow): z.infer<typeof relayOut> {
  const { passwordEnc, workspaceId: _w, ...rest } = row;
  return { ...rest, hasPassword: passwordEnc !== null };
}

/** Plain text to a relay on the network would expose credentials and mail: only a local relay may skip TLS. */
function checkSecurity(host: string, security: string) {
  if (security === 'none' && !isLoopbackHost(host.replace(/^\[|\]$/g, '')))
    throw new Problem(
      422,
      'tls_required',
      `TLS can only be turned off for a relay on this machine (localhost, 127.0.0.1, ::1), not ${host}.`,
      {
        errors: [{ path: 'body.security', message: 'none is only allowed for a loopback host' }],
      },
    );
}

async function find(db: Db, id: number): Promise<RelayRow> {
  const [row] = await db
    .select()
    .from(smtpRelays)
    .where(and(eq(smtpRelays.id, id), eq(smtpRelays.workspaceId, WORKSPACE_ID)));
  if (!row) throw notFound('SMTP relay');
  return row;
}

function uniqueName<T>(p: Promise<T>, name: string): Promise<T> {
  return p.catch((err: { code?: string; cause?: { code?: string } }) => {
    if (err.code === '23505' || err.cause?.code === '23505')
      throw conflict('relay_name_taken', `A relay named "${name}" already exists.`);
    throw err;
  });
}

export function relayRoutes(base: FastifyInstance, deps: ServerDeps) {
  const app = base.withTypeProvider<ZodTypeProvider>();
  const db = deps.database.db;
  const key = () => {
    if (!deps.relayKey)
      throw new Problem(503, 'relay_key_unavailable', 'The relay key-encryption key is not configured.');
    return deps.relayKey;
  };

  app.get(
    '/api/smtp-relays',
    {
      config: { guard: 'settings:manage' },
      schema: { tags, response: { 200: z.object({ items: z.array(relayOut) }) } },
    },
    async () => ({
      items: (
        await db
          .select()
          .from(smtpRelays)
          .where(eq(smtpRelays.workspaceId, WORKSPACE_ID))
          .orderBy(asc(smtpRelays.id))
      ).map(out),
    }),
  );

  app.post(
    '/api/smtp-relays',
    { config: { guard: 'settings:manage' }, schema: { tags, body: relayIn, response: { 201: relayOut } } },
    async (req, reply) => {
      const { password, ...b } = req.body;
      checkSecurity(b.host, b.security);
      const k = key();
      // The id is part of the password's AAD, so the row exists before the password is sealed (one transaction).
      const row = await uniqueName(
        db.transaction(async (tx) => {
          const [r] = await tx
            .insert(smtpRelays)
            .values({ ...b, workspaceId: WORKSPACE_ID })
            .returning();
          if (!password) return r;
          const [sealed] = await tx
            .update(smtpRelays)
            .set({ passwordEnc: sealRelayPassword(k, r.id, password) })
            .where(eq(smtpRelays.id, r.id))
            .returning();
          return sealed;
        }),
        b.name,
      );
      await appendAudit(db, actorOf(req), {
        action: 'smtp_relay.created',
        target: `smtp_relay:${row.id}`,
        details: { ...describe(row), password: password ? 'set' : 'none' },
      });
      return reply.code(201).send(out(row));
    },
  );

  app.patch(
    '/api/smtp-relays/:id',
    {
      config: { guard: 'settings:manage' },
      schema: { tags, params: idParams, body: relayPatch, response: { 200: relayOut } },
    },
    async (req) => {
      const before = await find(db, req.params.id);
      const { password, ...b } = req.body;
      checkSecurity(b.host ?? before.host, b.security ?? before.security);
      const set: Partial<typeof smtpRelays.$inferInsert> = { ...b, updatedAt: new Date() };
      if (password !== undefined)
        set.passwordEnc =
          password === null || password === '' ? null : sealRelayPassword(key(), before.id, password);
      const [after] = await uniqueName(
        db.update(smtpRelays).set(set).where(eq(smtpRelays.id, before.id)).returning(),
        b.name ?? before.name,
      );
      const changed = Object.keys(b).filter(
        (k) => (before as Record<string, unknown>)[k] !== (after as Record<string, unknown>)[k],
      );
      await appendAudit(db, actorOf(req), {
        action: 'smtp_relay.updated',
        target: `smtp_relay:${before.id}`,
        details: {
          changed,
          before: pick(describe(before), changed),
          after: pick(describe(after), changed),
          ...(password !== undefined ? { password: after.passwordEnc ? 'changed' : 'cleared' } : {}),
        },
      });
      return out(after);
    },
  );

  app.delete(
    '/api/smtp-relays/:id',
    { config: { guard: 'settings:manage' }, schema: { tags, params: idParams } },
    async (req, reply) => {
      const row = await find(db, req.params.id);
      await db.delete(smtpRelays).where(eq(smtpRelays.id, row.id));
      await appendAudit(db, actorOf(req), {
        action: 'smtp_relay.deleted',
        target: `smtp_relay:${row.id}`,
        details: describe(row),
      });
      return reply.code(204).send();
    },
  );

  app.post(
    '/api/smtp-relays/:id/test',
    {
      config: { guard: 'settings:manage' },
      schema: {
        tags,
        params: idParams,
        response: {
          200: z.object({
            ok: z.boolean(),
            error: z.string().optional(),
            durationMs: z.number(),
            tls: z.enum(['starttls', 'tls', 'none']),
            authenticated: z.boolean(),
          }),
        },
      },
    },
    async (req) => {
      const row = await find(db, req.params.id);
      checkSecurity(row.host, row.security);
      const password = row.passwordEnc ? openRelayPassword(key(), row.id, row.passwordEnc) : null;
      const r = await testRelay(relayConfigOf(row, password), password);
      await appendAudit(db, actorOf(req), {
        action: 'smtp_relay.tested',
        target: `smtp_relay:${row.id}`,
        outcome: r.ok ? 'success' : 'failure',
        details: { name: row.name, host: row.host, error: r.error ?? null },
      });
      return { ...r, tls: row.security, authenticated: r.ok && !!row.username };
    },
  );
}

/** The audited view of a relay: never the password, only whether there is one. */
function describe(row: RelayRow) {
  const { passwordEnc, workspaceId: _w, createdAt: _c, updatedAt: _u, ...rest } = row;
  return { ...rest, hasPassword: passwordEnc !== null };
}

function pick(o: Record<string, unknown>, keys: string[]) {
  return Object.fromEntries(keys.filter((k) => k in o).map((k) => [k, o[k]]));
}
