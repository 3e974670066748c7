import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eq } from 'drizzle-orm';
import { Client, createTestApp, signedInAs, type TestApp } from '../../test/support/app.ts';
import { auditLog } from '../db/schema.ts';
import { apiKeys } from './schema.ts';
import { ipAllowed, isValidIpRule } from './api-keys.ts';

let t: TestApp;
let admin: Client;
before(async () => {
  t = await createTestApp();
  admin = (await signedInAs(t, 'admin')).client;
});
after(async () => {
  await t?.close();
});

const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });

test('a key is shown once, stored hashed, and works as a Bearer token within its scopes', async () => {
  const res = await admin.post('/api/api-keys', { name: 'CRM sync', scopes: ['audit:read'], allowedIps: [] });
  assert.equal(res.statusCode, 201, res.body);
  const { apiKey, secret } = res.json();
  assert.match(secret, /^mwk_[A-Za-z0-9]{10}_/);
  assert.equal(apiKey.secretHash, undefined);
  const [row] = await t.database.db.select().from(apiKeys).where(eq(apiKeys.id, apiKey.id));
  assert.ok(!row.secretHash.includes(secret.slice(15)), 'the secret is not stored');
  assert.equal(secret.length, 15 + 43);

  const machine = new Client(t.app, '192.0.2.10');
  const ok = await machine.get('/api/audit', bearer(secret));
  assert.equal(ok.statusCode, 200);
  const denied = await machine.get('/api/users', bearer(secret));
  assert.equal(denied.statusCode, 403);
  const notForKeys = await machine.get('/api/me', bearer(secret));
  assert.equal(notForKeys.statusCode, 403);

  const list = (await admin.get('/api/api-keys')).json();
  const listed = list.find((k: { id: number }) => k.id === apiKey.id);
  assert.equal(listed.lastUsedIp, '192.0.2.10');
  assert.ok(listed.lastUsedAt);
});

test('requests made with a key are attributed to it in the audit trail', async () => {
  const { secret, apiKey } = (await admin.post('/api/api-keys', { name: 'Exporter', scopes: ['audit:read'] })).json();
  await new Client(t.app).get('/api/audit/verify', bearer(secret));
  const entries = await t.database.db.select().from(auditLog).where(eq(auditLog.action, 'audit.verified'));
  const e = entries.at(-1)!;
  assert.equal(e.actorType, 'api_key');
  assert.equal(e.actorId, String(apiKey.id));
  assert.match(e.actorLabel!, /Exporter/);
});

test('revoked, expired, unknown and out-of-allow-list keys are refused', async () => {
  const { secret, apiKey } = (await admin.post('/api/api-keys', { name: 'Temp', scopes: ['audit:read'], allowedIps: ['198.51.100.0/24'] })).json();
  assert.equal((await new Client(t.app, '198.51.100.7').get('/api/audit', bearer(secret))).statusCode, 200);
  const outside = await new Client(t.app, '203.0.113.9').get('/api/audit', bearer(secret));
  assert.equal(outside.statusCode, 401);
  assert.match(outside.json().detail, /ip not allowed/);

  assert.equal((await admin.del(`/api/api-keys/${apiKey.id}`)).statusCode, 204);
  const revoked = await new Client(t.app, '198.51.100.7').get('/api/audit', bearer(secret));
  assert.equal(revoked.statusCode, 401);
  assert.match(revoked.json().detail, /revoked/);

  const forged = await new Client(t.app).get('/api/audit', bearer(`${secret.slice(0, -4)}AAAA`));
  assert.equal(forged.statusCode, 401);

  const exp = (await admin.post('/api/api-keys', { name: 'Short', scopes: ['audit:read'], expiresAt: new Date(Date.now() + 60_000).toISOString() })).json();
  await t.database.query('UPDATE api_keys SET expires_at = now() - interval \'1 second\' WHERE id = $1', [exp.apiKey.id]);
  const expired = await new Client(t.app).get('/api/audit', bearer(exp.secret));
  assert.match(expired.json().detail, /expired/);

  const rejected = await t.database.db.select().from(auditLog).where(eq(auditLog.action, 'apikey.rejected'));
  assert.ok(rejected.length >= 3);
});

test('key creation validates scopes, expiry and IP rules', async () => {
  assert.equal((await admin.post('/api/api-keys', { name: 'x', scopes: ['users:manage'] })).statusCode, 400, 'admin permissions are not grantable to keys');
  assert.equal((await admin.post('/api/api-keys', { name: 'x', scopes: ['audit:read'], allowedIps: ['not-an-ip'] })).statusCode, 400);
  const past = await admin.post('/api/api-keys', { name: 'x', scopes: ['audit:read'], expiresAt: '2020-01-01T00:00:00Z' });
  assert.equal(past.statusCode, 422);
  assert.equal(past.json().errors[0].path, 'expiresAt');
});

test('IP allow-list rules: addresses, CIDR, IPv6 and IPv4-mapped', () => {
  assert.ok(isValidIpRule('10.0.0.0/8'));
  assert.ok(isValidIpRule('2001:db8::/32'));
  assert.ok(!isValidIpRule('10.0.0.0/33'));
  assert.ok(!isValidIpRule('example.com'));
  assert.ok(ipAllowed([], '1.2.3.4'));
  assert.ok(ipAllowed(['10.0.0.0/8'], '::ffff:10.1.2.3'));
  assert.ok(!ipAllowed(['10.0.0.0/8'], '11.0.0.1'));
  assert.ok(ipAllowed(['2001:db8::/32'], '2001:db8::1'));
});
