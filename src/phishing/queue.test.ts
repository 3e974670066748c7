// The analyst queue end to end: submit, list/filter, safe detail view, analyst verdicts that
// teach the model, blocklist, history and trend, permissions and audit.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client, createTestApp, signedInAs, type TestApp } from '../../test/support/app.ts';
import { auditLog } from '../db/schema.ts';
import { disarmHtml } from './render.ts';

const lure = [
  'From: "PayPal Security" <service@paypa1-secure-login.top>',
  'Reply-To: recovery.team@gmail.com',
  'To: user@example.com',
  'Subject: Urgent: your account has been suspended',
  'Message-ID: <lure-1@paypa1-secure-login.top>',
  'MIME-Version: 1.0',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<p>Dear customer, we detected unusual activity. Your account will be suspended within 24 hours.</p>',
  '<script>alert(1)</script><img src="https://tracker.example.net/pixel.gif" alt="logo">',
  '<p><a href="http://192.0.2.7/paypal/login.php" onclick="steal()">https://www.paypal.com/signin</a></p>',
  '<form action="http://192.0.2.7/collect"><input type="password" name="pw"></form>',
  '',
].join('\r\n');

/** A recurring newsletter pattern the model distrusts until analysts say otherwise. */
const rewards = (n: number) =>
  [
    'From: "Acme Rewards Team" <rewards@acme-rewards-mail.net>',
    'To: user@example.com',
    `Subject: Your reward points statement ${n}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    `Hello, your reward points balance is ready. Verify your account details to claim your bonus before it expires. Click here: https://bit.ly/acme${n}`,
    '',
  ].join('\r\n');

const note = (from: string) =>
  [
    `From: Sam <${from}>`,
    'To: team@example.com',
    'Subject: Lunch on Friday',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Shall we meet at noon on Friday?',
    '',
  ].join('\r\n');

let t: TestApp;
let analyst: Client;
let auditor: Client;
let marketer: Client;

const raw = (c: Client, method: string, url: string, body: string) =>
  t.app.inject({
    method: method as 'POST',
    url,
    headers: {
      'content-type': 'message/rfc822',
      cookie: [...c.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
      'x-csrf-token': c.cookies.get('mw_csrf') ?? '',
    },
    payload: body,
  });
const submit = async (c: Client, body: string) => {
  const res = await raw(c, 'POST', '/api/phishing/queue', body);
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as { id: number; score: number; verdict: string; reportCount: number };
};
const scan = async (body: string) => {
  const res = await raw(analyst, 'POST', '/api/phishing/scan', body);
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as { score: number; verdict: string; reasons: { signal: string; detail: string }[] };
};
const audits = async () => (await t.database.db.select().from(auditLog)).map((e) => e.action);

before(async () => {
  t = await createTestApp();
  analyst = (await signedInAs(t, 'security_analyst')).client;
  auditor = (await signedInAs(t, 'auditor')).client;
  marketer = (await signedInAs(t, 'marketer')).client;
});
after(async () => {
  await t?.close();
});

describe('queue', () => {
  test('submitted messages are listed with score, verdict and reasons, and filtered', async () => {
    const a = await submit(analyst, lure);
    assert.equal(a.verdict, 'phishing');
    const b = await submit(marketer, note('sam@partner.example'));
    assert.equal(b.verdict, 'clean');

    const all = (await analyst.get('/api/phishing/queue')).json();
    assert.deepEqual(
      all.items.slice(0, 2).map((i: { id: number }) => i.id),
      [b.id, a.id],
    );
    const first = all.items.find((i: { id: number }) => i.id === a.id);
    assert.equal(first.source, 'api');
    assert.equal(first.state, 'new');
    assert.equal(first.senderDomain, 'paypa1-secure-login.top');
    assert.ok(first.reasons.length > 0);

    const phish = (await analyst.get('/api/phishing/queue?verdict=phishing')).json();
    assert.ok(phish.items.every((i: { verdict: string }) => i.verdict === 'phishing'));
    assert.ok(phish.items.some((i: { id: number }) => i.id === a.id));
    const byDomain = (await analyst.get('/api/phishing/queue?domain=partner.example')).json();
    assert.deepEqual(
      byDomain.items.map((i: { id: number }) => i.id),
      [b.id],
    );
    const future = (
      await analyst.get(
        `/api/phishing/queue?since=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`,
      )
    ).json();
    assert.equal(future.items.length, 0);
    assert.equal((await analyst.get('/api/phishing/queue?state=bogus')).statusCode, 400);
  });

  test('the detail view renders the HTML safely: no scripts, no live links, remote content blocked', async () => {
    const { id } = await submit(analyst, lure);
    const res = await auditor.get(`/api/phishing/queue/${id}`);
    assert.equal(res.statusCode, 200, res.body);
    const d = res.json();
    const html: string = d.rendering.html;
    assert.doesNotMatch(html, /<script|alert\(1\)|onclick|<form|<input|href=|src="https?:/i);
    assert.match(
      html,
      /<span class="mw-link" title="http:\/\/192\.0\.2\.7\/paypal\/login\.php">https:\/\/www\.paypal\.com\/signin<\/span><span class="mw-link-target"> \[http:\/\/192\.0\.2\.7\/paypal\/login\.php\]<\/span>/,
    );
    assert.equal(d.rendering.remoteContentBlocked, 1);
    assert.equal(d.rendering.disarmedLinks, 1);
    assert.ok(
      d.rendering.headers.some(
        (h: { name: string; value: string }) => h.name === 'Subject' && /suspended/.test(h.value),
      ),
    );
    assert.ok(d.links.some((l: { host: string }) => l.host === '192.0.2.7'));
    assert.ok(d.reasons.some((r: { signal: string }) => r.signal === 'forms.password_field'));
    assert.equal(d.current.verdict, 'phishing');
    assert.equal(d.raw, undefined, 'the raw bytes are only served by /raw');
    const eml = await auditor.get(`/api/phishing/queue/${id}/raw`);
    assert.equal(eml.headers['content-type'], 'message/rfc822');
    assert.equal(eml.body, lure);
    assert.equal((await auditor.get('/api/phishing/queue/999999')).statusCode, 404);
  });

  test('the same message submitted again joins its case: one row with a report count and its reporters', async () => {
    const msg = rewards(77).replace('acme-rewards-mail.net', 'acme-points.example');
    const first = await submit(analyst, msg);
    assert.equal(first.reportCount, 1);
    const again = await submit(marketer, msg.replace(/\r\n/g, '\n'));
    assert.equal(
      again.id,
      first.id,
      'no Message-ID: matched by From, Subject and body, whatever the line endings',
    );
    assert.equal(again.reportCount, 2);
    const items = (await analyst.get('/api/phishing/queue?domain=acme-points.example')).json().items;
    assert.deepEqual(
      items.map((i: { id: number; reportCount: number; reporterVerified: boolean }) => [
        i.id,
        i.reportCount,
        i.reporterVerified,
      ]),
      [[first.id, 2, true]],
    );
    const d = (await analyst.get(`/api/phishing/queue/${first.id}`)).json();
    assert.equal(d.reporters.length, 2);
    assert.ok(
      d.reporters.every((r: { verified: boolean }) => r.verified),
      'API callers are authenticated',
    );
    const other = await submit(analyst, rewards(78).replace('acme-rewards-mail.net', 'acme-points.example'));
    assert.notEqual(other.id, first.id, 'a different message is a different case');
  });

  test('read needs phishing:read, actions need phishing:manage', async () => {
    const { id } = await submit(analyst, lure);
    assert.equal((await marketer.get('/api/phishing/queue')).statusCode, 403);
    assert.equal((await auditor.post(`/api/phishing/queue/${id}/confirm`, {})).statusCode, 403);
    assert.equal(
      (await auditor.post('/api/phishing/blocklist', { kind: 'domain', value: 'evil.example' })).statusCode,
      403,
    );
    assert.equal((await new Client(t.app).get('/api/phishing/trend')).statusCode, 401);
  });
});

describe('learning from analysts', () => {
  test('marking a pattern legitimate several times lowers its score; unrelated phishing stays phishing', async () => {
    const before = await scan(rewards(1000));
    const scores = [before.score];
    for (let i = 0; i < 3; i++) {
      const { id } = await submit(analyst, rewards(i));
      const res = await analyst.post(`/api/phishing/queue/${id}/legitimate`, {
        note: 'our loyalty programme',
      });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().state, 'legitimate');
      assert.equal(res.json().learned, true);
      scores.push((await scan(rewards(1000))).score);
    }
    assert.ok(scores[0] >= 39, `the pattern starts out flagged (${scores.join(' → ')})`);
    for (let i = 1; i < scores.length; i++)
      assert.ok(scores[i] <= scores[i - 1], `scores never go up: ${scores.join(' → ')}`);
    assert.ok(scores[3] < scores[0] - 20, `scores dropped: ${scores.join(' → ')}`);
    assert.equal(
      (await scan(rewards(2000))).verdict,
      'clean',
      'a new message of the same pattern is now clean',
    );
    assert.equal(
      (await scan(lure)).verdict,
      'phishing',
      'the bias did not move: unrelated phishing is still phishing',
    );

    const model = (await auditor.get('/api/phishing/model')).json();
    assert.equal(model.examples, 3);
    assert.ok(model.top.some((f: { delta: number }) => f.delta < 0));
    const actions = await audits();
    assert.equal(actions.filter((a) => a === 'phishing.marked_legitimate').length, 3);
  });

  test('confirming phishing is stored, audited and learned', async () => {
    const { id } = await submit(analyst, lure);
    const res = await analyst.post(`/api/phishing/queue/${id}/confirm`, {});
    assert.equal(res.statusCode, 200, res.body);
    const d = (await analyst.get(`/api/phishing/queue/${id}`)).json();
    assert.equal(d.state, 'confirmed_phishing');
    assert.match(d.analyst, /security_analyst/);
    assert.ok(d.decidedAt);
    assert.ok((await audits()).includes('phishing.confirmed'));
    assert.equal((await analyst.get('/api/phishing/model')).json().examples, 4);
    const again = await analyst.post(`/api/phishing/queue/${id}/confirm`, {});
    assert.equal(again.json().learned, false, 'the same verdict twice is not learned twice');
    assert.equal((await analyst.get('/api/phishing/model')).json().examples, 4);
  });

  test('only gateway quarantine can be released', async () => {
    const { id } = await submit(analyst, lure);
    const res = await analyst.post(`/api/phishing/queue/${id}/release`, {});
    assert.equal(res.statusCode, 409);
    assert.equal(res.json().code, 'not_quarantined');
  });
});

describe('blocklist', () => {
  test('a blocked domain or sender scores as phishing with a blocklist reason', async () => {
    const msg = note('sam@shady-partner.example');
    assert.equal((await scan(msg)).verdict, 'clean');
    const { id } = await submit(analyst, msg);
    const blocked = await analyst.post(`/api/phishing/queue/${id}/block`, {
      kind: 'domain',
      reason: 'invoice fraud',
    });
    assert.equal(blocked.statusCode, 201, blocked.body);
    assert.equal(blocked.json().value, 'shady-partner.example');
    const after = await scan(note('other@mail.shady-partner.example'));
    assert.equal(after.verdict, 'phishing');
    assert.equal(after.reasons[0].signal, 'blocklist');
    assert.match(after.reasons[0].detail, /shady-partner\.example/);

    const sender = await analyst.post('/api/phishing/blocklist', {
      kind: 'sender',
      value: 'Mallory@Example.org',
    });
    assert.equal(sender.statusCode, 201);
    assert.equal((await scan(note('mallory@example.org'))).verdict, 'phishing');
    assert.equal(
      (await scan(note('alice@example.org'))).verdict,
      'clean',
      'a sender block does not block the domain',
    );
    assert.equal(
      (await analyst.post('/api/phishing/blocklist', { kind: 'sender', value: 'not an address' })).statusCode,
      422,
    );

    const list = (await auditor.get('/api/phishing/blocklist')).json().items;
    assert.equal(list.length, 2);
    const del = await analyst.del(`/api/phishing/blocklist/${sender.json().id}`);
    assert.equal(del.statusCode, 200);
    assert.equal((await scan(note('mallory@example.org'))).verdict, 'clean');
    const actions = await audits();
    assert.ok(actions.includes('phishing.blocked') && actions.includes('phishing.unblocked'));
  });
});

describe('workspace configuration', () => {
  test('own domains and staff names feed every scan; changes are audited', async () => {
    const ceo = [
      'From: "Olivia Chief" <olivia.chief.ceo@gmail.com>',
      'To: finance@example.com',
      'Subject: Quick favour',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Are you at your desk? I need you to handle a payment today.',
      '',
    ].join('\r\n');
    const before = await scan(ceo);
    assert.ok(!before.reasons.some((r) => r.signal === 'ws.staff_impersonation'));
    assert.equal(
      (await auditor.request('PUT', '/api/phishing/config', { staffNames: ['Olivia Chief'] })).statusCode,
      403,
    );
    const bad = await analyst.request('PUT', '/api/phishing/config', {
      thresholds: { suspicious: 80, phishing: 50 },
    });
    assert.equal(bad.statusCode, 422);
    const res = await analyst.request('PUT', '/api/phishing/config', {
      ownDomains: ['Example.com'],
      staffNames: ['Olivia Chief'],
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual((await auditor.get('/api/phishing/config')).json().ownDomains, ['example.com']);
    const after = await scan(ceo);
    assert.ok(after.reasons.some((r) => r.signal === 'ws.staff_impersonation'));
    assert.ok(after.score > before.score);
    assert.ok((await audits()).includes('phishing.config_changed'));
  });
});

describe('history and trend', () => {
  test('per-domain history counts by verdict and decision; the trend counts per day', async () => {
    const h = (await auditor.get('/api/phishing/history?domain=acme-rewards-mail.net')).json();
    assert.equal(h.total, 3);
    assert.equal(h.byState.legitimate, 3);
    assert.equal(h.days.length, 1);
    assert.equal(h.days[0].legitimate, 3);
    const s = (await auditor.get('/api/phishing/history?sender=service@paypa1-secure-login.top')).json();
    // Five submissions of the lure (same Message-ID) are one case.
    assert.equal(s.total, 1);
    assert.equal(s.byVerdict.phishing, 1);
    assert.equal(s.byState.confirmed_phishing, 1);
    assert.equal((await auditor.get('/api/phishing/history')).statusCode, 400);

    const trend = (await auditor.get('/api/phishing/trend?days=7')).json().days;
    assert.equal(trend.length, 7);
    const today = trend[6];
    assert.equal(today.day, new Date().toISOString().slice(0, 10));
    const total = (await analyst.get('/api/phishing/queue?limit=200')).json().items.length;
    assert.equal(today.reported, total);
    assert.equal(today.confirmed, 1);
    assert.equal(today.legitimate, 3);
    assert.ok(trend.slice(0, 6).every((d: { reported: number }) => d.reported === 0));
  });
});

describe('safe rendering of hostile HTML', () => {
  test('links of every kind are disarmed and their targets shown as text', () => {
    const r = disarmHtml(
      '<a href="javascript:alert(1)">click</a> <a href=\'https://x.example/?a="><script>alert(2)</script>\'>q</a>' +
        '<a href="https://outer.example"><a href="https://inner.example">nested</a></a><a>no href</a>' +
        '<div style="background:url(https://track.example/x)">styled</div><iframe src="https://evil.example"></iframe><svg onload="x()"></svg>',
    );
    assert.doesNotMatch(r.html, /<a[\s>]|<script|<iframe|<svg|style=|onload|href=/i);
    assert.match(r.html, /\[javascript:alert\(1\)\]/);
    assert.match(r.html, /\[https:\/\/x\.example\/\?a=&quot;&gt;&lt;script&gt;alert\(2\)&lt;\/script&gt;\]/);
    assert.match(r.html, /\[https:\/\/inner\.example\]/);
    assert.match(r.html, /no href/);
    assert.equal(r.disarmedLinks, 4);
  });
});
