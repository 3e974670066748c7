import assert from 'node:assert/strict';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { ConfigError, loadConfig, readEnvironment } from './index.ts';
import { createLogger } from './logger.ts';

const key = 'ab'.repeat(32);

test('defaults: embedded PGlite in the data dir, port 8080, outbox when no SMTP_URL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mw-cfg-'));
  const c = loadConfig({ MAILWARDEN_DATA_DIR: dir, MAILWARDEN_MASTER_KEY: key });
  assert.equal(c.port, 8080);
  assert.deepEqual(c.database, { kind: 'pglite', dataDir: join(dir, 'db') });
  assert.equal(c.smtpUrl, undefined);
  assert.equal(c.publicUrl, 'http://localhost:8080');
  assert.equal(c.secureCookies, false);
});

test('embedded mode generates the master key once, mode 0600, and reuses it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mw-cfg-'));
  const a = loadConfig({ MAILWARDEN_DATA_DIR: dir });
  assert.equal(a.masterKeySource, 'generated');
  assert.equal(statSync(join(dir, 'master.key')).mode & 0o777, 0o600);
  const b = loadConfig({ MAILWARDEN_DATA_DIR: dir });
  assert.equal(b.masterKeySource, 'data-dir');
  assert.deepEqual(a.masterKey, b.masterKey);
});

test('with DATABASE_URL and no master key, start-up is refused naming the variable', () => {
  assert.throws(
    () => loadConfig({ DATABASE_URL: 'postgres://x@localhost/db', MAILWARDEN_DATA_DIR: mkdtempSync(join(tmpdir(), 'mw-cfg-')) }),
    (e: unknown) => e instanceof ConfigError && e.variable === 'MAILWARDEN_MASTER_KEY' && /required with DATABASE_URL/.test(e.message),
  );
});

test('bad values name the variable and the fix', () => {
  const cases: [Record<string, string>, string, RegExp][] = [
    [{ PORT: 'eighty' }, 'PORT', /between 0 and 65535/],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL', /postgres:\/\//],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL', /one of/],
    [{ SMTP_URL: 'http://relay' }, 'SMTP_URL', /smtp:\/\//],
    [{ MAILWARDEN_MASTER_KEY: 'short' }, 'MAILWARDEN_MASTER_KEY', /32 bytes/],
    [{ PUBLIC_URL: 'not a url' }, 'PUBLIC_URL', /PUBLIC_URL/],
  ];
  for (const [env, variable, re] of cases) {
    assert.throws(
      () => loadConfig({ MAILWARDEN_MASTER_KEY: key, MAILWARDEN_DATA_DIR: tmpdir(), ...env }),
      (e: unknown) => e instanceof ConfigError && e.variable === variable && re.test(e.message),
      variable,
    );
  }
});

test('the master key can come from a file; https PUBLIC_URL turns on secure cookies', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mw-cfg-'));
  writeFileSync(join(dir, 'k'), `${key}\n`);
  const c = loadConfig({ MAILWARDEN_MASTER_KEY_FILE: join(dir, 'k'), PUBLIC_URL: 'https://mail.example.com/', DATABASE_URL: 'postgres://u@h/db' });
  assert.equal(c.masterKeySource, 'file');
  assert.equal(c.masterKey.toString('hex'), key);
  assert.equal(c.secureCookies, true);
  assert.equal(c.publicUrl, 'https://mail.example.com');
});

test('.env is read, and the real environment wins over it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mw-cfg-'));
  writeFileSync(join(dir, '.env'), '# comment\nPORT=9000\nLOG_LEVEL="debug"\n');
  const env = readEnvironment({ LOG_LEVEL: 'warn' }, join(dir, '.env'));
  assert.equal(env.PORT, '9000');
  assert.equal(env.LOG_LEVEL, 'warn');
});

test('the logger redacts secrets and customer fields wherever they appear', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(c, _e, cb) {
      lines.push(c.toString());
      cb();
    },
  });
  const log = createLogger({ level: 'info', format: 'json' }, sink);
  log.info({ password: 'hunter2-canary', user: { email: 'jane@example.com', token: 'tok-canary' }, req: { headers: { authorization: 'Bearer mwk_canary', cookie: 'mw_session=canary' } } }, 'x');
  const out = lines.join('');
  for (const secret of ['hunter2-canary', 'jane@example.com', 'tok-canary', 'mwk_canary', 'mw_session=canary']) assert.ok(!out.includes(secret), secret);
  assert.match(out, /\[redacted\]/);
});

test('TRUST_PROXY takes a hop count or trusted proxy addresses', () => {
  const base = { MAILWARDEN_MASTER_KEY: key, MAILWARDEN_DATA_DIR: tmpdir() };
  assert.equal(loadConfig(base).trustProxy, false);
  assert.equal(loadConfig({ ...base, TRUST_PROXY: '1' }).trustProxy, 1);
  assert.equal(loadConfig({ ...base, TRUST_PROXY: '10.0.0.5, 10.1.0.0/16' }).trustProxy, '10.0.0.5,10.1.0.0/16');
  assert.throws(() => loadConfig({ ...base, TRUST_PROXY: 'yes please' }), (e: unknown) => e instanceof ConfigError && e.variable === 'TRUST_PROXY');
});
