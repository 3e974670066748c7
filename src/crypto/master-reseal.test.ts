// Master-key rotation re-seals the secrets kept under master sub-keys (TOTP,
// DKIM, relay passwords, queued transactional mail) so that removing the old
// key locks nobody out; idempotent; never overwrites what it cannot read.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { eq, sql } from 'drizzle-orm';
import { createTestApp, enrolTotp, signedInAs, type TestApp } from '../../test/support/app.ts';
import { users } from '../auth/schema.ts';
import { dkimKeys } from '../campaigns/schema.ts';
import { rows } from '../db/client.ts';
import { getOutboxMessage, OutboxTransport, outboxKey } from '../delivery/outbox.ts';
import { smtpRelays } from '../delivery/schema.ts';
import { deriveKey, openWithKey, sealWithKey } from './aead.ts';
import { resealUnderMaster } from './master-reseal.ts';

let t: TestApp;
before(async () => {
  t = await createTestApp();
});
after(async () => {
  await t?.close();
});

test('rotate-master re-seals TOTP secrets, DKIM keys and relay passwords under the new key', async () => {
  const db = t.database.db;
  const old = t.config.masterKey;
  const { client, user } = await signedInAs(t, 'admin');
  const { secret } = await enrolTotp(client);
  const d = await client.post('/api/sending-domains', { domain: 'rotate.example' });
  assert.equal((await client.post(`/api/sending-domains/${d.json().id}/dkim`, { algorithm: 'ed25519', selector: 'r1' })).statusCode, 201);
  const relay = await client.post('/api/smtp-relays', { name: 'r', host: 'smtp.example.com', port: 587, username: 'u', password: 'relay-secret-1' });
  assert.equal(relay.statusCode, 201, relay.body);
  // A secret sealed under a key nobody configured: reported, left untouched.
  const [other] = await db.insert(users).values({ email: 'stray@example.com', name: 'Stray', role: 'auditor', passwordHash: 'x', totpSecret: sealWithKey(deriveKey(randomBytes(32), 'totp-secrets'), 'JBSWY3DPEHPK3PXP', 'users.totp_secret|0') }).returning();

  const captured = Buffer.from('From: a@rotate.example\r\nTo: Cy <cy@example.org>\r\nSubject: Hello Cy\r\n\r\nHi Cy\r\n');
  for (const n of [1, 2]) await new OutboxTransport(db, outboxKey(old)).send({ envelope: { from: 'b@rotate.example', to: ['cy@example.org'] }, raw: captured, messageId: `<cy${n}@rotate.example>` });

  const next = randomBytes(32);
  const report = await resealUnderMaster(db, next, [old], 1); // pages of one row: the paging is exercised
  const by = Object.fromEntries(report.map((r) => [r.what, r]));
  assert.equal(by['TOTP secrets'].resealed, 1);
  assert.equal(by['TOTP secrets'].unreadable, 1, 'the stray row opens under no configured key');
  assert.equal(by['DKIM private keys'].resealed, 1);
  assert.equal(by['SMTP relay passwords'].resealed, 1);
  assert.equal(by['outbox summaries'].resealed, 2);
  assert.equal(by['outbox messages'].resealed, 2);

  const [u] = await db.select().from(users).where(eq(users.id, user.id));
  assert.equal(openWithKey(deriveKey(next, 'totp-secrets'), Buffer.from(u.totpSecret!), `users.totp_secret|${user.id}`).toString(), secret);
  assert.throws(() => openWithKey(deriveKey(old, 'totp-secrets'), Buffer.from(u.totpSecret!), `users.totp_secret|${user.id}`));
  const [k] = await db.select().from(dkimKeys);
  assert.match(openWithKey(deriveKey(next, 'dkim-keys'), Buffer.from(k.privateKeyEnc), 'dkim:rotate.example:r1').toString(), /BEGIN PRIVATE KEY/);
  const [r] = await db.select().from(smtpRelays);
  assert.equal(openWithKey(deriveKey(next, 'smtp-relays'), Buffer.from(r.passwordEnc!), `smtp-relay:${r.id}`).toString(), 'relay-secret-1');
  const [last] = await rows<{ id: string }>(db, sql`SELECT max(id)::text AS id FROM outbox_messages`);
  const m = await getOutboxMessage(db, outboxKey(next), Number(last.id));
  assert.equal(m?.subject, 'Hello Cy');
  assert.equal(m?.source, captured.toString());
  await assert.rejects(getOutboxMessage(db, outboxKey(old), Number(last.id)), /master key/);
  const [stray] = await rows<{ totp_secret: Buffer }>(db, sql`SELECT totp_secret FROM users WHERE id = ${other.id}`);
  assert.deepEqual(Buffer.from(stray.totp_secret), Buffer.from(other.totpSecret!), 'unreadable rows are never overwritten');

  // Idempotent: a second run (another process starting up) finds everything current.
  const again = await resealUnderMaster(db, next, [old]);
  assert.deepEqual(again.map((x) => x.resealed), [0, 0, 0, 0, 0, 0, 0]);
  assert.equal(again.find((x) => x.what === 'TOTP secrets')?.current, 1);
});
