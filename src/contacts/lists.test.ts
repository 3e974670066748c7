// List membership without foreign keys (migration 0020, schema.ts listMembers):
// deletes and truncates take the memberships with them, writers lock the
// parents so a concurrent delete cannot leave an orphan, and a missing list is
// an error rather than a silent no-op.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { backendName, type TestDatabase } from '../../test/support/db.ts';
import { createVaultTestDatabase } from '../../test/support/vault.ts';
import { systemActor } from '../audit/service.ts';
import { sql } from 'drizzle-orm';
import { openPostgres, rows, type Tx } from '../db/client.ts';
import { Problem } from '../http/problem.ts';
import { createImport, runImport } from './import.ts';
import { eraseContact } from './privacy.ts';
import { addListMembers, createContact, createList, deleteList, lockList, type Contact } from './service.ts';
import type { Vault } from './vault.ts';

const actor = systemActor('test');
let database: TestDatabase;
let vault: Vault;
before(async () => {
  ({ database, vault } = await createVaultTestDatabase());
});
after(async () => {
  await database?.close();
});

const members = async (db: Tx = database.db) =>
  (
    await rows<{ list: number; contact: string }>(
      db,
      sql`SELECT list_id::int AS list, contact_id::text AS contact FROM list_members ORDER BY list_id, contact_id`,
    )
  ).map((m) => `${m.list}:${m.contact}`);

async function contactsNamed(...names: string[]): Promise<Contact[]> {
  const kr = await vault.keyring();
  const out: Contact[] = [];
  for (const n of names) out.push(await createContact(database.db, kr, actor, { email: `${n}@lists.example.com` }));
  return out;
}

describe('list membership', () => {
  test('memberships go with their contact or their list; unknown contacts are not added', async () => {
    const [a, b, c] = await contactsNamed('ann', 'bob', 'cy');
    const l1 = await createList(database.db, { name: 'One' });
    const l2 = await createList(database.db, { name: 'Two' });
    const unknown = '01890000-0000-7000-8000-000000000000';
    assert.equal(await addListMembers(database.db, l1.id, [a.id, b.id, c.id, unknown]), 3);
    assert.equal(await addListMembers(database.db, l2.id, [a.id, b.id, c.id]), 3);
    assert.equal(await addListMembers(database.db, l2.id, [a.id]), 0, 'already a member');

    await eraseContact(database.db, await vault.keyring(), a.id);
    assert.deepEqual(await members(), [l1.id, l2.id].flatMap((l) => [b.id, c.id].sort().map((id) => `${l}:${id}`)));

    await deleteList(database.db, l2.id);
    assert.deepEqual(await members(), [b.id, c.id].sort().map((id) => `${l1.id}:${id}`));
    await rows(database.db, sql`TRUNCATE list_members`);
  });

  test('adding members to a list that does not exist is a 404 and writes nothing', async () => {
    const [d] = await contactsNamed('dee');
    await assert.rejects(addListMembers(database.db, 987654, [d.id]), (e: unknown) => e instanceof Problem && e.status === 404);
    assert.deepEqual(await members(), []);
    assert.equal(await lockList(database.db, 987654), false);
  });

  test('an import fills its list, and a deleted list takes the imported members with it', async () => {
    const csv = ['Email', 'eve@lists.example.com', 'fay@lists.example.com', 'bad-address'].join('\n');
    const imp = await createImport(database.db, {
      filename: 'l.csv',
      format: 'csv',
      options: { mapping: { Email: 'email' }, onDuplicate: 'update', list: 'Imported' },
      createdBy: 'test',
    });
    const done = await runImport(database.db, vault, actor, imp.id, Readable.from([csv]), { worker: false });
    assert.equal(done.inserted, 2);
    const [{ id, n }] = await rows<{ id: number; n: number }>(
      database.db,
      sql`SELECT l.id::int AS id, count(m.*)::int AS n FROM contact_lists l JOIN list_members m ON m.list_id = l.id
        WHERE l.name = 'Imported' GROUP BY l.id`,
    );
    assert.equal(n, 2);
    await deleteList(database.db, id);
    assert.deepEqual(await members(), []);
  });

  test('a TRUNCATE of contacts empties the memberships too', async () => {
    const [g] = await contactsNamed('gus');
    const l = await createList(database.db, { name: 'Truncated' });
    await addListMembers(database.db, l.id, [g.id]);
    assert.equal((await members()).length, 1);
    await rows(database.db, sql`TRUNCATE contacts CASCADE`);
    assert.deepEqual(await members(), []);
  });
});

/** drizzle wraps the driver's error: the reason is its cause. */
const lockTimedOut = (e: unknown) => /lock timeout/.test(String((e as Error).cause ?? e));

describe('list membership under concurrent deletes', { skip: backendName !== 'postgres' && 'needs PostgreSQL (TEST_DATABASE_URL)' }, () => {
  test('a list or contact a writer has locked cannot be deleted under it', async () => {
    const other = await openPostgres(database.url!, { max: 2 });
    try {
      const [h] = await contactsNamed('hal');
      const l = await createList(database.db, { name: 'Locked' });
      // `deleted` settles once the writer's transaction has ended: the delete waited for it.
      let deleted: Promise<unknown> | undefined;
      await database.db.transaction(async (tx) => {
        assert.equal(await lockList(tx, l.id), true);
        assert.equal(await addListMembers(tx, l.id, [h.id]), 1);
        await other.db.transaction(async (o) => {
          await rows(o, sql`SET LOCAL lock_timeout = '200ms'`);
          await assert.rejects(rows(o, sql`DELETE FROM contact_lists WHERE id = ${l.id}`), lockTimedOut);
        });
        await other.db.transaction(async (o) => {
          await rows(o, sql`SET LOCAL lock_timeout = '200ms'`);
          await assert.rejects(rows(o, sql`DELETE FROM contacts WHERE id = ${h.id}`), lockTimedOut);
        });
        deleted = rows(other.db, sql`DELETE FROM contacts WHERE id = ${h.id}`);
      });
      await deleted;
      assert.deepEqual(await members(), [], 'the contact, deleted after the writer committed, took its membership along');
    } finally {
      await other.close();
    }
  });
});
