// How a contact is stored: the sealed record (profile.ts) and the older forms it
// still reads, the email probe index that exact lookups and the import's
// duplicate probe use (schema.ts emailLengthKey, import-store.ts emailProbeSql), and the partial indexes
// that tag, owner and domain queries must still reach (migration 0022).
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { type SQL, sql } from 'drizzle-orm';
import type { TestDatabase } from '../../test/support/db.ts';
import { rewriteInOlderForm } from '../../test/support/contact-forms.ts';
import { createVaultTestDatabase } from '../../test/support/vault.ts';
import { systemActor } from '../audit/service.ts';
import { DecryptionError } from '../crypto/aead.ts';
import type { Keyring } from '../crypto/field-cipher.ts';
import { createImport, runImport } from './import.ts';
import { emailProbeSql, type ProbeKeys } from './import-store.ts';
import { segmentWhere } from '../segments/compile.ts';
import type { Rule } from '../segments/rules.ts';
import { createAttributeDef, createContact, decodeContact, filterWhere, findByEmail, getContactRow, updateContact } from './service.ts';
import { BIDX_LAYOUT, domainLookup, emailLookup, type Vault, WORKSPACE_ID } from './vault.ts';

let database: TestDatabase;
let vault: Vault;
before(async () => {
  ({ database, vault } = await createVaultTestDatabase());
});
after(async () => {
  await database?.close();
});

const csvOf = (emails: string[]) => `Email,First\n${emails.map((e, i) => `${e},N${i}`).join('\n')}\n`;
const importCsv = async (name: string, csv: string, onDuplicate: 'skip' | 'update' = 'skip') => {
  const options = { mapping: { Email: 'email', First: 'firstName' }, onDuplicate };
  const imp = await createImport(database.db, { filename: `${name}.csv`, format: 'csv', options, createdBy: 'test' });
  return runImport(database.db, vault, systemActor('test'), imp.id, Readable.from([csv]), { batchSize: 40 });
};

describe('the contact profile', () => {
  test('the record (email, names, phone, notes, sensitive attributes) is one sealed value bound to its row', async () => {
    const kr = await vault.keyring();
    const actor = systemActor('test');
    const a = await createContact(database.db, kr, actor, { email: 'profile.a@example.com', firstName: 'Ann', phone: '+44 20 7946 0001', notes: 'met at expo' });
    const b = await createContact(database.db, kr, actor, { email: 'profile.b@example.com', firstName: 'Bob' });
    const rowA = (await getContactRow(database.db, a.id))!;
    const rowB = (await getContactRow(database.db, b.id))!;
    assert.ok(rowA.profileEnc && rowA.profileEnc.length > 0);
    assert.deepEqual([rowA.firstNameEnc, rowA.lastNameEnc, rowA.phoneEnc, rowA.notesEnc, rowA.sensitiveEnc], [null, null, null, null, null]);
    assert.equal(decodeContact(kr, rowA).notes, 'met at expo');
    assert.equal(decodeContact(kr, rowA).phone, '+442079460001');
    // another row's profile, a flipped byte, or the profile moved into a per-column slot: all refuse to decrypt
    assert.throws(() => decodeContact(kr, { ...rowA, profileEnc: rowB.profileEnc }), DecryptionError);
    const flipped = Buffer.from(rowA.profileEnc);
    flipped[flipped.length - 1] ^= 1;
    assert.throws(() => decodeContact(kr, { ...rowA, profileEnc: flipped }), DecryptionError);
    assert.throws(() => decodeContact(kr, { ...rowA, profileEnc: null, firstNameEnc: rowA.profileEnc }), DecryptionError);
    // the plaintext is in no stored byte
    const [stored] = await database.query<{ raw: string }>('SELECT encode(profile_enc, \'escape\') AS raw FROM contacts WHERE id = $1', [a.id]);
    assert.doesNotMatch(stored.raw, /Ann|expo|7946/);
  });

  test('the record holds the email: email_enc stays empty and only the length of the email is in the clear', async () => {
    const kr = await vault.keyring();
    const c = await createContact(database.db, kr, systemActor('test'), { email: 'record.form@example.com', firstName: 'Rae' });
    const row = (await getContactRow(database.db, c.id))!;
    assert.equal(row.emailEnc, null);
    assert.equal(row.emailLength, 'record.form@example.com'.length);
    assert.equal(decodeContact(kr, row).email, 'record.form@example.com');
    const [stored] = await database.query<{ raw: string }>('SELECT encode(profile_enc, \'escape\') AS raw FROM contacts WHERE id = $1', [c.id]);
    assert.doesNotMatch(stored.raw, /record\.form|example/);
    // Where the email is must be unambiguous: its own value or the record's, never neither nor both.
    for (const bad of ['email_length = NULL', 'email_enc = profile_enc', 'profile_enc = NULL']) {
      await assert.rejects(database.query(`UPDATE contacts SET ${bad} WHERE id = $1`, [c.id]), /contacts_email_form_check/, bad);
    }
  });

  // Rows stay in the form older code wrote until their next write (profile.ts): they must read the same, be
  // found by exact lookups, count as duplicates for imports, and be converted by that next write.
  for (const form of ['per-column', 'record-layout-1'] as const) {
    test(`a row in an older form (${form}) reads the same, is found, is a duplicate for imports, and its next write converts it`, async () => {
      const kr = await vault.keyring();
      const actor = systemActor('test');
      await createAttributeDef(database.db, { key: `vip_${form.length}`, label: 'VIP code', type: 'text', sensitive: true });
      const email = `older.${form}@example.com`;
      const c = await createContact(database.db, kr, actor, {
        email,
        firstName: 'Lena',
        lastName: 'Old',
        phone: '+4930901820',
        notes: 'kept',
        attributes: { [`vip_${form.length}`]: 'A1' },
      });
      const fresh = decodeContact(kr, (await getContactRow(database.db, c.id))!);
      await rewriteInOlderForm(database.db, kr, c.id, form);
      const older = (await getContactRow(database.db, c.id))!;
      assert.ok(older.emailEnc && older.emailLength === null);
      assert.equal(older.profileEnc === null, form === 'per-column');
      assert.deepEqual({ ...decodeContact(kr, older), keyVersion: 0, updatedAt: null }, { ...fresh, keyVersion: 0, updatedAt: null });
      assert.deepEqual((await findByEmail(database.db, kr, email)).map((r) => r.id), [c.id]);
      const skipped = await importCsv(`older-${form}`, csvOf([email]));
      assert.deepEqual([skipped.inserted, skipped.skipped], [0, 1], 'a duplicate, not a second contact');

      if (form === 'per-column') await updateContact(database.db, kr, actor, c.id, { firstName: 'Lea' });
      else await importCsv(`older-${form}-update`, csvOf([email]), 'update');
      const row = (await getContactRow(database.db, c.id))!;
      assert.deepEqual([row.emailEnc, row.emailLength, row.firstNameEnc, row.lastNameEnc, row.phoneEnc, row.notesEnc, row.sensitiveEnc], [null, email.length, null, null, null, null, null]);
      assert.deepEqual(row.attributes, {}, 'the sensitive attribute stays sealed');
      const now = decodeContact(kr, row);
      assert.deepEqual(
        [now.email, now.firstName, now.lastName, now.phone, now.notes, now.attributes[`vip_${form.length}`]],
        [email, form === 'per-column' ? 'Lea' : 'N0', 'Old', '+4930901820', 'kept', 'A1'],
      );
    });
  }
});

/** EXPLAIN of a query, after SET LOCAL statements, in a transaction that is rolled back. */
const planOf = (query: SQL, ...settings: SQL[]) =>
  database.db
    .transaction(async (tx) => {
      for (const s of settings) await tx.execute(s);
      const r = await tx.execute(sql`EXPLAIN ${query}`);
      const text = (r as unknown as { rows: Record<string, string>[] }).rows.map((row) => Object.values(row)[0]).join('\n');
      throw Object.assign(new Error('rollback'), { text });
    })
    .catch((e: Error & { text?: string }) => {
      if (e.text === undefined) throw e;
      return e.text;
    });

describe('the email probe index', () => {
  // The email's length is a key of the probe index (schema.ts emailLengthKey); an email_enc ciphertext whose length
  // that expression cannot read (another format) must still be a candidate, so it fails loudly rather than being
  // passed over and the address inserted a second time.
  test('an email ciphertext in a format the length key cannot read is still a candidate for lookups and imports', async () => {
    const kr = await vault.keyring();
    const actor = systemActor('test');
    const made = await createContact(database.db, kr, actor, { email: 'otherformat@example.com' });
    await rewriteInOlderForm(database.db, kr, made.id, 'record-layout-1');
    const relabel = (byte: number) =>
      database.query('UPDATE contacts SET email_enc = set_byte(email_enc, 0, $2) WHERE id = $1', [made.id, byte]);
    await relabel(0x82);
    try {
      await assert.rejects(findByEmail(database.db, kr, 'otherformat@example.com'), DecryptionError);
      await assert.rejects(importCsv('otherformat', csvOf(['otherformat@example.com', 'otherformat2@example.com'])), DecryptionError);
    } finally {
      await relabel(0x81);
    }
    assert.equal((await findByEmail(database.db, kr, 'otherformat@example.com')).length, 1);
  });

  // A regression here is invisible to every other test (same answers) but turned a 1,000,000-row import quadratic.
  test('the duplicate probe stays one index probe per address even when the planner would rather join', async () => {
    const kr = await vault.keyring();
    const emails = ['plan.a@example.com', 'plan.b@gmail.example', 'plan.c@example.org'];
    const k: ProbeKeys = { e: [], d: [], l: [], n: [], x: [] };
    for (const email of emails) {
      k.e.push(emailLookup(kr, email)[0]);
      k.d.push(domainLookup(kr, email.split('@')[1])[0]);
      k.l.push(BIDX_LAYOUT);
      k.n.push(Buffer.byteLength(email));
      k.x.push(false);
    }
    // What stale statistics did during a large import: any join but a nested loop looked cheaper.
    const explain = (keys = k, ownRun?: { run: number; laterRuns?: boolean }) =>
      planOf(emailProbeSql(keys, ownRun), sql`SET LOCAL enable_nestloop = off`);
    const probe = await explain();
    assert.doesNotMatch(probe, /Merge Join|Hash Join|Seq Scan on contacts/, probe);
    assert.match(probe, /Index Scan using contacts_email_probe_idx on contacts c[^\n]*\n\s+Index Cond: [^\n]*= k\.d/, 'one probe per key');
    assert.match(probe, /Index Cond: [^\n]*COALESCE\(\(email_length\)::integer, CASE/, 'the email length is an index key, not a filter');
    // Addresses a run has certainly not inserted: its own rows are skipped inside the index, never read to be dropped.
    const own = await explain({ ...k, x: k.x.map(() => true) }, { run: 7 });
    assert.match(own, /Index Cond: [^\n]*\(import_run < 7\)/, own);
    assert.match(own, /Index Cond: [^\n]*\(import_run > 7\)/, own);
    assert.doesNotMatch(own, /Filter: [^\n]*import_run/, own);
    // The contact list's and the export's email filter (filterWhere) ask the server for the length too, so candidates
    // of another length are not shipped and decrypted (an index key or a filter, whichever the planner picks).
    const { where } = filterWhere(kr, { email: 'plan.a@example.com' }, []);
    const filter = await planOf(sql`SELECT id FROM contacts WHERE ${where}`, sql`SET LOCAL enable_seqscan = off`);
    assert.match(filter, /contacts_email_probe_idx[\s\S]*COALESCE\(\(email_length\)::integer, CASE/, filter);
    // No later run has started: the `> run` range is not asked at all.
    const alone = await explain({ ...k, x: k.x.map(() => true) }, { run: 7, laterRuns: false });
    assert.match(alone, /Index Cond: [^\n]*\(import_run < 7\)/, alone);
    assert.doesNotMatch(alone, /import_run > 7/, alone);
  });
});

// Every index costs each imported contact an insertion (migration 0022): the sparse ones hold only rows where the
// column is set, and domain lookups share the probe index. A query that stops stating what the partial index
// requires falls back to reading the whole table — same answers, so only its plan shows it.
describe('indexes that queries on contacts use', () => {
  const noSeqScan = sql`SET LOCAL enable_seqscan = off`;
  // On a table this small the probe index's workspace_id prefix wins over any other; without it (dropped inside
  // the rolled-back transaction) the partial index is the only one left, usable only if the query proves its predicate.
  const withoutProbe = sql`DROP INDEX contacts_email_probe_idx`;
  // A segment's members (as a snapshot selects them: no consent join to pick the plan's shape).
  const members = (rule: Rule, kr: Keyring) =>
    sql`SELECT c.id FROM contacts c WHERE ${segmentWhere(rule, { workspaceId: WORKSPACE_ID, attributes: [], domainLookup: (d) => domainLookup(kr, d) }, 'snapshot')}`;

  test('tag filters (contact list and segments) use the tags index, which leaves out contacts without tags', async () => {
    const kr = await vault.keyring();
    const { where } = filterWhere(kr, { tag: 'vip' }, []);
    assert.match(await planOf(sql`SELECT id FROM contacts WHERE ${where}`, noSeqScan, withoutProbe), /contacts_tags_idx/);
    for (const op of ['has_any', 'has_all'] as const) {
      const q = members({ kind: 'tag', op, tags: ['vip', 'lead'] }, kr);
      assert.match(await planOf(q, noSeqScan, withoutProbe), /contacts_tags_idx/, op);
    }
  });

  test('owner filters use the owner index; domain conditions use the probe index', async () => {
    const kr = await vault.keyring();
    const { where } = filterWhere(kr, { ownerUserId: 3 }, []);
    assert.match(await planOf(sql`SELECT id FROM contacts WHERE ${where}`, noSeqScan, withoutProbe), /contacts_owner_idx/);
    const owners = members({ kind: 'owner', op: 'is', userIds: [3, 4] }, kr);
    assert.match(await planOf(owners, noSeqScan, withoutProbe), /contacts_owner_idx/);
    const domain = members({ kind: 'email_domain', op: 'equals', domain: 'example.com' }, kr);
    assert.match(await planOf(domain, noSeqScan), /contacts_email_probe_idx/);
  });

  test('the sparse indexes hold only contacts with a phone, an owner or tags', async () => {
    const kr = await vault.keyring();
    const actor = systemActor('test');
    await createContact(database.db, kr, actor, { email: 'sparse.none@example.com' });
    await createContact(database.db, kr, actor, { email: 'sparse.all@example.com', phone: '+44 20 7946 0002', tags: ['vip'] });
    const [r] = await database.query<{ n: number; phone: number; tags: number }>(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE phone_bidx IS NOT NULL)::int AS phone,
         count(*) FILTER (WHERE tags <> '{}')::int AS tags FROM contacts`,
    );
    assert.ok(r.n > r.phone && r.n > r.tags, 'some contacts have neither');
    const predicates = await database.query<{ name: string; pred: string | null }>(
      `SELECT c.relname AS name, pg_get_expr(i.indpred, i.indrelid) AS pred FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
       WHERE c.relname IN ('contacts_phone_bidx_idx', 'contacts_owner_idx', 'contacts_tags_idx') ORDER BY 1`,
    );
    assert.deepEqual(
      predicates.map((p) => [p.name, p.pred?.replace(/[()]/g, '')]),
      [
        ['contacts_owner_idx', 'owner_user_id IS NOT NULL'],
        ['contacts_phone_bidx_idx', 'phone_bidx IS NOT NULL'],
        ['contacts_tags_idx', "tags <> '{}'::text[]"],
      ],
    );
  });
});
