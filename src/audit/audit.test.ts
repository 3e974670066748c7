import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { Client, createTestApp, signedInAs, type TestApp } from '../../test/support/app.ts';
import { testDatabaseUrl } from '../../test/support/db.ts';
import { appendAudit, listAudit, verifyAuditChain } from './service.ts';
import { canonicalJson } from './chain.ts';

let t: TestApp;
before(async () => {
  t = await createTestApp();
});
after(async () => {
  await t?.close();
});

const actor = { type: 'system' as const, label: 'test' };

test('canonical JSON sorts keys at every level', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } }), '{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}');
});

test('concurrent appends form one unbroken chain (no forks)', async () => {
  await Promise.all(Array.from({ length: 40 }, (_, i) => appendAudit(t.database.db, actor, { action: 'test.concurrent', details: { i, nested: { z: 1, a: [i] } } })));
  const r = await verifyAuditChain(t.database.db);
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.ok(r.checked >= 40);
  const hashes = await t.database.query<{ prev_hash: string }>('SELECT prev_hash FROM audit_log');
  assert.equal(new Set(hashes.map((h) => h.prev_hash)).size, hashes.length, 'no two entries link to the same predecessor');
});

test('two processes appending at once do not fork the chain', { skip: testDatabaseUrl ? false : 'PGlite is single-process; runs with TEST_DATABASE_URL' }, async () => {
  const script = `
    import { openPostgres } from './src/db/client.ts';
    import { appendAudit } from './src/audit/service.ts';
    const d = await openPostgres(process.env.DB, { max: 4 });
    await Promise.all(Array.from({ length: 50 }, (_, i) => appendAudit(d.db, { type: 'system', label: 'proc' }, { action: 'test.multiprocess', details: { i } })));
    await d.close();`;
  const run = () =>
    new Promise<number>((resolve) => {
      const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...process.env, DB: t.database.url }, stdio: 'inherit' });
      p.on('exit', (code) => resolve(code ?? 1));
    });
  assert.deepEqual(await Promise.all([run(), run()]), [0, 0]);
  const r = await verifyAuditChain(t.database.db);
  assert.equal(r.ok, true, JSON.stringify(r));
  const [{ n }] = await t.database.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'test.multiprocess'`);
  assert.equal(n, 100);
});

test('verify names the first altered entry', async () => {
  const entries = await listAudit(t.database.db, { action: 'test.concurrent', limit: 5 });
  const victim = entries.items[2];
  // An attacker with database rights: disable the append-only trigger and edit a row.
  await t.database.exec('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
  await t.database.query(`UPDATE audit_log SET details = '{"i": 999}'::jsonb WHERE id = $1`, [victim.id]);
  await t.database.exec('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
  const r = await verifyAuditChain(t.database.db);
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.equal(r.brokenAt.id, victim.id);
    assert.match(r.brokenAt.reason, /altered/);
  }
});

test('verify detects a deleted entry by the broken link after it', async () => {
  const t2 = await createTestApp();
  try {
    for (let i = 0; i < 5; i++) await appendAudit(t2.database.db, actor, { action: 'test.delete', details: { i } });
    const ids = (await t2.database.query<{ id: number }>('SELECT id FROM audit_log ORDER BY id')).map((r) => Number(r.id));
    await t2.database.exec('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
    await t2.database.query('DELETE FROM audit_log WHERE id = $1', [ids[2]]);
    const r = await verifyAuditChain(t2.database.db);
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.brokenAt.id, ids[3]);
      assert.match(r.brokenAt.reason, /link broken/);
    }
  } finally {
    await t2.close();
  }
});

test('auditors filter and export the log; the export is itself audited', async () => {
  const { client } = await signedInAs(t, 'auditor');
  const filtered = (await client.get('/api/audit?action=test.concurrent&limit=10')).json();
  assert.equal(filtered.items.length, 10);
  assert.ok(filtered.items.every((e: { action: string }) => e.action === 'test.concurrent'));
  assert.ok(filtered.nextBefore);
  const next = (await client.get(`/api/audit?action=test.concurrent&limit=10&before=${filtered.nextBefore}`)).json();
  assert.ok(next.items.every((e: { id: number }) => e.id < filtered.nextBefore));

  const csv = await client.get('/api/audit/export?format=csv&action=test.concurrent');
  assert.equal(csv.statusCode, 200);
  assert.match(csv.headers['content-disposition'] as string, /attachment; filename="mailwarden-audit-.*\.csv"/);
  const lines = csv.body.trim().split('\n');
  assert.equal(lines[0].split(',')[0], 'id');
  assert.equal(lines.length, 41);
  const json = await client.get('/api/audit/export?format=json&action=test.concurrent');
  assert.equal(JSON.parse(json.body).length, 40);
  const exported = (await client.get('/api/audit?action=audit.exported')).json();
  assert.equal(exported.items.length, 2);
  assert.equal(exported.items[0].details.rows, 40);

  const { client: analyst } = await signedInAs(t, 'security_analyst');
  assert.equal((await analyst.get('/api/audit/export')).statusCode, 403, 'reading is not exporting');
});

test('CSV export neutralises spreadsheet formulas', async () => {
  await appendAudit(t.database.db, { type: 'anonymous', label: '=HYPERLINK("http://evil")' }, { action: 'test.formula' });
  const { client } = await signedInAs(t, 'admin');
  const csv = await client.get('/api/audit/export?format=csv&action=test.formula');
  assert.match(csv.body, /'=HYPERLINK/);
});

test('an anonymous caller cannot read the audit log', async () => {
  assert.equal((await new Client(t.app).get('/api/audit')).statusCode, 401);
});
