// Detector logic in memory (no database): the detectors the scenario files do not cover.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultConfig } from './config.ts';
import { withinHours } from './detectors/access.ts';
import { detectorById } from './detectors/index.ts';
import type { Detection } from './detectors/types.ts';
import type { StoredEvent } from './events.ts';

let nextId = 1;
const T0 = Date.parse('2026-11-10T10:00:00Z');
function ev(type: string, atMs: number, extra: Partial<StoredEvent> = {}): StoredEvent {
  return {
    id: nextId++, at: new Date(atMs), type, source: 'test', actorType: 'user', actorId: null, actor: null, target: null, outcome: 'success', ip: null, userAgent: null,
    country: null, city: null, lat: null, lon: null, asn: null, size: null, count: null, details: {}, ...extra,
  };
}
/** Feed events to one detector with its default settings (optionally overridden); return its detections. */
function run(id: string, events: StoredEvent[], params: Record<string, number> = {}, workingHours = defaultConfig().workingHours): Detection[] {
  const def = detectorById.get(id)!;
  const state = def.create();
  const out: Detection[] = [];
  const ctx = { params: { ...def.params, ...params }, severity: def.severity, workingHours, emit: (d: Omit<Detection, 'detector' | 'severity'> & { severity?: Detection['severity'] }) => out.push({ ...d, detector: id, severity: d.severity ?? def.severity }) };
  for (const e of events) if (def.types.includes(e.type)) state.observe(e, ctx);
  return out;
}

describe('detectors', () => {
  test('second-factor brute force: 20 failed codes across sessions within a day, not 19', () => {
    const fails = (n: number) => Array.from({ length: n }, (_, i) => ev('auth.2fa.failure', T0 + i * 30 * 60_000 / 2, { actor: 'ann@acme.test', ip: `192.0.2.${i}` }));
    assert.equal(run('totp_bruteforce', fails(19)).length, 0);
    const d = run('totp_bruteforce', fails(20));
    assert.equal(d.length, 1);
    assert.equal(d[0].eventIds.length, 20);
    assert.equal(d[0].severity, 'critical');
  });

  test('lockout burst: 10 distinct accounts within 5 minutes', () => {
    const locks = Array.from({ length: 10 }, (_, i) => ev('auth.lockout', T0 + i * 20_000, { actor: `u${i}@acme.test` }));
    assert.equal(run('lockout_burst', locks.slice(0, 9)).length, 0);
    assert.equal(run('lockout_burst', locks).length, 1);
    const slow = Array.from({ length: 10 }, (_, i) => ev('auth.lockout', T0 + i * 60_000, { actor: `u${i}@acme.test` }));
    assert.equal(run('lockout_burst', slow).length, 0, 'spread over 9 minutes');
  });

  test('credential stuffing: 16 failures over 8 accounts from 2 IPs within 10 minutes; not from 20 IPs', () => {
    const few = Array.from({ length: 16 }, (_, i) => ev('auth.login.failure', T0 + i * 20_000, { actor: `v${i % 8}@acme.test`, ip: i % 2 ? '203.0.113.1' : '203.0.113.2', outcome: 'failure' }));
    const d = run('credential_stuffing', few);
    assert.ok(d.length >= 1);
    assert.deepEqual((d[0].details.ips as string[]).sort(), ['203.0.113.1', '203.0.113.2']);
    const many = Array.from({ length: 40 }, (_, i) => ev('auth.login.failure', T0 + i * 10_000, { actor: `w${i % 20}@acme.test`, ip: `198.51.100.${i % 20}`, outcome: 'failure' }));
    assert.equal(run('credential_stuffing', many).length, 0, 'two failures per IP from 20 IPs is not a few sources');
  });

  test('password spraying by ASN across many IPs of one network', () => {
    const evs = Array.from({ length: 16 }, (_, i) => ev('auth.login.failure', T0 + i * 60_000, { actor: `x${i}@acme.test`, ip: `198.51.100.${i}`, asn: 64500, outcome: 'failure' }));
    const d = run('password_spraying', evs);
    assert.ok(d.some((x) => x.entityType === 'asn' && x.entity === '64500'));
    assert.ok(!d.some((x) => x.entityType === 'ip'));
  });

  test('new device and new ASN for a user, after the first sign-in only teaches', () => {
    const mac = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15';
    const win = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0';
    const evs = [ev('auth.login.success', T0, { actor: 'kim@acme.test', userAgent: mac, asn: 3320 }), ev('auth.login.success', T0 + 86_400_000, { actor: 'kim@acme.test', userAgent: mac.replace('14_5', '15_0'), asn: 3320 }), ev('auth.login.success', T0 + 2 * 86_400_000, { actor: 'kim@acme.test', userAgent: win, asn: 16509 })];
    const dev = run('signin_new_device', evs);
    assert.equal(dev.length, 1, 'a browser version bump is the same device');
    assert.match(dev[0].title, /chrome\/windows/);
    assert.equal(run('signin_new_asn', evs).length, 1);
  });

  test('mass unmasked reads: absolute volume within an hour', () => {
    const reads = Array.from({ length: 25 }, (_, i) => ev('data.unmasked_read', T0 + i * 60_000, { actor: 'lee@acme.test', count: 100 }));
    const d = run('mass_unmasked_read', reads);
    assert.equal(d[0].eventIds.length, 20, 'fires when the hour reaches 2,000 rows');
  });

  test('recipient spike and delivery-failure burst (mail-server logs)', () => {
    const sends = Array.from({ length: 1000 }, (_, i) => ev('mail.sent', T0 + i * 1000, { actor: 'pwned@acme.test', target: `r${i}@else.example` }));
    assert.equal(run('recipient_spike', sends.slice(0, 999)).length, 0);
    assert.ok(run('recipient_spike', sends).length >= 1);
    const fails = Array.from({ length: 2000 }, (_, i) => ev(i % 2 ? 'mail.deferred' : 'mail.rejected', T0 + i * 1500, { actor: 'x@acme.test' }));
    const d = run('delivery_failures_burst', fails);
    assert.equal(d.length, 1);
    assert.equal(d[0].details['mail.deferred'], 1000);
    assert.equal(run('delivery_failures_burst', fails.slice(0, 1999)).length, 0);
  });

  test('large transfer above the learned 99th percentile (× factor) once enough sizes are known', () => {
    const normal = Array.from({ length: 1000 }, (_, i) => ev('mail.sent', T0 + i * 1000, { actor: 'n@acme.test', size: 1_000_000 + (i % 100) * 10_000 }));
    const big = ev('mail.sent', T0 + 2_000_000, { actor: 'n@acme.test', size: 3_500_000 });
    const d = run('large_transfer', [...normal, big]);
    assert.equal(d.length, 1);
    assert.equal(d[0].eventIds[0], big.id);
    assert.equal(run('large_transfer', [...normal.slice(0, 10), big]).length, 0, 'too few samples for a percentile, under the absolute limit');
  });

  test('working hours follow the workspace time zone', () => {
    const h = { timezone: 'America/New_York', start: 9, end: 17, days: [1, 2, 3, 4, 5] };
    assert.equal(withinHours(new Date('2026-11-10T15:00:00Z'), h), true, '10:00 in New York');
    assert.equal(withinHours(new Date('2026-11-10T23:30:00Z'), h), false, '18:30 in New York');
    assert.equal(withinHours(new Date('2026-11-14T15:00:00Z'), h), false, 'Saturday');
    const change = ev('settings.changed', Date.parse('2026-11-10T23:30:00Z'), { actor: 'ops@acme.test' });
    assert.equal(run('off_hours_privileged', [change], {}, h).length, 1);
    assert.equal(run('off_hours_privileged', [{ ...change, actorType: 'system' }], {}, h).length, 0, 'system jobs are not people');
  });
});
