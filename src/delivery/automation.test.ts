import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyEngagement, type EngagementRequest } from './automation.ts';

const delivered = new Date('2030-01-01T10:00:00Z');
const later = new Date('2030-01-01T10:05:00Z');
const chrome = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';
const req = (o: Partial<EngagementRequest> & { ua?: string; extra?: Record<string, string> }): EngagementRequest => ({
  kind: o.kind ?? 'click',
  method: o.method ?? 'GET',
  headers: { 'user-agent': o.ua ?? chrome, ...o.extra },
  at: o.at ?? later,
  deliveredAt: o.deliveredAt === undefined ? delivered : o.deliveredAt,
});

describe('classifyEngagement', () => {
  it('counts a browser click minutes after delivery as human', () => {
    assert.deepEqual(classifyEngagement(req({})), { automated: false, proxied: false });
    assert.deepEqual(classifyEngagement(req({ deliveredAt: null })), { automated: false, proxied: false });
  });
  it('flags HEAD, prefetch headers, scanner agents and missing agents', () => {
    assert.equal((classifyEngagement(req({ method: 'HEAD' })) as { reason: string }).reason, 'method');
    assert.equal((classifyEngagement(req({ extra: { 'sec-purpose': 'prefetch;prerender' } })) as { reason: string }).reason, 'prefetch');
    assert.equal((classifyEngagement(req({ extra: { purpose: 'prefetch' } })) as { reason: string }).reason, 'prefetch');
    for (const ua of ['Mozilla/5.0 (compatible; Barracuda Sentinel)', 'python-requests/2.31', 'Mozilla/5.0 ... HeadlessChrome/120', 'Proofpoint URL Defense', 'curl/8.1'])
      assert.equal((classifyEngagement(req({ ua })) as { reason: string }).reason, 'scanner_user_agent', ua);
    assert.equal((classifyEngagement(req({ ua: '' })) as { reason: string }).reason, 'no_user_agent');
  });
  it('flags clicks seconds after delivery and Apple MPP opens; Gmail proxy opens are human', () => {
    const soon = new Date(delivered.getTime() + 3000);
    assert.equal((classifyEngagement(req({ at: soon })) as { reason: string }).reason, 'too_soon');
    assert.deepEqual(classifyEngagement(req({ kind: 'open', at: soon })), { automated: false, proxied: false });
    assert.equal(classifyEngagement(req({ at: soon }), { minSecondsAfterDelivery: { click: 1 } }).automated, false);
    assert.equal((classifyEngagement(req({ kind: 'open', ua: 'Mozilla/5.0' })) as { reason: string }).reason, 'privacy_proxy');
    assert.deepEqual(classifyEngagement(req({ kind: 'open', ua: 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)' })), {
      automated: false,
      proxied: true,
    });
  });
});
