// Blind-index layout change (email 10 → 14 bits) on existing data, the import's
// batch lock and timeline, and the concurrent rotation sweep.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { backendName, type TestDatabase } from '../../test/support/db.ts';
import { createVaultTestDatabase } from '../../test/support/vault.ts';
import { systemActor } from '../audit/service.ts';
import { blindIndex } from '../crypto/blind-index.ts';
import { createImport, runImport } from './import.ts';
import { legacyIndexCount, reindexEmailIndex } from './reindex.ts';
import { runRotation, startFieldKeyRotation } from './rotation.ts';
import { createContact, findByEmail, listActivities, listContacts } from './service.ts';
import { EMAIL_BITS, emailBidx, LEGACY_EMAIL_BITS, lockAllEmails, type Vault } from './vault.ts';

let database: TestDatabase;
let vault: Vault;
const actor = systemActor('test');
const mapping = { email: 'email', first: 'firstName' };

async function importCsv(csv: string, onDuplicate: 'update' | 'skip' = 'skip') {
  const imp = await createImport(database.db, {
    filename: 'people.csv',
    format: 'csv',
    options: { mapping, onDuplicate },
    createdBy: 'tester',
  });
  // On the worker thread: these files are too small for the default to use it, and the worker path must be exercised too.
  return runImport(database.db, vault, actor, imp.id, Readable.from([csv]), {
    batchSize: 7,
    worker: true,
  });
}

before(async () => {
  ({ database, vault } = await createVaultTestDatabase());
});
after(async () => {
  await database?.close();
});

describe('email blind index layout', () => {
  test('layout 2 writes 14-bit email indexes whose top 10 bits are the layout-1 value', async () => {
    assert.equal(EMAIL_BITS, 14);
    const kr = await vault.keyring();
    const c = await createContact(database.db, kr, actor, { email: 'Layout.Two@Example.com' });
    const [row] = await database.query<{ email_bidx: number; bidx_layout: number }>(
      'SELECT email_bidx, bidx_layout FROM contacts WHERE id = $1',
      [c.id],
    );
    assert.equal(row.bidx_layout, 2);
    assert.equal(row.email_bidx, emailBidx(kr, 'layout.two@example.com'));
    assert.ok(row.email_bidx < 2 ** EMAIL_BITS);
    assert.equal(
      row.email_bidx >>> (EMAIL_BITS - LEGACY_EMAIL_BITS),
      blindIndex(kr.blindIndexKey(), 'email', 'layout.two@example.com', LEGACY_EMAIL_BITS),
    );
  });

  test('rows under the old layout stay findable and unique, and the re-index sweep moves them to the new one', async () => {
    const kr = await vault.keyring();
    const csv = `email,first\n${Array.from({ length: 30 }, (_, i) => `legacy.${i}@example.com,L${i}`).join('\n')}\n`;
    assert.equal((await importCsv(csv)).inserted, 30);
    // What a database written before the layout change holds: 10-bit values, layout 1.
    await database.exec(
      `UPDATE contacts SET email_bidx = email_bidx >> ${EMAIL_BITS - LEGACY_EMAIL_BITS}, bidx_layout = 1 WHERE import_id IS NOT NULL`,
    );
    assert.equal(await legacyIndexCount(database.db), 30);

    assert.equal((await findByEmail(database.db, kr, 'legacy.3@example.com')).length, 1);
    assert.equal(
      (await listContacts(database.db, kr, { email: 'legacy.17@example.com' })).items[0]?.firstName,
      'L17',
    );
    // The import's duplicate check sees legacy rows: nothing inserted twice.
    const again = await importCsv(csv);
    assert.deepEqual([again.inserted, again.skipped], [0, 30]);
    await assert.rejects(
      createContact(database.db, kr, actor, { email: 'legacy.5@example.com' }),
      /already exists/,
    );

    assert.equal(await reindexEmailIndex(database.db, vault, { batchSize: 8 }), 30);
    assert.equal(await legacyIndexCount(database.db), 0);
    const rows = await database.query<{ id: string; email_bidx: number }>(
      'SELECT id, email_bidx FROM contacts WHERE bidx_layout = 2 AND import_id IS NOT NULL',
    );
    assert.equal(rows.length, 30);
    assert.equal(
      (await findByEmail(database.db, kr, 'legacy.29@example.com'))[0]?.emailBidx,
      emailBidx(kr, 'legacy.29@example.com'),
    );
    assert.equal((await listContacts(database.db, kr, { email: 'legacy.0@example.com' })).items.length, 1);
  });
});

describe('import writes', () => {
  test('a created contact shows its import in the timeline without an activity row; an update-import adds one', async () => {
    const kr = await vault.keyring();
    const first = await importCsv(
      'email,first\ntimeline.one@example.com,Tim\ntimeline.one@example.com,Timothy\n',
      'update',
    );
    assert.deepEqual([first.inserted, first.updated], [1, 1]);
    const [c] = await findByEmail(database.db, kr, 'timeline.one@example.com');
    const [{ n }] = await database.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM contact_activities WHERE contact_id = $1',
      [c.id],
    );
    assert.equal(n, 0);
    let timeline = await listActivities(database.db, kr, c.id);
    assert.deepEqual(
      timeline.map((a) => [a.kind, a.details.importId, a.details.action]),
      [['import', first.id, 'inserted']],
    );

    const second = await importCsv('email,first\ntimeline.one@example.com,Timo\n', 'update');
    assert.equal(second.updated, 1);
    timeline = await listActivities(database.db, kr, c.id);
    assert.deepEqual(
      timeline.map((a) => [a.kind, a.details.importId, a.details.action]),
      [
        ['import', second.id, 'updated'],
        ['import', first.id, 'inserted'],
      ],
    );
    assert.equal(
      (await listContacts(database.db, kr, { email: 'timeline.one@example.com' })).items[0].firstName,
      'Timo',
    );
  });
});

describe('rotation sweep', () => {
  test('two concurrent loops re-encrypt every row once and re-index the email', async () => {
    await database.exec(
      `UPDATE contacts SET email_bidx = email_bidx >> ${EMAIL_BITS - LEGACY_EMAIL_BITS}, bidx_layout = 1`,
    );
    const [{ total }] = await database.query<{ total: number }>(
      'SELECT count(*)::int AS total FROM contacts',
    );
    const rotation = await startFieldKeyRotation(database.db, vault, actor);
    const done = await runRotation(database.db, vault, actor, rotation.id, {
      batchSize: 4,
      graceMs: 0,
      concurrency: 2,
    });
    assert.equal(done.state, 'completed');
    const byVersion = await database.query<{ v: number; layout: number; n: number }>(
      'SELECT key_version AS v, bidx_layout AS layout, count(*)::int AS n FROM contacts GROUP BY 1, 2',
    );
    assert.deepEqual(byVersion, [{ v: rotation.toVersion, layout: 2, n: total }]);
    const kr = await vault.keyring();
    assert.equal((await findByEmail(database.db, kr, 'legacy.12@example.com')).length, 1);
    assert.equal((await listContacts(database.db, kr, { email: 'layout.two@example.com' })).items.length, 1);
  });
});

describe('email uniqueness lock', {
  skip: backendName !== 'postgres' && 'needs PostgreSQL (TEST_DATABASE_URL): two connections',
}, () => {
  test('a single write waits while an import batch holds the exclusive email lock', async () => {
    const kr = await vault.keyring();
    let releaseImport!: () => void;
    const held = new Promise<void>((r) => {
      releaseImport = r;
    });
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => {
      locked = r;
    });
    const batch = database.db.transaction(async (tx) => {
      await lockAllEmails(tx);
      locked();
      await held;
    });
    await isLocked;
    let created = false;
    const write = createContact(database.db, kr, actor, { email: 'waits.for.import@example.com' }).then(
      (c) => {
        created = true;
        return c;
      },
    );
    // Bounded wait until the write is queued behind the import's advisory lock (seen in pg_locks).
    for (let i = 0; i < 200; i++) {
      const [{ n }] = await database.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
      );
      if (n > 0) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const [{ waiting }] = await database.query<{ waiting: number }>(
      "SELECT count(*)::int AS waiting FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    );
    assert.equal(waiting, 1, 'the single write waits for the import lock');
    assert.equal(created, false);
    releaseImport();
    await batch;
    assert.equal((await write).email, 'waits.for.import@example.com');
  });
});
