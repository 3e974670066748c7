// An in-process server on a fresh test database, and a small client that keeps
// cookies and sends the CSRF header like the console does.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { domainRoutes, serverDeps } from '../../src/app.ts';
import type { Config } from '../../src/config/index.ts';
import { createLogger } from '../../src/config/logger.ts';
import { buildServer } from '../../src/http/server.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';
import { createUser } from '../../src/auth/users.ts';
import type { Role } from '../../src/auth/schema.ts';
import { totpCode } from '../../src/auth/totp.ts';

export function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    port: 0,
    host: '127.0.0.1',
    publicUrl: 'http://localhost',
    secureCookies: false,
    database: { kind: 'pglite', dataDir: 'memory://' },
    dataDir: '/tmp/mailwarden-test',
    masterKey: randomBytes(32),
    masterKeySource: 'env',
    smtpUrl: undefined,
    logLevel: 'info',
    logFormat: 'json',
    env: 'test',
    trustProxy: false,
    workerConcurrency: 1,
    ...overrides,
  };
}

export type TestApp = {
  app: FastifyInstance;
  database: TestDatabase;
  config: Config;
  /** Every log line the server wrote (to prove secrets never reach it). */
  logs: string[];
  close(): Promise<void>;
};

export async function createTestApp(database?: TestDatabase): Promise<TestApp> {
  const db = database ?? (await createTestDatabase());
  const config = testConfig();
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  const logger = createLogger({ level: 'debug', format: 'json' }, sink);
  const { app } = await buildServer(serverDeps(config, db, logger), domainRoutes);
  await app.ready();
  return {
    app,
    database: db,
    config,
    logs,
    async close() {
      await app.close();
      if (!database) await db.close();
    },
  };
}

export class Client {
  cookies = new Map<string, string>();
  constructor(
    readonly app: FastifyInstance,
    readonly ip = '10.0.0.1',
  ) {}

  async request(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const csrf = this.cookies.get('mw_csrf');
    const res = await this.app.inject({
      method: method as 'GET',
      url,
      remoteAddress: this.ip,
      headers: {
        ...(cookie ? { cookie } : {}),
        ...(csrf && method !== 'GET' ? { 'x-csrf-token': csrf } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      payload: body === undefined ? undefined : JSON.stringify(body),
    });
    for (const c of res.cookies as { name: string; value: string; expires?: Date; maxAge?: number }[]) {
      if (c.value === '' || (c.expires && c.expires.getTime() < Date.now())) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
    return res;
  }
  get = (url: string, headers?: Record<string, string>) => this.request('GET', url, undefined, headers);
  post = (url: string, body: unknown = {}, headers?: Record<string, string>) => this.request('POST', url, body, headers);
  patch = (url: string, body: unknown, headers?: Record<string, string>) => this.request('PATCH', url, body, headers);
  del = (url: string, headers?: Record<string, string>) => this.request('DELETE', url, {}, headers);
}

export const strongPassword = 'velvet-otter-harbour-92';

/** A user with the role, signed in (password only, no 2FA). */
export async function signedInAs(t: TestApp, role: Role, email = `${role}-${randomBytes(3).toString('hex')}@example.com`) {
  const actor = { type: 'system' as const, label: 'test' };
  const user = await createUser(t.database.db, actor, { email, name: `Test ${role}`, role, password: strongPassword });
  const client = new Client(t.app, `10.0.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`);
  const res = await client.post('/api/auth/login', { email, password: strongPassword });
  if (res.statusCode !== 200) throw new Error(`sign-in failed: ${res.body}`);
  return { user, client };
}

/**
 * Enrol TOTP for the client's user through the API; returns the secret and recovery codes. `offsetMs`: the
 * confirming code is for that far from now (-30_000: the previous step, so a sign-in code of the current step
 * is not a replay of it).
 */
export async function enrolTotp(client: Client, offsetMs = 0) {
  const start = (await client.post('/api/me/2fa/enrol')).json() as { secret: string };
  // The server accepts one step either side of its own. A code for the previous step computed in the last
  // moments of a step is two steps old if the step turns before the server checks it: wait for the new step.
  const intoStep = Date.now() % 30_000;
  if (intoStep > 27_000) await new Promise((r) => setTimeout(r, 30_000 - intoStep + 100));
  const res = await client.post('/api/me/2fa/confirm', { code: totpCode(start.secret, Date.now() + offsetMs) });
  if (res.statusCode !== 200) throw new Error(`enrol failed: ${res.body}`);
  return { secret: start.secret, recoveryCodes: (res.json() as { recoveryCodes: string[] }).recoveryCodes };
}
