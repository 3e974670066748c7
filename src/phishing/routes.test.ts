// The phishing API and the `mailwarden scan` command, end to end.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client, createTestApp, signedInAs, type TestApp } from '../../test/support/app.ts';

const lure = [
  'From: "PayPal Security" <service@paypa1-secure-login.top>',
  'Reply-To: recovery.team@gmail.com',
  'To: user@example.com',
  'Subject: Urgent: your account has been suspended',
  'Authentication-Results: mx.example.com; spf=fail smtp.mailfrom=paypa1-secure-login.top; dkim=none; dmarc=fail header.from=paypa1-secure-login.top',
  'MIME-Version: 1.0',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<p>Dear customer, we detected unusual activity. Your account will be suspended within 24 hours.</p>',
  '<p><a href="http://192.0.2.7/paypal/login.php">https://www.paypal.com/signin</a></p>',
  '<form action="http://192.0.2.7/collect"><input type="password" name="pw"></form>',
  '',
].join('\r\n');

const note = [
  'From: Jane Doe <jane@example.com>',
  'To: team@example.com',
  'Subject: Notes from Tuesday',
  'Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=example.com; dkim=pass header.d=example.com; dmarc=pass header.from=example.com',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Hi all, the notes from Tuesday are in the shared folder. Next meeting is Thursday at 10.',
  '',
].join('\r\n');

let t: TestApp;
before(async () => {
  t = await createTestApp();
});
after(async () => {
  await t?.close();
});

test('POST /api/phishing/scan scores a raw message with reasons', async () => {
  const { client } = await signedInAs(t, 'marketer');
  const res = await client.request('POST', '/api/phishing/scan', undefined, { 'content-type': 'message/rfc822' });
  assert.equal(res.statusCode, 400, 'an empty body is refused');
  const scored = await t.app.inject({
    method: 'POST',
    url: '/api/phishing/scan',
    headers: { 'content-type': 'message/rfc822', cookie: `mw_session=${client.cookies.get('mw_session')}`, 'x-csrf-token': client.cookies.get('mw_csrf')! },
    payload: lure,
  });
  assert.equal(scored.statusCode, 200, scored.body);
  const r = scored.json();
  assert.equal(r.verdict, 'phishing');
  assert.ok(r.score >= 50);
  assert.ok(r.reasons.length >= 3);
  assert.ok(r.reasons.every((x: { signal: string; detail: string }) => x.signal && x.detail));
});

test('API keys need the phishing:scan scope; a clean note scores clean', async () => {
  const { client: admin } = await signedInAs(t, 'admin');
  const { secret } = (await admin.post('/api/api-keys', { name: 'Mail gateway', scopes: ['phishing:scan'] })).json();
  const { secret: other } = (await admin.post('/api/api-keys', { name: 'CRM', scopes: ['contacts:read'] })).json();
  const send = (key: string, body: string) =>
    t.app.inject({ method: 'POST', url: '/api/phishing/scan', headers: { 'content-type': 'message/rfc822', authorization: `Bearer ${key}` }, payload: body });
  const ok = await send(secret, note);
  assert.equal(ok.statusCode, 200);
  assert.equal(ok.json().verdict, 'clean');
  assert.equal((await send(other, note)).statusCode, 403);
  assert.equal((await new Client(t.app).post('/api/phishing/scan', {})).statusCode, 401);
});

test('`mailwarden scan --format jsonl` prints one object per message and an error line per unreadable file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mw-scan-'));
  writeFileSync(join(dir, 'lure.eml'), lure);
  writeFileSync(join(dir, 'note.eml'), note);
  const bin = new URL('../../bin/mailwarden.mjs', import.meta.url).pathname;
  const r = spawnSync(process.execPath, [bin, 'scan', '--format', 'jsonl', dir, join(dir, 'missing.eml')], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const byFile = Object.fromEntries(lines.map((l) => [l.file.split('/').pop(), l]));
  assert.equal(byFile['lure.eml'].verdict, 'phishing');
  assert.equal(byFile['note.eml'].verdict, 'clean');
  assert.ok(Array.isArray(byFile['lure.eml'].reasons));
  assert.ok(byFile['missing.eml'].error);
});
