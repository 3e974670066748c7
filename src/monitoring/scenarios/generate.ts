// Writes the scenario files in this folder (run: node --import tsx src/monitoring/scenarios/generate.ts).
// Each file is JSON Lines in the POST /api/events record format; monitoring.test.ts
// replays them through the real ingest path and checks the alerts they raise.
import { writeFileSync } from 'node:fs';

const dir = new URL('./', import.meta.url);
const T0 = Date.parse('2026-11-10T10:00:00Z'); // a Tuesday, within working hours
const iso = (ms: number) => new Date(ms).toISOString();
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const UA = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
const write = (name: string, recs: object[]) => writeFileSync(new URL(`${name}.jsonl`, dir), `${recs.map((r) => JSON.stringify(r)).join('\n')}\n`);

// 25 failed passwords for one account in 4 minutes, then a success.
write('brute-force', [
  ...Array.from({ length: 25 }, (_, i) => ({ type: 'auth.login.failure', at: iso(T0 + i * 9_000), actor: 'alice@acme.test', target: 'alice@acme.test', ip: '198.51.100.23', userAgent: 'python-requests/2.31' })),
  { type: 'auth.login.success', at: iso(T0 + 4 * MIN), actor: 'alice@acme.test', ip: '198.51.100.23', userAgent: 'python-requests/2.31' },
]);

// One IP, 20 accounts, one failure each over 25 minutes.
write('spraying', Array.from({ length: 20 }, (_, i) => ({ type: 'auth.login.failure', at: iso(T0 + HOUR + i * 75_000), actor: `user${i}@acme.test`, ip: '203.0.113.77', userAgent: 'curl/8.4' })));

// Weeks of sign-ins from the UK, then Australia 40 minutes after a UK one.
write('impossible-travel', [
  ...Array.from({ length: 5 }, (_, i) => ({ type: 'auth.login.success', at: iso(T0 - (5 - i) * DAY), actor: 'bob@acme.test', ip: '81.2.69.160', userAgent: UA })),
  { type: 'auth.login.success', at: iso(T0 + 2 * HOUR), actor: 'bob@acme.test', ip: '81.2.69.160', userAgent: UA },
  { type: 'auth.login.success', at: iso(T0 + 2 * HOUR + 40 * MIN), actor: 'bob@acme.test', ip: '1.128.0.1', userAgent: UA },
]);

// Sign-ins from Germany for days, then one from Brazil three days later.
write('new-country', [
  ...Array.from({ length: 6 }, (_, i) => ({ type: 'auth.login.success', at: iso(T0 - (6 - i) * DAY), actor: 'carol@acme.test', ip: '85.214.132.117', userAgent: UA })),
  { type: 'auth.login.success', at: iso(T0 + 3 * HOUR), actor: 'carol@acme.test', ip: '177.67.80.1', userAgent: UA },
]);

// Small exports for a week, then 5,000 rows at once (≈ 33 × the usual).
write('mass-export', [
  ...[120, 180, 150, 140, 160].map((rows, i) => ({ type: 'data.export', at: iso(T0 - (5 - i) * DAY), actor: 'dave@acme.test', actorType: 'user', count: rows, ip: '85.214.132.117' })),
  { type: 'data.export', at: iso(T0 + 4 * HOUR), actor: 'dave@acme.test', actorType: 'user', count: 5000, ip: '85.214.132.117' },
]);

// Ordinary attachments, then a 40 MB one.
write('large-attachment', [
  ...Array.from({ length: 5 }, (_, i) => ({ type: 'attachment.uploaded', at: iso(T0 + 5 * HOUR + i * MIN), actor: 'erin@acme.test', size: 200_000 + i * 10_000 })),
  { type: 'attachment.uploaded', at: iso(T0 + 5 * HOUR + 10 * MIN), actor: 'erin@acme.test', size: 40 * 1024 * 1024, target: 'q3-pipeline.zip' },
]);

// ~20 recipients every 10 minutes for six hours, then 600 in ten minutes.
const sends: object[] = [];
for (let b = 0; b < 36; b++)
  for (let j = 0; j < 18 + (b % 5); j++)
    sends.push({ type: 'mail.sent', at: iso(T0 + 6 * HOUR + b * 10 * MIN + j * 20_000), actor: 'frank@acme.test', target: `lead${(b * 23 + j) % 400}@customer.example`, size: 40_000, count: 1 });
for (let j = 0; j < 600; j++) sends.push({ type: 'mail.sent', at: iso(T0 + 12 * HOUR + j * 900), actor: 'frank@acme.test', target: `cold${j}@prospect.example`, size: 40_000, count: 1 });
write('volume-spike', sends);

// Two privileged changes by one admin at 02:30 and 02:40 UTC (outside 07–20): one alert.
write('off-hours-admin', [
  { type: 'settings.changed', at: '2026-11-11T02:30:00Z', actor: 'grace@acme.test', actorType: 'user', target: 'workspace', ip: '85.214.132.117', details: { action: 'settings.changed' } },
  { type: 'user.role_changed', at: '2026-11-11T02:40:00Z', actor: 'grace@acme.test', actorType: 'user', target: 'mallory@acme.test', ip: '85.214.132.117', details: { action: 'user.role_changed' } },
]);
