import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import PostalMime from 'postal-mime';
import { stampGatewayHeaders } from './gateway.ts';
import { scanMessage } from './scan.ts';
import { buildMessage } from './testing.ts';
import type { ScanResult } from './types.ts';

function fakeResult(verdict: ScanResult['verdict'], score: number): ScanResult {
  return {
    score,
    verdict,
    probability: score / 100,
    reasons: [{ signal: 'links.ip_host', detail: 'Link points to a bare IP address (192.0.2.1)', weight: 20 }],
    auth: { source: 'header', spf: 'fail', dkim: 'none', dmarc: 'fail', arc: 'unknown' },
    links: [],
    attachments: [],
    limits: [],
  };
}

const raw = buildMessage({
  from: 'x@evil.example',
  headers: { 'X-Mailwarden-Verdict': 'clean', 'X-Mailwarden-Score': '0' },
  text: 'Plain body with ünïcode',
  html: '<html><body><p>HTML body</p></body></html>',
  attachments: [{ filename: 'notes.txt', contentType: 'text/plain', content: 'attachment text must stay' }],
});

describe('stampGatewayHeaders', () => {
  test('adds verdict, score, reasons and Authentication-Results; strips forged stamps', async () => {
    const out = stampGatewayHeaders(raw, fakeResult('suspicious', 66), { authservId: 'gw.acme.example' });
    const parsed = await PostalMime.parse(out);
    const h = (k: string) => parsed.headers.filter((x) => x.key === k).map((x) => x.value);
    assert.deepEqual(h('x-mailwarden-verdict'), ['suspicious']);
    assert.deepEqual(h('x-mailwarden-score'), ['66']);
    assert.deepEqual(h('x-mailwarden-reasons'), ['links.ip_host']);
    assert.deepEqual(h('authentication-results'), ['gw.acme.example; spf=fail; dkim=none; dmarc=fail']);
    // body untouched without banner
    assert.equal(out.toString('latin1').split(/\r\n\r\n/).slice(1).join('\r\n\r\n'), raw.toString('latin1').split(/\r\n\r\n/).slice(1).join('\r\n\r\n'));
  });

  test('prepends a banner to text/plain and text/html parts only, keeping attachments and charset', async () => {
    const out = stampGatewayHeaders(raw, fakeResult('phishing', 93), { authservId: 'gw', banner: true });
    const parsed = await PostalMime.parse(out);
    assert.match(parsed.text ?? '', /^WARNING: mailwarden rated this message phishing \(score 93\/100\)/);
    assert.match(parsed.text ?? '', /Plain body with ünïcode/);
    assert.match(parsed.html ?? '', /<body><div [^>]*data-mailwarden-banner="1"[^>]*>WARNING/);
    assert.match(parsed.html ?? '', /HTML body/);
    const att = parsed.attachments.find((a) => a.filename === 'notes.txt');
    assert.ok(att);
    assert.equal(new TextDecoder().decode(att!.content as ArrayBuffer), 'attachment text must stay');
  });

  test('no banner on clean mail or below the configured verdict', () => {
    const clean = stampGatewayHeaders(raw, fakeResult('clean', 3), { authservId: 'gw', banner: true });
    assert.ok(!clean.toString().includes('data-mailwarden-banner'));
    const susp = stampGatewayHeaders(raw, fakeResult('suspicious', 60), { authservId: 'gw', banner: true, bannerMinVerdict: 'phishing' });
    assert.ok(!susp.toString().includes('data-mailwarden-banner'));
  });

  test('works end to end on a scanned single-part message', async () => {
    const single = buildMessage({ from: '"PayPal" <a@paypa1.example>', text: 'Your account has been suspended. Verify your account: http://192.0.2.1/login' });
    const result = await scanMessage(single);
    const out = stampGatewayHeaders(single, result, { authservId: 'gw', banner: true, bannerMinVerdict: 'suspicious' });
    const parsed = await PostalMime.parse(out);
    assert.equal(parsed.headers.find((x) => x.key === 'x-mailwarden-score')?.value, String(result.score));
    if (result.verdict !== 'clean') assert.match(parsed.text ?? '', /^WARNING/);
    assert.match(parsed.text ?? '', /Your account has been suspended/);
  });
});
