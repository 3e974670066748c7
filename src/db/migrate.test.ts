import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.ts';
import { countAll, rows } from './client.ts';
import { listMigrations, migrate, pendingMigrations } from './migrate.ts';
import { users } from './schema.ts';

let database: TestDatabase;
before(async () => {
  database = await createTestDatabase();
});
after(async () => {
  await database?.close();
});

test('a cloned test database has every committed migration applied', async () => {
  assert.deepEqual(await pendingMigrations(database), []);
  const applied = await database.query<{ name: string }>('SELECT name FROM mw_migrations ORDER BY name');
  assert.deepEqual(
    applied.map((r) => r.name),
    listMigrations().map((m) => m.name),
  );
});

test('migrating again is a no-op', async () => {
  assert.deepEqual(await migrate(database), []);
});

test('count(*) and bigint ids come back as numbers on both drivers', async () => {
  await database.db.insert(users).values({ email: 'a@example.com', name: 'A', role: 'admin', passwordHash: 'x' });
  const [{ n }] = await database.db.select({ n: countAll }).from(users);
  assert.equal(n, 1);
  const [u] = await database.db.select().from(users);
  assert.equal(typeof u.id, 'number');
  const raw = await rows<{ c: number }>(database.db, sql`select count(*) as c from users`);
  assert.equal(Number(raw[0].c), 1);
});

test('the audit log refuses updates and deletes', async () => {
  await database.query(
    `INSERT INTO audit_log (at, actor_type, action, outcome, details, prev_hash, hash)
     VALUES (now(), 'system', 'test', 'success', '{}', '', '')`,
  );
  await assert.rejects(database.query('DELETE FROM audit_log'), /append-only/);
  await assert.rejects(database.query(`UPDATE audit_log SET action = 'x'`), /append-only/);
  await assert.rejects(database.query('TRUNCATE audit_log'), /append-only/);
});
