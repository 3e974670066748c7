// The `mailwarden` command as a user runs it: real processes, real database
// (a PGlite data dir, or the PostgreSQL test database with TEST_DATABASE_URL).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openPglite } from '../../src/db/client.ts';
import { createTestDatabase, type TestDatabase, testDatabaseUrl } from '../support/db.ts';

const bin = new URL('../../bin/mailwarden.mjs', import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), 'mw-cli-'));
let pgDatabase: TestDatabase | undefined;
let env: Record<string, string>;

before(async () => {
  env = { PATH: process.env.PATH ?? '', MAILWARDEN_DATA_DIR: dataDir, LOG_LEVEL: 'warn', HOME: process.env.HOME ?? '/tmp' };
  if (testDatabaseUrl) {
    pgDatabase = await createTestDatabase();
    env.DATABASE_URL = pgDatabase.url!;
    env.MAILWARDEN_MASTER_KEY = 'cd'.repeat(32);
  }
});
after(async () => {
  await pgDatabase?.close();
});

function run(args: string[], extraEnv: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Run SQL against the CLI's database from the test (after the CLI process has exited). */
async function sqlOnCliDatabase(text: string, params: unknown[] = []) {
  if (pgDatabase) return pgDatabase.query(text, params);
  const db = await openPglite(join(dataDir, 'db'));
  try {
    return await db.query(text, params);
  } finally {
    await db.close();
  }
}

test('--help lists the commands', () => {
  const r = run(['--help']);
  assert.equal(r.code, 0);
  for (const c of ['serve', 'worker', 'migrate', 'doctor', 'admin', 'audit']) assert.match(r.out, new RegExp(`\\b${c}\\b`));
  assert.match(run(['admin', 'create', '--help']).out, /--password-file/);
});

test('a bad setting stops with one line naming the variable', () => {
  const r = run(['migrate'], { PORT: 'eighty' });
  assert.equal(r.code, 2);
  assert.match(r.err, /^mailwarden: configuration error: PORT: .*between 0 and 65535/);
  assert.equal(r.err.trim().split('\n').length, 1);
});

test('admin create, doctor, audit verify — and verify catches tampering (exit 1, names the entry)', async () => {
  const pw = join(dataDir, 'pw');
  writeFileSync(pw, 'correct-horse-battery-staple-9\n', { mode: 0o600 });
  const weak = join(dataDir, 'weak');
  writeFileSync(weak, 'password\n');
  const refused = run(['admin', 'create', '--email', 'root@example.com', '--password-file', weak]);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /at least 12 characters/);

  const created = run(['admin', 'create', '--email', 'root@example.com', '--name', 'Root', '--password-file', pw]);
  assert.equal(created.code, 0, created.err);
  assert.match(created.out, /created owner root@example.com/);

  const unlock = run(['admin', 'unlock', 'root@example.com']);
  assert.equal(unlock.code, 0);

  const doctor = run(['doctor']);
  assert.match(doctor.out, /^ok +database:/m);
  assert.match(doctor.out, /^ok +migrations: current/m);

  const ok = run(['audit', 'verify']);
  assert.equal(ok.code, 0, ok.out + ok.err);
  assert.match(ok.out, /audit chain intact: \d+ entries verified/);

  const [first] = await sqlOnCliDatabase(`SELECT id FROM audit_log WHERE action = 'user.created'`);
  await sqlOnCliDatabase('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
  await sqlOnCliDatabase(`UPDATE audit_log SET target = 'someone-else@example.com' WHERE id = $1`, [first.id]);
  await sqlOnCliDatabase('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
  const broken = run(['audit', 'verify']);
  assert.equal(broken.code, 1);
  assert.match(broken.out, new RegExp(`BROKEN at entry ${first.id}`));
});

test('worker refuses to run on the embedded database', { skip: testDatabaseUrl ? 'runs on PGlite only' : false }, () => {
  const r = run(['worker']);
  assert.equal(r.code, 2);
  assert.match(r.err, /needs DATABASE_URL/);
});
