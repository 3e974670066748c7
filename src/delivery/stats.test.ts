// Progress and statistics on a seeded ledger and engagement events, and the
// routes' guards.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestApp, signedInAs, type TestApp } from '../../test/support/app.ts';
import { backendName } from '../../test/support/db.ts';
import { createApiKey } from '../auth/api-keys.ts';
import {
  campaignRecipients,
  campaigns,
  type DeliveryState,
  engagementEvents,
  engagementTypeCodes,
} from '../campaigns/schema.ts';
import { bucketWidth, campaignProgress, type CampaignStats, type Progress } from './stats.ts';

let t: TestApp;
let campaignId: number;
const contacts = Array.from({ length: 12 }, () => randomUUID());
// taken after the app is up, so the 'last minute' rows are seconds old when progress is read
let now = Date.now();
const ago = (s: number) => new Date(now - s * 1000);

before(async () => {
  t = await createTestApp();
  now = Date.now();
  const db = t.database.db;
  const [c] = await db
    .insert(campaigns)
    .values({ workspaceId: 1, name: 'stats', state: 'sending', launchedAt: ago(3600) })
    .returning();
  campaignId = c.id;
  // 6 sent (3 within the last minute), 1 bounced, 1 deferred, 2 queued, 1 sending, 1 suppressed
  const plan: [DeliveryState, Date | null][] = [
    ['sent', ago(2)],
    ['sent', ago(3)],
    ['sent', ago(4)],
    ['sent', ago(1800)],
    ['sent', ago(1800)],
    ['sent', ago(3000)],
    ['bounced', ago(3000)],
    ['deferred', null],
    ['queued', null],
    ['queued', null],
    ['sending', null],
    ['suppressed', null],
  ];
  await db
    .insert(campaignRecipients)
    .values(plan.map(([state, sentAt], i) => ({ campaignId, contactId: contacts[i], state, sentAt })));
  const T = engagementTypeCodes;
  const ev = (i: number, type: number, automated: boolean, secondsAgo: number) => ({
    campaignId,
    contactId: contacts[i],
    type,
    automated,
    at: ago(secondsAgo),
  });
  await db
    .insert(engagementEvents)
    .values([
      ev(0, T.opened, false, 5),
      ev(0, T.opened, false, 4),
      ev(1, T.opened, false, 1700),
      ev(2, T.opened, true, 29),
      ev(3, T.opened, true, 1790),
      ev(3, T.opened, true, 1789),
      ev(0, T.clicked, false, 3),
      ev(4, T.clicked, true, 1795),
      ev(6, T.bounced, false, 2900),
      ev(5, T.complained, false, 600),
      ev(11, T.unsubscribed, false, 100),
    ]);
});
after(async () => {
  await t?.close();
});

describe(`campaign progress and statistics (${backendName})`, () => {
  it('progress: counts per state, rate over the last minute, ETA', async () => {
    const p = (await campaignProgress(t.database.db, campaignId)) as Progress;
    assert.equal(p.total, 12);
    assert.deepEqual(p.counts, {
      queued: 2,
      sending: 1,
      sent: 6,
      deferred: 1,
      failed: 0,
      bounced: 1,
      suppressed: 1,
      cancelled: 0,
    });
    assert.equal(p.remaining, 4);
    assert.equal(p.done, 8);
    assert.equal(p.ratePerSecond, 0.05, '3 sent in the last 60 s');
    assert.equal(p.etaSeconds, 80, '4 remaining at 0.05/s');
    assert.equal(await campaignProgress(t.database.db, 999_999), null);
  });

  it('stats: totals human vs automated, unique and total, and time buckets', async () => {
    const { client } = await signedInAs(t, 'sales_rep');
    const res = await client.get(`/api/campaigns/${campaignId}/stats`);
    assert.equal(res.statusCode, 200, res.body);
    const s = res.json() as Omit<CampaignStats, 'series'> & {
      series: (Omit<CampaignStats['series'][number], 't'> & { t: string })[];
    };
    assert.equal(s.recipients, 12);
    assert.equal(s.delivered, 6);
    assert.equal(s.sent, 7);
    assert.deepEqual(s.opens, { human: 3, automated: 3, humanUnique: 2, automatedUnique: 2 });
    assert.deepEqual(s.clicks, { human: 1, automated: 1, humanUnique: 1, automatedUnique: 1 });
    assert.equal(s.bounces, 1);
    assert.equal(s.complaints, 1);
    assert.equal(s.unsubscribes, 1);
    // 3000 s span → 1-minute buckets (≤ 60 of them); every series sums to its total
    assert.equal(s.bucketSeconds, 60);
    const sum = (k: Exclude<keyof CampaignStats['series'][number], 't'>) =>
      s.series.reduce((a, b) => a + b[k], 0);
    assert.equal(sum('sent'), 7);
    assert.equal(sum('opensHuman'), 3);
    assert.equal(sum('opensAutomated'), 3);
    assert.equal(sum('clicksHuman'), 1);
    assert.equal(sum('clicksAutomated'), 1);
    assert.equal(sum('bounces') + sum('complaints') + sum('unsubscribes'), 3);
    const times = s.series.map((b) => Date.parse(b.t));
    assert.ok(
      times.every((x, i) => i === 0 || x - times[i - 1] === 60_000),
      'contiguous buckets',
    );
    assert.ok(s.series.length >= 50 && s.series.length <= 52, String(s.series.length));
  });

  it('bucket widths keep series short', () => {
    assert.equal(bucketWidth(0), 60);
    assert.equal(bucketWidth(3600), 60);
    assert.equal(bucketWidth(3 * 3600), 300);
    assert.equal(bucketWidth(30 * 86400), 86400);
  });

  it('guards: campaigns:read for both; anonymous 401; unknown campaign 404', async () => {
    const { client } = await signedInAs(t, 'marketer');
    const p = await client.get(`/api/campaigns/${campaignId}/progress`);
    assert.equal(p.statusCode, 200);
    assert.equal(p.headers['cache-control'], 'no-store');
    assert.equal((p.json() as Progress).counts.sent, 6);
    assert.equal((await client.get('/api/campaigns/999999/stats')).statusCode, 404);
    for (const url of [`/api/campaigns/${campaignId}/progress`, `/api/campaigns/${campaignId}/stats`]) {
      assert.equal((await t.app.inject({ method: 'GET', url })).statusCode, 401);
    }
    // every role reads campaigns; an API key needs the scope
    const without = await createApiKey(t.database.db, {
      name: 'no-scope',
      scopes: ['messages:send'],
      expiresAt: null,
      allowedIps: [],
      createdBy: null,
    });
    const withScope = await createApiKey(t.database.db, {
      name: 'reader',
      scopes: ['campaigns:read'],
      expiresAt: null,
      allowedIps: [],
      createdBy: null,
    });
    const asKey = (secret: string) =>
      t.app.inject({
        method: 'GET',
        url: `/api/campaigns/${campaignId}/progress`,
        headers: { authorization: `Bearer ${secret}` },
      });
    assert.equal((await asKey(without.secret)).statusCode, 403);
    assert.equal((await asKey(withScope.secret)).statusCode, 200);
  });
});
