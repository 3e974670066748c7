import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { domainRoutes, serverDeps } from '../app.ts';
import { createLogger } from '../config/logger.ts';
import { Client, createTestApp, signedInAs, type TestApp, testConfig } from '../../test/support/app.ts';
import { buildServer } from './server.ts';

let t: TestApp;
before(async () => {
  t = await createTestApp();
});
after(async () => {
  await t?.close();
});

test('every registered route declares a guard, and only deliberate ones are public', async () => {
  const { app, routes } = await buildServer(serverDeps(testConfig(), t.database, createLogger({ level: 'silent', format: 'json' })), domainRoutes);
  await app.close();
  assert.ok(routes.length > 20);
  assert.deepEqual(routes.filter((r) => !r.guard), []);
  const publicApi = routes.filter((r) => r.guard === 'public' && r.url.startsWith('/api/') && !r.url.startsWith('/api/docs')).map((r) => `${r.method} ${r.url}`);
  assert.deepEqual(publicApi.sort(), [
      'GET /api/openapi.json',
      'GET /api/setup/status',
      'POST /api/auth/login',
      'POST /api/auth/totp',
      'POST /api/setup',
      // Double opt-in confirmation link opened by the contact (signed token).
      'GET /api/public/consent/confirm',
    ].sort());
});

test('a route without a guard stops the server from starting', async () => {
  const rogue = (app: import('fastify').FastifyInstance) => {
    app.get('/api/rogue', async () => 'oops');
  };
  await assert.rejects(
    buildServer(serverDeps(testConfig(), t.database, createLogger({ level: 'silent', format: 'json' })), [...domainRoutes, rogue]),
    /without a declared guard: GET \/api\/rogue/,
  );
});

test('every non-public API route refuses an anonymous caller with 401 problem+json', async () => {
  const { app, routes } = await buildServer(serverDeps(testConfig(), t.database, createLogger({ level: 'silent', format: 'json' })), domainRoutes);
  try {
    for (const r of routes.filter((x) => x.guard !== 'public')) {
      const url = r.url.replace(/:(\w+)/g, '1');
      const res = await app.inject({ method: r.method as 'GET', url, headers: { 'content-type': 'application/json' }, payload: r.method === 'GET' ? undefined : '{}' });
      assert.equal(res.statusCode, 401, `${r.method} ${r.url} answered ${res.statusCode}`);
      assert.match(res.headers['content-type'] as string, /application\/problem\+json/);
    }
  } finally {
    await app.close();
  }
});

test('health, readiness and the OpenAPI document', async () => {
  const c = new Client(t.app);
  assert.equal((await c.get('/healthz')).statusCode, 200);
  const ready = await c.get('/readyz');
  assert.equal(ready.statusCode, 200);
  assert.equal(ready.json().status, 'ready');
  const doc = (await c.get('/api/openapi.json')).json();
  assert.equal(doc.openapi.startsWith('3.'), true);
  assert.ok(doc.paths['/api/auth/login'].post);
  assert.ok(doc.paths['/api/users'].get);
  assert.equal((await c.get('/api/docs/')).statusCode, 200);
});

test('errors are problem+json with a stable code, and validation names the field', async () => {
  const c = new Client(t.app);
  const missing = await c.get('/api/nope');
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json().code, 'not_found');
  assert.equal(missing.json().type, 'urn:mailwarden:problem:not_found');

  const badJson = await c.request('POST', '/api/auth/login', undefined, { 'content-type': 'application/json' });
  assert.equal(badJson.statusCode, 400);

  const invalid = await c.post('/api/auth/login', { email: 'x@example.com' });
  assert.equal(invalid.statusCode, 400);
  assert.equal(invalid.json().code, 'validation_failed');
  assert.equal(invalid.json().errors[0].path, 'body.password');
  assert.doesNotMatch(invalid.body, /at .*\.ts:\d+/);

  const { client } = await signedInAs(t, 'admin');
  const badKey = await client.post('/api/api-keys', { name: 'x', scopes: ['not-a-scope'] });
  assert.equal(badKey.statusCode, 400);
  assert.match(badKey.json().errors[0].path, /scopes/);
});

test('oversized bodies are refused with 413 problem+json', async () => {
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/auth/login',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ email: 'a@example.com', password: 'x'.repeat(2 * 1024 * 1024) }),
  });
  assert.equal(res.statusCode, 413);
  assert.match(res.headers['content-type'] as string, /problem\+json/);
});

test('security headers: CSP without inline scripts, no framing, no sniffing', async () => {
  const res = await new Client(t.app).get('/healthz');
  const csp = res.headers['content-security-policy'] as string;
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp.split(';').find((d) => d.trim().startsWith('script-src'))!, /unsafe-inline/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  assert.equal(res.headers['strict-transport-security'], undefined, 'no HSTS on plain http');
});

test('a cross-origin sign-in attempt is refused', async () => {
  const res = await new Client(t.app).post('/api/auth/login', { email: 'a@example.com', password: 'whatever-123456' }, { origin: 'https://evil.example' });
  assert.equal(res.statusCode, 403);
});

test('a 5xx never leaks a stack or SQL', async () => {
  const { app } = await buildServer(serverDeps(testConfig(), t.database, createLogger({ level: 'silent', format: 'json' })), [
    ...domainRoutes,
    (a) => {
      a.get('/api/boom', { config: { guard: 'public' } }, async () => {
        throw new Error('relation "secret_table" does not exist at /src/x.ts:1');
      });
    },
  ]);
  const res = await app.inject({ method: 'GET', url: '/api/boom' });
  await app.close();
  assert.equal(res.statusCode, 500);
  assert.equal(res.json().code, 'internal_error');
  assert.doesNotMatch(res.body, /secret_table|\.ts:/);
});
