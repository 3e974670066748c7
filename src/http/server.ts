// The Fastify server: plugins, security headers, problem+json errors, OpenAPI,
// the console's static files, and every domain's routes.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import cookie from '@fastify/cookie';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Config } from '../config/index.ts';
import type { Logger } from '../config/logger.ts';
import type { Database } from '../db/client.ts';
import type { TransactionalKeys } from '../delivery/transactional.ts';
import type { Vault } from '../contacts/vault.ts';
import { pendingMigrations } from '../db/migrate.ts';
import { registerRequestAuth } from '../auth/request-auth.ts';
import { errorHandler, sendProblem } from './problem.ts';
import { type RouteRecord, trackRoutes, unguardedRoutes } from './guard.ts';

export type App = FastifyInstance;

export type ServerDeps = {
  config: Pick<Config, 'publicUrl' | 'secureCookies' | 'trustProxy'>;
  database: Database;
  logger: Logger;
  totpKey: Buffer;
  /** Customer-data vault: the workspace keyring (contacts domain). */
  vault: Vault;
  /** deriveKey(masterKey, 'dkim-keys'): seals DKIM private keys (campaigns domain). */
  dkimKey?: Buffer;
  /** deriveKey(masterKey, 'smtp-relays'): seals SMTP relay passwords (delivery/relay-routes.ts). */
  relayKey?: Buffer;
  /** outboxKey(masterKey): seals captured mail in the built-in outbox (delivery/outbox.ts). */
  outboxKey?: Buffer;
  /** Delivery keys (tracking tokens, VERP, Message-IDs, transactional seal) and the bounce domain. */
  delivery?: { keys: TransactionalKeys; bounceDomain: string };
};

/** A domain's routes: a plain function that adds them to the app. */
export type RoutesPlugin = (app: FastifyInstance, deps: ServerDeps) => void | Promise<void>;

const webDist = new URL('../../web/dist/', import.meta.url).pathname;

export async function buildServer(deps: ServerDeps, domains: RoutesPlugin[]): Promise<{ app: FastifyInstance; routes: RouteRecord[] }> {
  const app = Fastify({
    loggerInstance: deps.logger,
    genReqId: (req) => (typeof req.headers['x-request-id'] === 'string' && /^[\w-]{1,64}$/.test(req.headers['x-request-id']) ? req.headers['x-request-id'] : randomUUID()),
    // Fastify accepts a hop count too (its typings omit it).
    trustProxy: deps.config.trustProxy as boolean | string,
    bodyLimit: 1024 * 1024,
  }) as unknown as FastifyInstance;
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler);
  const { routes, publicWhile } = trackRoutes(app);

  await app.register(cookie);
  const https = deps.config.secureCookies;
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    hsts: https ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    crossOriginEmbedderPolicy: false,
  });
  await app.register(rateLimit, { global: false });
  await app.register(swagger, {
    openapi: {
      info: { title: 'mailwarden API', version: '0.1.0', description: 'Authenticate with the session cookie (console) or `Authorization: Bearer mwk_…` (API keys).' },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
      security: [{ apiKey: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await publicWhile(async () => {
    await app.register(swaggerUi, { routePrefix: '/api/docs', staticCSP: true, uiConfig: { docExpansion: 'list' } });
  });

  registerRequestAuth(app, deps.database.db, new URL(deps.config.publicUrl).origin);

  app.get('/healthz', { config: { guard: 'public' }, schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { config: { guard: 'public' }, schema: { hide: true } }, async (_req, reply) => {
    try {
      const pending = await pendingMigrations(deps.database);
      if (pending.length) return sendProblem(reply, 503, 'migrations_pending', `Migrations not applied: ${pending.join(', ')}`);
      return { status: 'ready', database: deps.database.kind };
    } catch {
      return sendProblem(reply, 503, 'database_unreachable', 'The database is not reachable.');
    }
  });

  for (const domain of domains) await domain(app, deps);

  if (existsSync(webDist)) {
    await publicWhile(async () => {
      await app.register(fastifyStatic, { root: webDist, prefix: '/', wildcard: false, index: ['index.html'] });
    });
  }
  app.setNotFoundHandler((req, reply) => {
    if (req.method === 'GET' && !req.url.startsWith('/api/') && existsSync(`${webDist}index.html`))
      return reply.type('text/html').sendFile('index.html');
    return sendProblem(reply, 404, 'not_found', `No route for ${req.method} ${req.url.split('?')[0]}.`);
  });
  app.get('/api/openapi.json', { config: { guard: 'public' }, schema: { hide: true } }, async () => app.swagger());

  const unguarded = unguardedRoutes(routes);
  if (unguarded.length) throw new Error(`routes without a declared guard: ${unguarded.map((r) => `${r.method} ${r.url}`).join(', ')}`);
  return { app, routes };
}
