// Resolves who is calling (session cookie or API key), enforces each route's
// guard, and checks CSRF on state-changing cookie-authenticated requests.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Actor } from '../audit/service.ts';
import { appendAudit } from '../audit/service.ts';
import type { Db } from '../db/client.ts';
import type { Guard } from '../http/guard.ts';
import { forbidden, Problem, unauthorized } from '../http/problem.ts';
import { type ApiKeyRow, authenticateApiKey } from './api-keys.ts';
import { type Permission, roleHas } from './permissions.ts';
import { resolveSession, SESSION_COOKIE, type SessionRow, type UserRow } from './sessions.ts';
import { sameHash } from './totp.ts';

export type Principal = { kind: 'user'; user: UserRow; session: SessionRow } | { kind: 'api_key'; key: ApiKeyRow };

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function requestMeta(req: FastifyRequest) {
  return { ip: req.ip, userAgent: req.headers['user-agent'] ?? null };
}

/** The audit actor for a request. */
export function actorOf(req: FastifyRequest): Actor {
  const meta = requestMeta(req);
  const p = req.principal;
  if (p?.kind === 'user') return { type: 'user', id: p.user.id, label: p.user.email, ...meta };
  if (p?.kind === 'api_key') return { type: 'api_key', id: p.key.id, label: `${p.key.name} (${p.key.prefix})`, ...meta };
  return { type: 'anonymous', ...meta };
}

/** The signed-in user (routes guarded 'signed-in', 'pending' or by a user permission). */
export function currentUser(req: FastifyRequest): { user: UserRow; session: SessionRow } {
  if (req.principal?.kind !== 'user') throw forbidden('This endpoint is for signed-in users, not API keys.');
  return req.principal;
}

export function registerRequestAuth(app: FastifyInstance, db: Db, publicOrigin: string) {
  app.addHook('preValidation', async (req) => {
    const guard: Guard | undefined = req.routeOptions.config?.guard;
    if (guard === undefined) {
      // Unmatched routes (404) carry no guard; matched ones always do (checked at start-up).
      if (req.routeOptions.url) throw forbidden('This route declares no access rule.');
      return;
    }
    if (guard === 'public') {
      // Sign-in CSRF: a cross-site form cannot post JSON, and an Origin from elsewhere is refused.
      const origin = req.headers.origin;
      if (!SAFE_METHODS.has(req.method) && origin && origin !== publicOrigin && origin !== `${req.protocol}://${req.host}`)
        throw forbidden('Cross-origin request refused.');
      return;
    }

    const authz = req.headers.authorization;
    if (authz?.startsWith('Bearer ')) {
      const check = await authenticateApiKey(db, authz.slice(7).trim(), req.ip);
      if (!check.ok) {
        if (check.key)
          await appendAudit(db, { type: 'api_key', id: check.key.id, label: `${check.key.name} (${check.key.prefix})`, ...requestMeta(req) }, {
            action: 'apikey.rejected',
            target: req.routeOptions.url ?? req.url,
            outcome: 'denied',
            details: { reason: check.reason },
          });
        throw new Problem(401, 'invalid_api_key', `API key ${check.reason === 'unknown' || check.reason === 'malformed' ? 'not recognised' : check.reason.replace(/_/g, ' ')}.`);
      }
      req.principal = { kind: 'api_key', key: check.key };
      if (guard === 'signed-in' || guard === 'pending') throw forbidden('This endpoint is for signed-in users, not API keys.');
      if (!check.key.scopes.includes(guard)) throw forbidden(`This API key lacks the scope ${guard}.`);
      return;
    }

    const token = req.cookies[SESSION_COOKIE];
    const resolved = token ? await resolveSession(db, token) : null;
    if (!resolved || resolved.session.stage === 'totp_pending') throw unauthorized();
    req.principal = { kind: 'user', ...resolved };
    if (!SAFE_METHODS.has(req.method)) {
      const sent = req.headers['x-csrf-token'];
      if (typeof sent !== 'string' || !sameHash(sent, resolved.session.csrfToken))
        throw new Problem(403, 'csrf_failed', 'Missing or wrong X-CSRF-Token header.');
    }
    if (resolved.session.stage === 'enrol_pending' && guard !== 'pending')
      throw new Problem(403, 'enrolment_required', 'Set up two-factor authentication first.');
    if (guard === 'pending' || guard === 'signed-in') return;
    if (!roleHas(resolved.user.role, guard as Permission)) throw forbidden();
  });
}
