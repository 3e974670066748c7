import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eq } from 'drizzle-orm';
import { Client, createTestApp, enrolTotp, signedInAs, strongPassword, type TestApp } from '../../test/support/app.ts';
import { auditLog, users } from '../db/schema.ts';
import { totpCode } from './totp.ts';

let t: TestApp;
before(async () => {
  t = await createTestApp();
});
after(async () => {
  await t?.close();
});

const actions = async () => (await t.database.db.select().from(auditLog)).map((e) => `${e.action}:${e.outcome}`);

describe('first-run setup', () => {
  test('creates the first owner once, signs in, then disappears', async () => {
    const c = new Client(t.app);
    assert.deepEqual((await c.get('/api/setup/status')).json(), { needsSetup: true });
    const weak = await c.post('/api/setup', { email: 'owner@example.com', name: 'Olive Owner', password: 'password1234' });
    assert.equal(weak.statusCode, 422);
    assert.equal(weak.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.match(weak.json().detail, /common/);
    assert.equal(weak.json().errors[0].path, 'password');

    const res = await c.post('/api/setup', { email: 'Owner@Example.com', name: 'Olive Owner', password: strongPassword });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().status, 'ok');
    assert.equal(res.json().user.role, 'owner');
    const me = await c.get('/api/me');
    assert.equal(me.json().email, 'owner@example.com');
    assert.deepEqual((await c.get('/api/setup/status')).json(), { needsSetup: false });

    const again = await new Client(t.app).post('/api/setup', { email: 'evil@example.com', name: 'Eve', password: strongPassword });
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().code, 'setup_done');
  });

  test('session cookie is HttpOnly and SameSite=Lax; the CSRF cookie is readable', async () => {
    const c = new Client(t.app);
    const res = await c.post('/api/auth/login', { email: 'owner@example.com', password: strongPassword });
    const cookies = res.headers['set-cookie'] as string[];
    const session = cookies.find((x) => x.startsWith('mw_session='))!;
    assert.match(session, /HttpOnly/);
    assert.match(session, /SameSite=Lax/);
    assert.doesNotMatch(cookies.find((x) => x.startsWith('mw_csrf='))!, /HttpOnly/);
  });
});

describe('sign-in', () => {
  test('wrong password and unknown account get the same answer', async () => {
    const a = await new Client(t.app, '10.1.0.1').post('/api/auth/login', { email: 'owner@example.com', password: 'wrong-password-123' });
    const b = await new Client(t.app, '10.1.0.2').post('/api/auth/login', { email: 'nobody@example.com', password: 'wrong-password-123' });
    assert.equal(a.statusCode, 401);
    assert.equal(b.statusCode, 401);
    assert.equal(a.json().detail, b.json().detail);
    assert.equal(a.json().code, 'invalid_credentials');
    assert.ok((await actions()).includes('auth.login:failure'));
  });

  test('repeated failures slow down, then lock the account; an admin unlocks it', async () => {
    const { client: admin } = await signedInAs(t, 'admin');
    const { user } = await signedInAs(t, 'marketer', 'locked@example.com');
    const codes: number[] = [];
    for (let i = 0; i < 12; i++) {
      // a different IP each time: the per-account limit must hold on its own
      const res = await new Client(t.app, `10.2.0.${i}`).post('/api/auth/login', { email: 'locked@example.com', password: `wrong-password-${i}` });
      codes.push(res.statusCode);
      // skip the growing delay so the test reaches the lock quickly
      await t.database.query(`UPDATE auth_throttle SET next_attempt_at = NULL WHERE key = 'acct:locked@example.com'`);
    }
    assert.ok(codes.slice(0, 10).every((c) => c === 401), codes.join(','));
    assert.equal(codes[10], 423);
    const right = await new Client(t.app, '10.2.1.1').post('/api/auth/login', { email: 'locked@example.com', password: strongPassword });
    assert.equal(right.statusCode, 423, 'even the right password is refused while locked');
    assert.ok(right.headers['retry-after']);
    assert.ok((await actions()).includes('auth.lockout:success'));

    const list = (await admin.get('/api/users')).json() as { email: string; lockedUntil: string | null }[];
    assert.ok(list.find((u) => u.email === 'locked@example.com')?.lockedUntil);
    assert.equal((await admin.post(`/api/users/${user.id}/unlock`)).json().unlocked, true);
    const ok = await new Client(t.app, '10.2.1.2').post('/api/auth/login', { email: 'locked@example.com', password: strongPassword });
    assert.equal(ok.statusCode, 200);
  });

  test('failures beyond the free ones impose a delay (429 with Retry-After)', async () => {
    await signedInAs(t, 'sales_rep', 'slow@example.com');
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await new Client(t.app, `10.3.0.${i}`).post('/api/auth/login', { email: 'slow@example.com', password: 'nope-nope-nope' })).statusCode);
    assert.deepEqual(statuses.slice(0, 4), [401, 401, 401, 401]);
    assert.equal(statuses[4], 429);
  });

  test('a disabled user cannot sign in and loses existing sessions', async () => {
    const { client: admin } = await signedInAs(t, 'admin');
    const { user, client } = await signedInAs(t, 'marketer');
    assert.equal((await client.get('/api/me')).statusCode, 200);
    assert.equal((await admin.patch(`/api/users/${user.id}`, { disabled: true })).statusCode, 200);
    assert.equal((await client.get('/api/me')).statusCode, 401);
    const again = await new Client(t.app, '10.4.0.1').post('/api/auth/login', { email: user.email, password: strongPassword });
    assert.equal(again.statusCode, 401);
  });
});

describe('two-factor authentication', () => {
  test('enrol by code, then sign-in needs a code; a replayed code is refused and audited', async () => {
    const { user, client } = await signedInAs(t, 'security_analyst');
    const enrolled = await enrolTotp(client, -30_000);
    assert.equal(enrolled.recoveryCodes.length, 10);
    assert.equal(new Set(enrolled.recoveryCodes).size, 10);
    const stored = await t.database.db.select().from(users).where(eq(users.id, user.id));
    assert.ok(!stored[0].totpSecret!.toString('latin1').includes(enrolled.secret), 'the TOTP secret is stored sealed');

    const c = new Client(t.app, '10.5.0.1');
    const step1 = await c.post('/api/auth/login', { email: user.email, password: strongPassword });
    assert.deepEqual(step1.json(), { status: 'totp_required' });
    assert.equal((await c.get('/api/me')).statusCode, 401, 'no access before the second factor');
    const bad = await c.post('/api/auth/totp', { code: '000000' });
    assert.equal(bad.statusCode, 401);
    const code = totpCode(enrolled.secret);
    const ok = await c.post('/api/auth/totp', { code });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal((await c.get('/api/me')).json().totpEnabled, true);

    const c2 = new Client(t.app, '10.5.0.2');
    await c2.post('/api/auth/login', { email: user.email, password: strongPassword });
    const replay = await c2.post('/api/auth/totp', { code });
    assert.equal(replay.statusCode, 401);
    assert.equal(replay.json().code, 'code_replayed');
    assert.match(replay.json().detail, /already used/);
    assert.ok((await actions()).includes('auth.totp_replay:failure'));

    const rec = await c2.post('/api/auth/totp', { recoveryCode: enrolled.recoveryCodes[0] });
    assert.equal(rec.statusCode, 200, rec.body);
    const c3 = new Client(t.app, '10.5.0.3');
    await c3.post('/api/auth/login', { email: user.email, password: strongPassword });
    assert.equal((await c3.post('/api/auth/totp', { recoveryCode: enrolled.recoveryCodes[0] })).statusCode, 401, 'recovery codes are single-use');
  });

  test('the session id changes when sign-in completes (no fixation)', async () => {
    const { user, client } = await signedInAs(t, 'auditor');
    const { secret } = await enrolTotp(client, -30_000);
    const c = new Client(t.app, '10.6.0.1');
    await c.post('/api/auth/login', { email: user.email, password: strongPassword });
    const pendingToken = c.cookies.get('mw_session');
    await c.post('/api/auth/totp', { code: totpCode(secret) });
    assert.notEqual(c.cookies.get('mw_session'), pendingToken);
    const stale = new Client(t.app);
    stale.cookies.set('mw_session', pendingToken!);
    assert.equal((await stale.get('/api/me')).statusCode, 401);
  });

  test('when the owner requires 2FA, a user without it must enrol before anything else', async () => {
    const { client: owner } = await signedInAs(t, 'owner');
    const { user } = await signedInAs(t, 'marketer');
    await enrolTotp(owner, -30_000);
    const set = await owner.patch('/api/settings', { require2fa: true });
    assert.equal(set.statusCode, 200, set.body);
    try {
      const c = new Client(t.app, '10.7.0.1');
      const res = await c.post('/api/auth/login', { email: user.email, password: strongPassword });
      assert.equal(res.json().status, 'enrol_required');
      assert.equal((await c.get('/api/me')).json().mustEnrol2fa, true);
      const blocked = await c.get('/api/me/sessions');
      assert.equal(blocked.statusCode, 403);
      assert.equal(blocked.json().code, 'enrolment_required');
      await enrolTotp(c);
      assert.equal((await c.get('/api/me/sessions')).statusCode, 200);
      assert.equal((await c.get('/api/me')).json().mustEnrol2fa, false);
    } finally {
      await owner.patch('/api/settings', { require2fa: false });
    }
  });
});

describe('sessions and CSRF', () => {
  test('state-changing requests without the CSRF header are refused', async () => {
    const { client } = await signedInAs(t, 'admin');
    const res = await client.post('/api/me/sessions/revoke-others', {}, { 'x-csrf-token': 'wrong' });
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().code, 'csrf_failed');
  });

  test('sessions are listed and revocable one by one', async () => {
    const { user, client } = await signedInAs(t, 'sales_rep');
    const other = new Client(t.app, '10.8.0.9');
    await other.post('/api/auth/login', { email: user.email, password: strongPassword });
    const list = (await client.get('/api/me/sessions')).json() as { id: string; current: boolean }[];
    assert.equal(list.length, 2);
    const foreign = list.find((s) => !s.current)!;
    assert.equal((await client.del(`/api/me/sessions/${foreign.id}`)).statusCode, 204);
    assert.equal((await other.get('/api/me')).statusCode, 401);
    assert.equal((await client.get('/api/me')).statusCode, 200);
  });

  test('logout ends the session', async () => {
    const { client } = await signedInAs(t, 'marketer');
    assert.equal((await client.post('/api/auth/logout')).statusCode, 204);
    assert.equal((await client.get('/api/me')).statusCode, 401);
  });

  test('changing the password ends the other sessions', async () => {
    const { user, client } = await signedInAs(t, 'marketer');
    const other = new Client(t.app, '10.9.0.9');
    await other.post('/api/auth/login', { email: user.email, password: strongPassword });
    const res = await client.post('/api/me/password', { currentPassword: strongPassword, newPassword: 'a-much-better-passphrase-7' });
    assert.equal(res.statusCode, 204, res.body);
    assert.equal((await other.get('/api/me')).statusCode, 401);
    assert.equal((await client.get('/api/me')).statusCode, 200);
  });
});

describe('roles', () => {
  test('a marketer is refused admin pages; an admin is not', async () => {
    const { client: marketer } = await signedInAs(t, 'marketer');
    const { client: admin } = await signedInAs(t, 'admin');
    for (const url of ['/api/users', '/api/api-keys', '/api/settings', '/api/audit']) {
      assert.equal((await marketer.get(url)).statusCode, 403, url);
      assert.equal((await admin.get(url)).statusCode, 200, url);
    }
  });

  test('an admin cannot make someone an owner or change an owner; the last owner stays', async () => {
    const { client: admin } = await signedInAs(t, 'admin');
    const { user: rep } = await signedInAs(t, 'sales_rep');
    assert.equal((await admin.patch(`/api/users/${rep.id}`, { role: 'owner' })).statusCode, 403);
    const [owner] = await t.database.db.select().from(users).where(eq(users.email, 'owner@example.com'));
    assert.equal((await admin.patch(`/api/users/${owner.id}`, { role: 'marketer' })).statusCode, 403);
    const role = await admin.patch(`/api/users/${rep.id}`, { role: 'marketer' });
    assert.equal(role.statusCode, 200);
    assert.ok((await actions()).includes('user.role_changed:success'));
  });

  test('a role change ends the user’s sessions so new rights start with a new session', async () => {
    const { client: admin } = await signedInAs(t, 'admin');
    const { user, client } = await signedInAs(t, 'sales_rep');
    await admin.patch(`/api/users/${user.id}`, { role: 'auditor' });
    assert.equal((await client.get('/api/me')).statusCode, 401);
  });
});

test('no password, cookie or TOTP secret ever reaches the log', async () => {
  const secretPassword = 'unmistakable-log-canary-4711';
  const c = new Client(t.app);
  await c.post('/api/auth/login', { email: 'owner@example.com', password: secretPassword });
  const { client } = await signedInAs(t, 'admin');
  const enrol = (await client.post('/api/me/2fa/enrol')).json() as { secret: string };
  const all = t.logs.join('');
  assert.ok(t.logs.length > 5, 'the server logged requests');
  assert.ok(!all.includes(secretPassword), 'password found in the log');
  assert.ok(!all.includes(strongPassword), 'password found in the log');
  assert.ok(!all.includes(enrol.secret), 'TOTP secret found in the log');
  assert.ok(!all.includes(client.cookies.get('mw_session')!), 'session token found in the log');
});

describe('timeouts and per-IP throttling', () => {
  test('an idle session and an expired session both end', async () => {
    const { user, client } = await signedInAs(t, 'marketer');
    assert.equal((await client.get('/api/me')).statusCode, 200);
    await t.database.query(`UPDATE sessions SET last_seen_at = now() - interval '31 minutes' WHERE user_id = $1`, [user.id]);
    assert.equal((await client.get('/api/me')).statusCode, 401, 'idle beyond 30 minutes');

    const again = await signedInAs(t, 'marketer');
    await t.database.query(`UPDATE sessions SET expires_at = now() - interval '1 second' WHERE user_id = $1`, [again.user.id]);
    assert.equal((await again.client.get('/api/me')).statusCode, 401, 'past the absolute lifetime');
  });

  test('one address failing across many accounts is slowed down too', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 22; i++) {
      const res = await new Client(t.app, '10.77.0.1').post('/api/auth/login', { email: `spray-${i}@example.com`, password: 'Summer2026!!' });
      statuses.push(res.statusCode);
    }
    assert.ok(statuses.slice(0, 20).every((s) => s === 401), statuses.join(','));
    assert.equal(statuses[21], 429, 'the IP is throttled after its free failures');
    const other = await new Client(t.app, '10.77.0.2').post('/api/auth/login', { email: 'spray-99@example.com', password: 'Summer2026!!' });
    assert.equal(other.statusCode, 401, 'another address is not affected');
  });
});
