// /api/smtp-relays: CRUD behind settings:manage, the write-only password
// (never in responses, logs or the audit trail), TLS rules, and the test
// endpoint against a real SMTP server.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import { createTestApp, signedInAs, type TestApp } from '../../test/support/app.ts';
import { backendName } from '../../test/support/db.ts';
import { type Sink, startSink } from '../../test/support/smtp-sink.ts';
import { auditLog } from '../audit/schema.ts';
import { openRelayPassword, relayKey } from './relays.ts';
import { smtpRelays } from './schema.ts';

let t: TestApp;
let sink: Sink;
before(async () => {
  t = await createTestApp();
  sink = await startSink();
});
after(async () => {
  await sink?.close();
  await t?.close();
});

const PASSWORD = 'relay-pw-Zq81-unique-marker';

describe(`SMTP relay routes (${backendName})`, () => {
  it('is for settings:manage only (a marketer gets 403)', async () => {
    const { client } = await signedInAs(t, 'marketer');
    assert.equal((await client.get('/api/smtp-relays')).statusCode, 403);
    assert.equal(
      (await client.post('/api/smtp-relays', { name: 'x', host: 'smtp.example.com' })).statusCode,
      403,
    );
    assert.equal((await client.post('/api/smtp-relays/1/test')).statusCode, 403);
  });

  it('creates, lists, updates and deletes relays; the password is sealed and never shown, logged or audited', async () => {
    const { client } = await signedInAs(t, 'admin');
    const created = await client.post('/api/smtp-relays', {
      name: 'Primary',
      host: 'smtp.example.com',
      port: 587,
      username: 'mailer',
      password: PASSWORD,
      weight: 3,
      perSecond: 20,
      perDay: 100000,
    });
    assert.equal(created.statusCode, 201, created.body);
    const relay = created.json() as Record<string, unknown>;
    assert.equal(relay.security, 'starttls');
    assert.equal(relay.hasPassword, true);
    assert.equal(relay.perHour, null);
    assert.ok(!('password' in relay) && !('passwordEnc' in relay));

    const [row] = await t.database.db
      .select()
      .from(smtpRelays)
      .where(eq(smtpRelays.id, relay.id as number));
    assert.ok(row.passwordEnc && !row.passwordEnc.includes(Buffer.from(PASSWORD)));
    assert.equal(openRelayPassword(relayKey(t.config.masterKey), row.id, row.passwordEnc), PASSWORD);

    const list = await client.get('/api/smtp-relays');
    assert.equal(list.statusCode, 200);
    assert.deepEqual(
      (list.json() as { items: { name: string }[] }).items.map((r) => r.name),
      ['Primary'],
    );

    const dup = await client.post('/api/smtp-relays', { name: 'Primary', host: 'smtp2.example.com' });
    assert.equal(dup.statusCode, 409);
    assert.equal(dup.json().code, 'relay_name_taken');

    // Updating other fields keeps the password; null clears it.
    const upd = await client.patch(`/api/smtp-relays/${relay.id}`, { weight: 5, enabled: false });
    assert.equal(upd.statusCode, 200, upd.body);
    assert.equal(upd.json().weight, 5);
    assert.equal(upd.json().enabled, false);
    assert.equal(upd.json().hasPassword, true);
    const cleared = await client.patch(`/api/smtp-relays/${relay.id}`, { password: null });
    assert.equal(cleared.json().hasPassword, false);
    const reset = await client.patch(`/api/smtp-relays/${relay.id}`, { password: `${PASSWORD}-2` });
    assert.equal(reset.json().hasPassword, true);

    assert.equal((await client.del(`/api/smtp-relays/${relay.id}`)).statusCode, 204);
    assert.equal((await client.del(`/api/smtp-relays/${relay.id}`)).statusCode, 404);
    assert.equal((await client.get('/api/smtp-relays')).json().items.length, 0);

    const audits = await t.database.db.select().from(auditLog);
    const mine = audits.filter((a) => a.target === `smtp_relay:${relay.id}`);
    assert.deepEqual(
      mine.map((a) => a.action),
      [
        'smtp_relay.created',
        'smtp_relay.updated',
        'smtp_relay.updated',
        'smtp_relay.updated',
        'smtp_relay.deleted',
      ],
    );
    assert.deepEqual(mine[1].details.changed, ['weight', 'enabled']);
    assert.equal(mine[2].details.password, 'cleared');
    for (const [where, text] of [
      ['responses', [created.body, list.body, upd.body, cleared.body, reset.body].join('\n')],
      ['logs', t.logs.join('\n')],
      ['audit trail', JSON.stringify(audits)],
    ] as const)
      assert.ok(!text.includes(PASSWORD), `password found in ${where}`);
  });

  it('refuses security "none" for a relay that is not on this machine (422), on create and update', async () => {
    const { client } = await signedInAs(t, 'owner');
    const res = await client.post('/api/smtp-relays', {
      name: 'plain',
      host: 'smtp.example.com',
      port: 25,
      security: 'none',
    });
    assert.equal(res.statusCode, 422);
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(res.json().code, 'tls_required');
    assert.equal(res.json().errors[0].path, 'body.security');

    const local = await client.post('/api/smtp-relays', {
      name: 'local',
      host: '127.0.0.1',
      port: 25,
      security: 'none',
    });
    assert.equal(local.statusCode, 201, local.body);
    const moved = await client.patch(`/api/smtp-relays/${local.json().id}`, { host: 'relay.example.net' });
    assert.equal(moved.statusCode, 422);
    assert.equal(moved.json().code, 'tls_required');
    assert.equal((await client.del(`/api/smtp-relays/${local.json().id}`)).statusCode, 204);

    const bad = await client.post('/api/smtp-relays', { name: 'bad', host: 'smtp://x', port: 70000 });
    assert.equal(bad.statusCode, 400);
  });

  it('tests a relay: EHLO against a real SMTP server succeeds, a refused connection reports the error', async () => {
    const { client } = await signedInAs(t, 'admin');
    const ok = await client.post('/api/smtp-relays', {
      name: 'sink',
      host: '127.0.0.1',
      port: sink.port,
      security: 'none',
    });
    const res = await client.post(`/api/smtp-relays/${ok.json().id}/test`);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().ok, true);
    assert.equal(res.json().tls, 'none');

    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const down = await client.post('/api/smtp-relays', {
      name: 'down',
      host: '127.0.0.1',
      port,
      security: 'none',
    });
    const failed = await client.post(`/api/smtp-relays/${down.json().id}/test`);
    assert.equal(failed.statusCode, 200);
    assert.equal(failed.json().ok, false);
    assert.match(failed.json().error, /ECONNREFUSED|ECONNECTION/);

    // STARTTLS is required by default: the sink does not offer it, so the test fails.
    const tlsRelay = await client.post('/api/smtp-relays', {
      name: 'needs-tls',
      host: 'localhost',
      port: sink.port,
    });
    const noTls = await client.post(`/api/smtp-relays/${tlsRelay.json().id}/test`);
    assert.equal(noTls.json().ok, false);
    assert.match(noTls.json().error, /STARTTLS|TLS/i);

    const tested = await t.database.db
      .select()
      .from(auditLog)
      .where(eq(auditLog.action, 'smtp_relay.tested'));
    assert.deepEqual(
      tested.map((a) => a.outcome),
      ['success', 'failure', 'failure'],
    );
  });
});
