process.env.MAILWARDEN_GEOIP = 'on';
import assert from 'node:assert/strict';
import { createReadStream, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { and, eq, gt, sql } from 'drizzle-orm';
import { Client, createTestApp, signedInAs, strongPassword, type TestApp } from '../../test/support/app.ts';
import { ingestStream } from '../cli/events.ts';
import { auditLog, authThrottle, sessions } from '../db/schema.ts';
import { createUser } from '../auth/users.ts';
import { saveConfig } from './config.ts';
import type { Monitor } from './engine.ts';
import type { MonitorEvent } from './events.ts';
import { deliverWebhook, signWebhook, verifyWebhookSignature } from './notify.ts';
import { parsePostfix } from './postfix.ts';
import { monitorFor } from './registry.ts';
import { monitoringAlerts, notifications, securityEvents } from './schema.ts';

const scenario = (name: string) => new URL(`./scenarios/${name}`, import.meta.url);

let t: TestApp;
let monitor: Monitor;
let admin: Client;
before(async () => {
  t = await createTestApp();
  monitor = monitorFor(t.database);
  await monitor.ready;
  admin = (await signedInAs(t, 'admin')).client;
});
after(async () => {
  await t?.close();
});

async function maxAlertId(): Promise<number> {
  const [r] = await t.database.query<{ m: number | null }>('SELECT max(id)::int AS m FROM monitoring_alerts');
  return r.m ?? 0;
}
/** Alerts raised after `id`, less the off-hours alerts the test's own admin actions raise when the suite runs at night. */
const alertsAfter = async (id: number) =>
  (await t.database.db.select().from(monitoringAlerts).where(gt(monitoringAlerts.id, id)).orderBy(monitoringAlerts.id)).filter(
    (a) => !(a.detector === 'off_hours_privileged' && a.entity.endsWith('@example.com')),
  );

describe('a benign flood', () => {
  test('100,000 ordinary sign-ins, sends, exports and uploads raise no alert', async () => {
    const start = Date.parse('2026-10-01T00:00:00Z');
    const span = 7 * 86_400_000;
    let seed = 42;
    const rnd = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const ev = (type: string, at: number, extra: Partial<MonitorEvent>): MonitorEvent => ({
      at: new Date(at), type, source: 'jsonl', actorType: 'user', actorId: null, actor: null, target: null, outcome: 'success', ip: null, userAgent: null,
      country: null, city: null, lat: null, lon: null, asn: null, size: null, count: null, details: {}, ...extra,
    });
    const events: MonitorEvent[] = [];
    const users = Array.from({ length: 200 }, (_, i) => ({ email: `staff${i}@benign.test`, ip: `198.51.100.${i % 250}`, ua: `Mozilla/5.0 (Windows NT 10.0) Chrome/12${i % 5}.0` }));
    for (let i = 0; i < 30_000; i++) {
      const u = users[i % users.length];
      const at = start + rnd() * span;
      if (i % 15 === 0) events.push(ev('auth.login.failure', at - 20_000, { actor: u.email, ip: u.ip, userAgent: u.ua, outcome: 'failure' }));
      events.push(ev('auth.login.success', at, { actor: u.email, ip: u.ip, userAgent: u.ua }));
    }
    for (let i = 0; events.length < 92_000; i++) {
      const sender = `rep${i % 50}@benign.test`;
      events.push(ev('mail.sent', start + rnd() * span, { actor: sender, actorType: 'sender', target: `contact${Math.floor(rnd() * 5000)}@customers.example`, size: 5_000 + Math.floor(rnd() * 145_000), count: 1 }));
    }
    for (let i = 0; i < 2_000; i++) events.push(ev('data.export', start + rnd() * span, { actor: users[i % 200].email, count: 50 + Math.floor(rnd() * 100) }));
    for (let i = 0; i < 2_000; i++) events.push(ev('data.unmasked_read', start + rnd() * span, { actor: users[i % 200].email, count: 1 + Math.floor(rnd() * 5) }));
    while (events.length < 100_000) events.push(ev('attachment.uploaded', start + rnd() * span, { actor: users[events.length % 200].email, size: 10_000 + Math.floor(rnd() * 490_000) }));
    events.sort((a, b) => a.at.getTime() - b.at.getTime());
    const before = await maxAlertId();
    let accepted = 0;
    for (let i = 0; i < events.length; i += 5000) accepted += (await monitor.ingest(events.slice(i, i + 5000))).accepted;
    assert.equal(accepted, 100_000);
    const raised = await alertsAfter(before);
    assert.deepEqual(raised.map((a) => `${a.detector} ${a.entity}: ${a.title}`), []);
  });
});

describe('scenarios replayed through the ingest path', () => {
  const cases: { file: string; expect: { detector: string; entity: string; events?: number }[] }[] = [
    { file: 'brute-force', expect: [{ detector: 'password_guessing', entity: 'alice@acme.test', events: 25 }, { detector: 'success_after_failures', entity: 'alice@acme.test', events: 26 }] },
    { file: 'spraying', expect: [{ detector: 'password_spraying', entity: '203.0.113.77', events: 20 }] },
    { file: 'impossible-travel', expect: [{ detector: 'impossible_travel', entity: 'bob@acme.test', events: 2 }, { detector: 'signin_new_country', entity: 'bob@acme.test', events: 1 }] },
    { file: 'new-country', expect: [{ detector: 'signin_new_country', entity: 'carol@acme.test', events: 1 }] },
    { file: 'mass-export', expect: [{ detector: 'mass_export', entity: 'dave@acme.test' }] },
    { file: 'large-attachment', expect: [{ detector: 'large_transfer', entity: 'erin@acme.test', events: 1 }] },
    { file: 'volume-spike', expect: [{ detector: 'outbound_volume', entity: 'frank@acme.test' }] },
    { file: 'off-hours-admin', expect: [{ detector: 'off_hours_privileged', entity: 'grace@acme.test', events: 2 }] },
  ];
  for (const c of cases) {
    test(`${c.file} raises ${c.expect.map((e) => e.detector).join(' + ')}`, async () => {
      const before = await maxAlertId();
      const s = await ingestStream(t.database, createReadStream(scenario(`${c.file}.jsonl`)), 'jsonl');
      assert.equal(s.rejected, 0, JSON.stringify(s.rejects));
      assert.ok(s.accepted > 0);
      const raised = await alertsAfter(before);
      assert.deepEqual(
        raised.map((a) => `${a.detector} ${a.entity}`).sort(),
        c.expect.map((e) => `${e.detector} ${e.entity}`).sort(),
      );
      for (const e of c.expect) {
        const a = raised.find((x) => x.detector === e.detector)!;
        if (e.events) assert.equal(a.eventCount, e.events, `${e.detector} groups ${e.events} events`);
        assert.equal(a.evidence.length, Math.min(a.eventCount, 500));
        assert.ok(a.firstSeen.getTime() <= a.lastSeen.getTime());
        assert.equal(a.state, 'open');
      }
    });
  }

  test('the impossible-travel alert names both places; first seen is the first evidence event', async () => {
    const [a] = await t.database.db.select().from(monitoringAlerts).where(eq(monitoringAlerts.detector, 'impossible_travel'));
    assert.equal((a.details.from as { country: string }).country, 'GB');
    assert.equal((a.details.to as { country: string }).country, 'AU');
    assert.ok((a.details.km as number) > 10_000);
    assert.equal(a.firstSeen.toISOString(), '2026-11-10T12:00:00.000Z');
    const [g] = await t.database.db.select().from(monitoringAlerts).where(eq(monitoringAlerts.detector, 'password_guessing'));
    assert.equal(g.firstSeen.toISOString(), '2026-11-10T10:00:00.000Z');
  });

  test('replaying the brute force later in the same window extends the alert instead of opening another', async () => {
    const before = await maxAlertId();
    const [g0] = await t.database.db.select().from(monitoringAlerts).where(eq(monitoringAlerts.detector, 'password_guessing'));
    const more = Array.from({ length: 3 }, (_, i) => ({ type: 'auth.login.failure', at: new Date(Date.parse('2026-11-10T10:04:30Z') + i * 1000).toISOString(), actor: 'alice@acme.test', ip: '198.51.100.23' }));
    const res = await monitor.ingest((await import('./events.ts')).validateEvents(more, 'api').events);
    assert.equal(res.alertsCreated, 0);
    assert.equal((await alertsAfter(before)).length, 0);
    const [g1] = await t.database.db.select().from(monitoringAlerts).where(eq(monitoringAlerts.id, g0.id));
    assert.equal(g1.eventCount, g0.eventCount + 3);
  });
});

describe('Postfix logs', () => {
  test('the sample parses into sent, deferred, bounced, rejected, SASL-failure and forwarding events', () => {
    const { events, rejects } = parsePostfix(readFileSync(scenario('postfix-sample.log'), 'utf8'), { year: 2026 });
    assert.deepEqual(rejects.map((r) => [r.line, r.reason]), [[19, 'not a Postfix log line']]);
    const brief = events.map((e) => [e.type, e.actor, e.target]);
    assert.deepEqual(brief, [
      ['mail.sent', 'frank@acme.test', 'buyer@customer.example'],
      ['mail.deferred', 'frank@acme.test', 'cto@slowcorp.example'],
      ['mail.bounced', 'erin@acme.test', 'nobody@gone.example'],
      ['mail.rejected', 'invoice@phish.example', 'ceo@acme.test'],
      ['auth.login.failure', 'grace@acme.test', 'grace@acme.test'],
      ['mail.sent', 'hank@acme.test', 'hank.private@freemail.example'],
      ['mail.forwarded', 'hank@acme.test', 'hank.private@freemail.example'],
      ['mail.sent', 'ivy@acme.test', 'ops@partner.example'],
    ]);
    const [sent, deferred, bounced, rejected, sasl] = events;
    assert.equal(sent.size, 48213);
    assert.equal(sent.ip, '192.0.2.10');
    assert.equal(sent.details.saslUser, 'frank@acme.test');
    assert.equal(sent.details.queueId, '4BqX2k0Z1Yz9sW');
    assert.equal(sent.at.toISOString(), '2026-11-10T09:58:02.000Z');
    assert.equal(deferred.outcome, 'failure');
    assert.match(String(deferred.details.reason), /Connection timed out/);
    assert.equal(bounced.size, 31457920);
    assert.equal(bounced.details.dsn, '5.1.1');
    assert.equal(rejected.ip, '203.0.113.99');
    assert.match(String(rejected.details.reason), /Relay access denied/);
    assert.equal(sasl.ip, '203.0.113.99');
    assert.equal(events[7].at.toISOString(), '2026-11-10T10:02:01.000Z');
  });

  test('ingested through the CLI path, forwarding to an outside domain raises an alert once', async () => {
    const before = await maxAlertId();
    const s = await ingestStream(t.database, createReadStream(scenario('postfix-sample.log')), 'postfix', { year: 2026 });
    assert.equal(s.accepted, 8);
    assert.equal(s.rejected, 1);
    const raised = await alertsAfter(before);
    assert.deepEqual(raised.map((a) => `${a.detector} ${a.entity}`), ['new_forwarding hank@acme.test']);
    const again = await ingestStream(t.database, createReadStream(scenario('postfix-sample.log')), 'postfix', { year: 2026 });
    assert.equal(again.alertsCreated, 0);
  });
});

describe('POST /api/events and API key use', () => {
  test('a batch keeps the valid records and reports the invalid ones with reasons', async () => {
    const { secret } = (await admin.post('/api/api-keys', { name: 'SIEM bridge', scopes: ['events:write'] })).json();
    const machine = new Client(t.app, '192.0.2.80');
    const res = await machine.post(
      '/api/events',
      {
        events: [
          { type: 'auth.login.failure', actor: 'zed@acme.test', ip: '192.0.2.1' },
          { type: 'no.such.type', actor: 'x' },
          { type: 'mail.sent', actor: 'zed@acme.test', size: -5 },
          { type: 'data.export', actor: 'zed@acme.test', count: 12, at: '2026-11-20T10:00:00Z' },
        ],
      },
      { authorization: `Bearer ${secret}` },
    );
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.accepted, 2);
    assert.deepEqual(body.rejects.map((r: { index: number }) => r.index), [1, 2]);
    assert.match(body.rejects[0].reason, /type/);
    assert.match(body.rejects[1].reason, /size/);
    const stored = await t.database.db.select().from(securityEvents).where(eq(securityEvents.actor, 'zed@acme.test'));
    assert.equal(stored.length, 2);
    assert.equal(stored.find((e) => e.type === 'data.export')!.count, 12);
    assert.equal(stored[0].source, 'api');

    const noScope = (await admin.post('/api/api-keys', { name: 'reader', scopes: ['audit:read'] })).json();
    assert.equal((await machine.post('/api/events', { events: [{ type: 'mail.sent' }] }, { authorization: `Bearer ${noScope.secret}` })).statusCode, 403);
  });

  test('a key used from a second IP raises apikey_anomaly; the allow-list refusal too', async () => {
    const { secret, apiKey } = (await admin.post('/api/api-keys', { name: 'Exporter', scopes: ['audit:read'], allowedIps: ['192.0.2.0/24', '198.51.100.0/24'] })).json();
    const before = await maxAlertId();
    await new Client(t.app, '192.0.2.5').get('/api/audit', { authorization: `Bearer ${secret}` });
    await new Client(t.app, '192.0.2.5').get('/api/audit', { authorization: `Bearer ${secret}` });
    await new Client(t.app, '198.51.100.9').get('/api/audit', { authorization: `Bearer ${secret}` });
    assert.equal((await new Client(t.app, '203.0.113.5').get('/api/audit', { authorization: `Bearer ${secret}` })).statusCode, 401);
    await monitor.flush();
    const used = await t.database.db.select().from(securityEvents).where(and(eq(securityEvents.type, 'apikey.used'), eq(securityEvents.actorId, String(apiKey.id))));
    assert.deepEqual(used.map((e) => e.ip).sort(), ['192.0.2.5', '198.51.100.9']);
    const raised = await alertsAfter(before);
    assert.equal(raised.length, 1, `new IP and refusal group into one alert for the key: ${JSON.stringify(raised)}`);
    assert.equal(raised[0].detector, 'apikey_anomaly');
    assert.equal(raised[0].entityType, 'api_key');
    assert.equal(raised[0].severity, 'high');
    assert.equal(raised[0].eventCount, 2);
  });
});

describe("mailwarden's own activity", () => {
  test('sign-in failures and successes become events with IP, user agent and actor', async () => {
    const email = 'own-events@example.com';
    await createUser(t.database.db, { type: 'system', label: 'test' }, { email, name: 'Own', role: 'marketer', password: strongPassword });
    const c = new Client(t.app, '81.2.69.160');
    assert.equal((await c.post('/api/auth/login', { email, password: 'wrong-password-1' }, { 'user-agent': 'TestAgent/1' })).statusCode, 401);
    assert.equal((await c.post('/api/auth/login', { email, password: strongPassword }, { 'user-agent': 'TestAgent/1' })).statusCode, 200);
    await monitor.flush();
    const evs = await t.database.db.select().from(securityEvents).where(eq(securityEvents.actor, email)).orderBy(securityEvents.id);
    assert.deepEqual(evs.map((e) => e.type), ['auth.login.failure', 'auth.login.success']);
    assert.equal(evs[0].ip, '81.2.69.160');
    assert.equal(evs[0].country, 'GB');
    assert.equal(evs[0].userAgent, 'TestAgent/1');
    assert.equal(evs[0].source, 'app');
  });

  test('the activity explorer filters by user, IP, country and type; auditors read, cannot act', async () => {
    const r = (await admin.get('/api/monitoring/events?country=GB&type=auth.login.*&limit=500')).json();
    assert.ok(r.items.length >= 2);
    assert.ok(r.items.every((e: { country: string; type: string }) => e.country === 'GB' && e.type.startsWith('auth.login.')));
    const byIp = (await admin.get('/api/monitoring/events?ip=203.0.113.77')).json();
    assert.equal(byIp.items.length, 20);
    const byUser = (await admin.get('/api/monitoring/events?user=carol@acme.test')).json();
    assert.equal(byUser.items.length, 7);
    const auditor = (await signedInAs(t, 'auditor')).client;
    const alerts = (await auditor.get('/api/monitoring/alerts?state=open&severity=high,critical')).json();
    assert.ok(alerts.items.length >= 3);
    assert.ok(alerts.items.every((a: { severity: string }) => a.severity === 'high' || a.severity === 'critical'));
    assert.equal((await auditor.patch(`/api/monitoring/alerts/${alerts.items[0].id}`, { state: 'acknowledged' })).statusCode, 403);
    const marketer = (await signedInAs(t, 'marketer')).client;
    assert.equal((await marketer.get('/api/monitoring/alerts')).statusCode, 403);
    const trend = (await admin.get('/api/monitoring/alerts/trend?days=60')).json();
    assert.ok(trend.length > 0);
  });
});

describe('alert workflow, responses and notifications', () => {
  test('state changes and notes are kept and audited; detail shows the evidence timeline', async () => {
    const [a] = await t.database.db.select().from(monitoringAlerts).where(eq(monitoringAlerts.detector, 'password_spraying'));
    const res = await admin.patch(`/api/monitoring/alerts/${a.id}`, { state: 'acknowledged', note: 'Blocking the IP at the firewall.' });
    assert.equal(res.statusCode, 200, res.body);
    const detail = (await admin.get(`/api/monitoring/alerts/${a.id}`)).json();
    assert.equal(detail.alert.state, 'acknowledged');
    assert.equal(detail.alert.notes[0].text, 'Blocking the IP at the firewall.');
    assert.equal(detail.evidence.length, 20);
    assert.ok(detail.evidence.every((e: { ip: string }) => e.ip === '203.0.113.77'));
    const [entry] = await t.database.db.select().from(auditLog).where(eq(auditLog.action, 'monitoring.alert_updated'));
    assert.equal(entry.details.to, 'acknowledged');
  });

  test('lock and session revocation are applied, audited, and reversible from the alert', async () => {
    const { user, client } = await signedInAs(t, 'marketer', 'victim@acme.test');
    const [a] = await t.database.db
      .insert(monitoringAlerts)
      .values({ detector: 'success_after_failures', severity: 'critical', entityType: 'user', entity: user.email, title: 't', firstSeen: new Date(), lastSeen: new Date(), eventCount: 1, evidence: [], details: {} })
      .returning();
    const lock = await admin.post(`/api/monitoring/alerts/${a.id}/responses`, { action: 'lock_account' });
    assert.equal(lock.statusCode, 201, lock.body);
    const signIn = await new Client(t.app).post('/api/auth/login', { email: user.email, password: strongPassword });
    assert.equal(signIn.statusCode, 423);
    const revoke = (await admin.post(`/api/monitoring/alerts/${a.id}/responses`, { action: 'revoke_sessions' })).json();
    assert.equal(revoke.state, 'applied');
    assert.equal((await client.get('/api/me')).statusCode, 401);
    const pause = (await admin.post(`/api/monitoring/alerts/${a.id}/responses`, { action: 'pause_campaigns' })).json();
    assert.equal(pause.state, 'noop');

    assert.equal((await admin.post(`/api/monitoring/responses/${revoke.id}/revert`)).statusCode, 200);
    assert.equal((await client.get('/api/me')).statusCode, 200, 'the revoked session is live again');
    assert.equal((await admin.post(`/api/monitoring/responses/${lock.json().id}/revert`)).statusCode, 200);
    const [throttle] = await t.database.db.select().from(authThrottle).where(eq(authThrottle.key, `acct:${user.email}`));
    assert.equal(throttle, undefined);
    assert.equal((await admin.post(`/api/monitoring/responses/${revoke.id}/revert`)).statusCode, 409);
    const audits = await t.database.db.select().from(auditLog).where(sql`${auditLog.action} LIKE 'monitoring.response_%'`);
    assert.deepEqual(audits.map((x) => x.action).sort(), ['monitoring.response_applied', 'monitoring.response_applied', 'monitoring.response_applied', 'monitoring.response_reverted', 'monitoring.response_reverted']);
    const detail = (await admin.get(`/api/monitoring/alerts/${a.id}`)).json();
    assert.deepEqual(detail.responses.map((r: { action: string; state: string }) => `${r.action}:${r.state}`), ['lock_account:reverted', 'revoke_sessions:reverted', 'pause_campaigns:noop']);
    assert.equal(detail.responses[0].undo, undefined);
    const live = await t.database.db.select().from(sessions).where(eq(sessions.userId, user.id));
    assert.ok(live.some((s) => s.revokedAt === null));
  });

  test('API key revocation and 2FA re-enrolment are reversible too', async () => {
    const { secret, apiKey } = (await admin.post('/api/api-keys', { name: 'Leaky', scopes: ['audit:read'] })).json();
    const [ka] = await t.database.db
      .insert(monitoringAlerts)
      .values({ detector: 'apikey_anomaly', severity: 'high', entityType: 'api_key', entity: 'leaky', title: 't', firstSeen: new Date(), lastSeen: new Date(), eventCount: 1, evidence: [], details: { keyId: String(apiKey.id) } })
      .returning();
    const rk = (await admin.post(`/api/monitoring/alerts/${ka.id}/responses`, { action: 'revoke_api_key' })).json();
    assert.equal(rk.state, 'applied');
    assert.equal((await new Client(t.app).get('/api/audit', { authorization: `Bearer ${secret}` })).statusCode, 401);
    await admin.post(`/api/monitoring/responses/${rk.id}/revert`);
    assert.equal((await new Client(t.app).get('/api/audit', { authorization: `Bearer ${secret}` })).statusCode, 200);

    const { user, client } = await signedInAs(t, 'marketer', 'twofa@acme.test');
    const { enrolTotp } = await import('../../test/support/app.ts');
    await enrolTotp(client);
    const [ua] = await t.database.db
      .insert(monitoringAlerts)
      .values({ detector: 'totp_bruteforce', severity: 'critical', entityType: 'user', entity: user.email, title: 't', firstSeen: new Date(), lastSeen: new Date(), eventCount: 1, evidence: [], details: {} })
      .returning();
    const r2 = (await admin.post(`/api/monitoring/alerts/${ua.id}/responses`, { action: 'require_2fa_reenrol' })).json();
    assert.equal(r2.state, 'applied');
    const [{ totp_enabled: off, must_enrol_2fa: must }] = await t.database.query<{ totp_enabled: boolean; must_enrol_2fa: boolean }>('SELECT totp_enabled, must_enrol_2fa FROM users WHERE id = $1', [user.id]);
    assert.equal(off, false);
    assert.equal(must, true);
    await admin.post(`/api/monitoring/responses/${r2.id}/revert`);
    const [back] = await t.database.query<{ totp_enabled: boolean; must_enrol_2fa: boolean; codes: number }>(
      'SELECT totp_enabled, must_enrol_2fa, (SELECT count(*)::int FROM recovery_codes WHERE user_id = $1) AS codes FROM users WHERE id = $1',
      [user.id],
    );
    assert.deepEqual(back, { totp_enabled: true, must_enrol_2fa: false, codes: 10 });
  });

  test('automatic responses (opt-in) and notifications per severity: outbox e-mail and a signed webhook', async (t2) => {
    const received: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    // Closed whatever happens: an open server would keep the test file from ever finishing.
    t2.after(() => server.close());
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const secret = 'whsec-0123456789abcdef';
    const res = await admin.patch('/api/monitoring/settings', {
      detectors: { password_guessing: { responses: ['lock_account'] } },
      notify: { email: { recipients: ['soc@acme.test'], minSeverity: 'high' }, webhooks: [{ url, secret, minSeverity: 'medium' }] },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().notify.webhooks[0].secret, '••••');
    const before = await maxAlertId();
    const fails = Array.from({ length: 20 }, (_, i) => ({ type: 'auth.login.failure', at: new Date(Date.now() - 60_000 + i * 1000).toISOString(), actor: 'mallory@acme.test', ip: '192.0.2.66' }));
    const r = (await new Client(t.app).post('/api/events', { events: fails }, { authorization: `Bearer ${(await admin.post('/api/api-keys', { name: 'feed', scopes: ['events:write'] })).json().secret}` })).json();
    assert.equal(r.alertsCreated, 1);
    // Other detectors may raise alerts meanwhile from the test's own admin actions (the API key it
    // creates is used from a new address), in whatever order the monitor writes them.
    const raised = await alertsAfter(before);
    const alert = raised.find((a) => a.detector === 'password_guessing');
    assert.ok(alert, `password_guessing among ${raised.map((a) => `${a.detector}/${a.severity}`).join(', ')}`);
    const [lock] = await t.database.db.select().from(authThrottle).where(eq(authThrottle.key, 'acct:mallory@acme.test'));
    assert.ok(lock.lockedUntil && lock.lockedUntil.getTime() > Date.now(), 'the account was locked automatically');
    const out = await t.database.db.select().from(notifications).where(eq(notifications.alertId, alert.id));
    assert.deepEqual(out.map((n) => `${n.channel}:${n.recipient}:${n.status}`).sort(), [`email:soc@acme.test:pending`, `webhook:${url}:pending`]);

    const hook = out.find((n) => n.channel === 'webhook')!;
    const { loadConfig } = await import('./config.ts');
    assert.equal(await deliverWebhook(t.database.db, await loadConfig(t.database.db), hook.id), 'sent');
    server.close();
    assert.equal(received.length, 1);
    const sig = String(received[0].headers['x-mailwarden-signature']);
    assert.ok(verifyWebhookSignature(secret, sig, received[0].body));
    assert.equal(JSON.parse(received[0].body).alert.id, alert.id);
    assert.equal(verifyWebhookSignature(secret, sig, `${received[0].body} `), false, 'a changed body fails');
    assert.equal(verifyWebhookSignature('another-secret-value', sig, received[0].body), false);
    const old = signWebhook(secret, received[0].body, Math.floor(Date.now() / 1000) - 3600);
    assert.equal(verifyWebhookSignature(secret, old, received[0].body), false, 'outside the replay window');
    const [sent] = await t.database.db.select().from(notifications).where(eq(notifications.id, hook.id));
    assert.equal(sent.status, 'sent');
    // An unreachable webhook throws (so pg-boss retries) and records the error.
    await saveConfig(t.database.db, { notify: { webhooks: [{ url: 'http://127.0.0.1:9/none', secret, minSeverity: 'low' }] } });
    const [n2] = await t.database.db.insert(notifications).values({ channel: 'webhook', recipient: 'http://127.0.0.1:9/none', subject: 's', body: '{}', payload: {}, severity: 'high' }).returning();
    await assert.rejects(deliverWebhook(t.database.db, await loadConfig(t.database.db), n2.id, 1000));
    const [failed] = await t.database.db.select().from(notifications).where(eq(notifications.id, n2.id));
    assert.equal(failed.attempts, 1);
    assert.ok(failed.lastError);
    await saveConfig(t.database.db, { detectors: { password_guessing: { responses: [] } }, notify: { email: { recipients: [] }, webhooks: [] } });
    await monitor.reloadConfig();
  });
});

describe('storage', () => {
  test('events are append-only; retention prunes old ones', async () => {
    await assert.rejects(t.database.query(`UPDATE security_events SET actor = 'x' WHERE id = (SELECT min(id) FROM security_events)`), /append-only/);
    await assert.rejects(t.database.query('DELETE FROM security_events WHERE id = (SELECT min(id) FROM security_events)'), /append-only/);
    await monitor.ingest([{ at: new Date('2024-01-01T00:00:00Z'), type: 'mail.sent', source: 'jsonl', actorType: null, actorId: null, actor: 'ancient@acme.test', target: null, outcome: 'success', ip: null, userAgent: null, country: null, city: null, lat: null, lon: null, asn: null, size: null, count: null, details: {} }]);
    await saveConfig(t.database.db, { retentionDays: 365 });
    await monitor.reloadConfig();
    const n = await monitor.prune();
    assert.equal(n, 1);
    const left = await t.database.db.select().from(securityEvents).where(eq(securityEvents.actor, 'ancient@acme.test'));
    assert.equal(left.length, 0);
    const [{ c }] = await t.database.query<{ c: number }>('SELECT count(*)::int AS c FROM security_events');
    assert.ok(c > 100_000);
  });

  test('detector state is rebuilt from the events table: a new monitor still knows bob\'s countries', async () => {
    const { Monitor } = await import('./engine.ts');
    // lease: false — the suite's monitor holds the lease; this one must run its detectors anyway.
    const fresh = new Monitor(t.database, { prune: false, replayHours: 1, lease: false });
    await fresh.ready;
    const before = await maxAlertId();
    const r = await fresh.ingest((await import('./events.ts')).validateEvents([{ type: 'auth.login.success', at: '2026-11-12T10:00:00Z', actor: 'bob@acme.test', ip: '81.2.69.160', userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15' }], 'api').events);
    assert.equal(r.alertsCreated, 0, 'GB is known for bob');
    assert.equal((await alertsAfter(before)).length, 0);
    await fresh.stop();
  });

  test('a starting monitor replays each detector\'s own window and learns message sizes with one query', async () => {
    const { Monitor } = await import('./engine.ts');
    // 2,000 messages 10 hours ago: older than any window that reads mail.sent (outbound volume: 6 h 10 min),
    // but inside the 24 h the size distribution is learned from; 50 in the last hour.
    for (const [hoursAgo, n, who] of [[10, 2000, 'old-bulk@replay.test'], [1, 50, 'recent@replay.test']] as const)
      await t.database.query(
        // seen: history, not rows for the suite's own monitor (the lease holder on PostgreSQL) to read back and detect on.
        `INSERT INTO security_events (at, type, source, actor, size, details, seen)
         SELECT now() - make_interval(hours => $1), 'mail.sent', 'jsonl', $2, 10000 + g, '{}'::jsonb, true FROM generate_series(1, $3) g`,
        [hoursAgo, who, n],
      );
    const fresh = new Monitor(t.database, { prune: false, lease: false });
    await fresh.ready;
    try {
      assert.ok(fresh.lastReplay.observed >= 50, 'the last hour is replayed');
      assert.ok(fresh.lastReplay.observed < 2000, `the 10-hour-old messages are not (${fresh.lastReplay.observed} replayed)`);
      // Yet the size distribution knows all 2,050: a 2.5 MB message (≥ 2 MB and ≥ 1.5 × the 99th percentile) fires.
      const before = await maxAlertId();
      const r = await fresh.ingest((await import('./events.ts')).validateEvents([{ type: 'mail.sent', actor: 'big@replay.test', size: 2.5 * 1024 * 1024 }], 'api').events);
      assert.equal(r.alertsCreated, 1);
      assert.deepEqual(
        (await alertsAfter(before)).filter((a) => a.entity === 'big@replay.test').map((a) => a.detector),
        ['large_transfer'],
      );
    } finally {
      await fresh.stop();
    }
  });
});
