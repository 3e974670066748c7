import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { eq, sql } from 'drizzle-orm';
import { type Client, createTestApp, signedInAs, type TestApp } from '../../test/support/app.ts';
import { rewriteInOlderForm } from '../../test/support/contact-forms.ts';
import { systemActor } from '../audit/service.ts';
import { DecryptionError } from '../crypto/aead.ts';
import { LocalKeyProvider } from '../crypto/key-provider.ts';
import { auditLog, contacts, dataKeys, monitoringOutbox } from '../db/schema.ts';
import { createImport, runImport } from './import.ts';
import { getRotation, rotateMasterKey, runRotation, startFieldKeyRotation } from './rotation.ts';
import { createContact, decodeContact, findByEmail, getContactRow, updateContact } from './service.ts';
import { emailMatches, encText, Vault, VaultError } from './vault.ts';

let t: TestApp;
let owner: Client;
let vault: Vault;
before(async () => {
  t = await createTestApp();
  owner = (await signedInAs(t, 'owner')).client;
  // The app's own vault (same master key) so tests see the same keyring.
  vault = new Vault(t.database.db, new LocalKeyProvider(t.config.masterKey), { cacheMs: 0 });
});
after(async () => {
  await t?.close();
});

const audits = async (action: string) => t.database.db.select().from(auditLog).where(eq(auditLog.action, action));

async function upload(client: Client, id: string, body: string, type = 'text/csv') {
  const cookie = [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  return t.app.inject({
    method: 'PUT',
    url: `/api/contacts/imports/${id}/file`,
    remoteAddress: client.ip,
    headers: { cookie, 'x-csrf-token': client.cookies.get('mw_csrf')!, 'content-type': type },
    payload: body,
  });
}

async function importCsv(client: Client, csv: string, options: Record<string, unknown> = {}) {
  const created = await client.post('/api/contacts/imports', {
    filename: 'people.csv',
    format: 'csv',
    mapping: { Email: 'email', First: 'firstName', Last: 'lastName', Phone: 'phone', Country: 'country' },
    onDuplicate: 'update',
    ...options,
  });
  assert.equal(created.statusCode, 201, created.body);
  const res = await upload(client, created.json().id, csv);
  return { id: created.json().id as string, res };
}

describe('contacts API and encryption at rest', () => {
  test('imports a file mixing good and bad rows: every good row kept, every bad one reported with its line', async () => {
    const csv = [
      'Email,First,Last,Phone,Country',
      'grace.hopper@navy.example.com,Grace,Hopper,+1 202 555 0143,US', // 2 good
      'not-an-email,Bad,Row,,US', // 3 bad email
      'ada@lovelace.example.org,Ada,Lovelace,020 7946 0958,GB', // 4 good (national number + country)
      'x@example.com,X,Y,12,US', // 5 bad phone
      '"unterminated@example.com,Q,"R"x,,US', // 6 malformed CSV
      'Linus@Torvalds.Example.net,Linus,Torvalds,,FI', // 7 good (normalised)
      'ada@lovelace.example.org,Ada,King,,GB', // 8 duplicate of line 4 → update
      'someone@example.com,,,,ZZ', // 9 bad country
    ].join('\n');
    const { id, res } = await importCsv(owner, `${csv}\n`, { list: 'Newsletter' });
    assert.equal(res.statusCode, 200, res.body);
    const imp = res.json();
    assert.equal(imp.state, 'completed');
    assert.equal(imp.inserted, 3);
    assert.equal(imp.updated, 1);
    assert.equal(imp.failed, 4);
    const errors = await owner.get(`/api/contacts/imports/${id}/errors.csv`);
    assert.equal(errors.statusCode, 200);
    const lines = errors.body.trim().split('\r\n').slice(1).map((l) => Number(l.split(',')[0]));
    assert.deepEqual(lines, [3, 5, 6, 9]);
    assert.match(errors.body, /email: invalid email address/);
    assert.match(errors.body, /country: not an ISO/);

    const list = (await owner.get('/api/contacts?limit=50')).json();
    const ada = list.items.find((c: { email: string }) => c.email === 'ada@lovelace.example.org');
    assert.equal(ada.lastName, 'King', 'the duplicate row updated the contact');
    assert.equal(ada.phone, '+442079460958');
    assert.ok(list.items.some((c: { email: string }) => c.email === 'linus@torvalds.example.net'));
    const lists = (await owner.get('/api/lists')).json();
    assert.equal(lists.find((l: { name: string }) => l.name === 'Newsletter').members, 3);
    const [entry] = await audits('contacts.imported');
    assert.equal(entry.details.inserted, 3);
  });

  test('a table scan and a database dump contain no plaintext email, name or phone', async () => {
    const needles = ['grace.hopper', 'Hopper', 'Lovelace', '2079460958', '202555014', 'torvalds'];
    for (const table of ['contacts', 'contact_activities', 'contact_consents', 'contact_import_errors', 'list_members', 'audit_log']) {
      const dump = JSON.stringify(await t.database.query(`SELECT * FROM ${table}`), (_k, v) =>
        v && typeof v === 'object' && v.type === 'Buffer' ? Buffer.from(v.data).toString('latin1') : v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v,
      );
      for (const n of needles) assert.ok(!dump.toLowerCase().includes(n.toLowerCase()), `${n} found in ${table}`);
    }
    if (t.database.kind === 'postgres') {
      const out = execFileSync('pg_dump', ['--data-only', (t.database as { url?: string }).url!], { maxBuffer: 256 * 1024 * 1024 }).toString('latin1');
      assert.ok(out.includes('COPY public.contacts'), 'the dump contains the contacts table');
      for (const n of needles) assert.ok(!out.toLowerCase().includes(n.toLowerCase()), `${n} found in pg_dump`);
    } else {
      const dump = await t.database.pglite!.dumpDataDir('none');
      const bytes = Buffer.from(await dump.arrayBuffer()).toString('latin1').toLowerCase();
      assert.ok(bytes.length > 1_000_000);
      for (const n of needles) assert.ok(!bytes.includes(n.toLowerCase()), `${n} found in the PGlite data directory`);
    }
  });

  test('tampered ciphertext and ciphertext swapped between rows fail with a clear error', async () => {
    const kr = await vault.keyring();
    const [a, b] = await t.database.db.select().from(contacts).limit(2);
    // The record (profile_enc) holds the email and the rest of the contact's PII (profile.ts).
    const flipped = Buffer.from(a.profileEnc!);
    flipped[flipped.length - 1] ^= 0x01;
    assert.throws(() => decodeContact(kr, { ...a, profileEnc: flipped }), (err: unknown) => err instanceof DecryptionError && /authentication_failed/.test(err.message));
    assert.throws(() => decodeContact(kr, { ...a, profileEnc: b.profileEnc }), DecryptionError);
    // In the database too: swap two rows' records; reading either one fails, and the API answers 500 without leaking.
    await t.database.db.update(contacts).set({ profileEnc: b.profileEnc }).where(eq(contacts.id, a.id));
    await assert.rejects(async () => decodeContact(kr, (await getContactRow(t.database.db, a.id))!), /decryption failed/);
    const res = await owner.get(`/api/contacts/${a.id}`);
    assert.equal(res.statusCode, 500);
    assert.doesNotMatch(res.body, /@/);
    await t.database.db.update(contacts).set({ profileEnc: a.profileEnc }).where(eq(contacts.id, a.id));
    assert.equal((await owner.get(`/api/contacts/${a.id}`)).statusCode, 200);
  });

  test('email is unique per workspace through the blind index; exact lookup by email and phone', async () => {
    const res = await owner.post('/api/contacts', { email: 'GRACE.HOPPER@navy.example.com' });
    assert.equal(res.statusCode, 409);
    assert.equal(res.json().code, 'contact_exists');
    const byEmail = (await owner.get('/api/contacts?email=Grace.Hopper@NAVY.example.com')).json();
    assert.equal(byEmail.items.length, 1);
    assert.equal(byEmail.items[0].firstName, 'Grace');
    const byPhone = (await owner.get(`/api/contacts?phone=${encodeURIComponent('+44 20 7946 0958')}`)).json();
    assert.deepEqual(byPhone.items.map((c: { email: string }) => c.email), ['ada@lovelace.example.org']);
    assert.equal((await owner.get('/api/contacts?email=nobody@example.com')).json().items.length, 0);
    // a malformed address is a clear 4xx problem, not an empty result or a 500
    const bad = await owner.get('/api/contacts?email=not-an-address');
    assert.equal(bad.statusCode, 422);
    assert.match(bad.headers['content-type'] as string, /application\/problem\+json/);
  });
});

describe('masking by role', () => {
  test('each role sees what the matrix allows; reads beyond ownership are audited once per request', async () => {
    const rep = await signedInAs(t, 'sales_rep');
    await owner.post('/api/contact-attributes', { key: 'salary', label: 'Salary', type: 'number', sensitive: true });
    await owner.post('/api/contact-attributes', { key: 'plan', label: 'Plan', type: 'enum', options: ['free', 'pro'] });
    const mine = (
      await owner.post('/api/contacts', {
        email: 'owned@example.com',
        firstName: 'Olga',
        phone: '+14155550123',
        ownerUserId: rep.user.id,
        attributes: { salary: 100000, plan: 'pro' },
      })
    ).json();
    const M = '•';
    const cases: { role: 'owner' | 'admin' | 'marketer' | 'sales_rep' | 'auditor'; email: boolean; name: boolean; phone: boolean; salary: boolean; plan: boolean }[] = [
      { role: 'owner', email: true, name: true, phone: true, salary: true, plan: true },
      { role: 'admin', email: true, name: true, phone: true, salary: true, plan: true },
      { role: 'marketer', email: true, name: true, phone: false, salary: false, plan: true },
      { role: 'sales_rep', email: false, name: false, phone: false, salary: false, plan: false }, // not the owner
      { role: 'auditor', email: false, name: false, phone: false, salary: false, plan: false },
    ];
    for (const c of cases) {
      const { client } = await signedInAs(t, c.role);
      const before = (await audits('contacts.unmasked_read')).length;
      const got = (await client.get(`/api/contacts/${mine.id}`)).json();
      assert.equal(!got.email.includes(M), c.email, `${c.role} email ${got.email}`);
      assert.equal(!got.firstName.includes(M), c.name, `${c.role} name`);
      assert.equal(!got.phone.includes(M), c.phone, `${c.role} phone ${got.phone}`);
      assert.equal(got.attributes.salary === 100000, c.salary, `${c.role} salary`);
      assert.equal(got.attributes.plan === 'pro', c.plan, `${c.role} plan`);
      const anyClear = c.email || c.name || c.phone || c.salary;
      assert.equal((await audits('contacts.unmasked_read')).length - before, anyClear ? 1 : 0, `${c.role} audit`);
    }
    // The owning rep sees everything of their own contact, without an audit entry.
    const before = (await audits('contacts.unmasked_read')).length;
    const own = (await rep.client.get(`/api/contacts/${mine.id}`)).json();
    assert.equal(own.phone, '+14155550123');
    assert.equal(own.attributes.salary, 100000);
    assert.equal((await audits('contacts.unmasked_read')).length, before);
    assert.equal(own.maskedFields.length, 0);
    // A list read by an admin: one audit entry with the count.
    const { client: admin } = await signedInAs(t, 'admin');
    const page = (await admin.get('/api/contacts?limit=3')).json();
    const entries = await audits('contacts.unmasked_read');
    assert.equal(entries.at(-1)!.details.count, page.items.length);
    // Security analysts have no contacts:read at all.
    const { client: analyst } = await signedInAs(t, 'security_analyst');
    assert.equal((await analyst.get('/api/contacts')).statusCode, 403);
  });
});

describe('export and privacy requests', () => {
  test('export needs contacts:export and a reason, is masked, audited with the row count and emits a monitoring event', async () => {
    const { client: marketer } = await signedInAs(t, 'marketer');
    assert.equal((await marketer.post('/api/contacts/exports', { format: 'csv', fields: ['email'], reason: 'campaign' })).statusCode, 403);
    assert.equal((await owner.post('/api/contacts/exports', { format: 'csv', fields: ['email'] })).statusCode, 400);
    assert.equal((await owner.post('/api/contacts/exports', { format: 'csv', fields: ['password'], reason: 'x-check' })).statusCode, 422);
    const res = await owner.post('/api/contacts/exports', { format: 'csv', fields: ['email', 'phone', 'attributes.plan'], reason: 'quarterly CRM sync' });
    assert.equal(res.statusCode, 200, res.body);
    const lines = res.body.trim().split('\r\n');
    assert.equal(lines[0], 'email,phone,attributes.plan');
    assert.ok(lines.includes('owned@example.com,+14155550123,pro'));
    const [entry] = (await audits('contacts.exported')).slice(-1);
    assert.equal(entry.details.count, lines.length - 1);
    assert.equal(entry.details.reason, 'quarterly CRM sync');
    const events = await t.database.db.select().from(monitoringOutbox).where(eq(monitoringOutbox.kind, 'contacts.exported'));
    assert.equal(events.at(-1)!.details.rows, lines.length - 1);
    const jsonl = await owner.post('/api/contacts/exports', { format: 'jsonl', fields: ['email'], reason: 'one address', filter: { email: 'owned@example.com' } });
    assert.deepEqual(jsonl.body.trim().split('\n').map((l) => JSON.parse(l)), [{ email: 'owned@example.com' }]);
    const id = JSON.parse(jsonl.body.trim()).email && (await owner.get('/api/contacts?email=owned@example.com')).json().items[0].id;
    const timeline = (await owner.get(`/api/contacts/${id}/activities`)).json();
    assert.ok(timeline.some((a: { kind: string }) => a.kind === 'export'));
  });

  test('privacy export returns everything; erase keeps only the suppression hash and a re-import stays suppressed', async () => {
    const c = (await owner.post('/api/contacts', { email: 'forget.me@example.com', firstName: 'Fern', notes: 'Met at expo' })).json();
    await owner.post(`/api/contacts/${c.id}/activities`, { kind: 'call', body: 'Called about pricing' });
    const consent = await owner.post(`/api/contacts/${c.id}/consents`, { purpose: 'marketing_email', state: 'pending', source: 'web form', evidence: { ip: '203.0.113.9', form: 'footer' } });
    assert.equal(consent.statusCode, 201, consent.body);
    const url = new URL(consent.json().confirmationUrl);
    assert.equal((await t.app.inject({ method: 'GET', url: `${url.pathname}${url.search}x` })).statusCode, 400, 'a modified token is refused');
    assert.equal((await t.app.inject({ method: 'GET', url: `${url.pathname}${url.search}` })).statusCode, 200);
    const detail = (await owner.get(`/api/contacts/${c.id}`)).json();
    assert.equal(detail.consents[0].state, 'subscribed');

    assert.equal((await owner.post(`/api/contacts/${c.id}/privacy-export`, {})).statusCode, 400, 'a reason is required');
    const exp = await owner.post(`/api/contacts/${c.id}/privacy-export`, { reason: 'data subject access request #12' });
    assert.equal(exp.statusCode, 200);
    const data = exp.json();
    assert.equal(data.contact.email, 'forget.me@example.com');
    assert.equal(data.consents.length, 2);
    assert.equal(data.consents[1].evidence.ip, '203.0.113.9');
    assert.ok(data.activities.some((a: { body: string }) => a.body === 'Called about pricing'));

    const erased = await owner.post(`/api/contacts/${c.id}/erase`, { reason: 'erasure request #13' });
    assert.equal(erased.statusCode, 200);
    assert.equal((await owner.get(`/api/contacts/${c.id}`)).statusCode, 404);
    const left = await t.database.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM contacts WHERE id = $1) + (SELECT count(*) FROM contact_activities WHERE contact_id = $1) + (SELECT count(*) FROM contact_consents WHERE contact_id = $1) AS n`,
      [c.id],
    );
    assert.equal(Number(left[0].n), 0);
    assert.deepEqual((await owner.get('/api/suppressions/check?email=Forget.Me@example.com')).json(), { suppressed: true, reason: 'erased' });
    assert.equal((await audits('contacts.erased')).length, 1);
    assert.equal((await audits('contacts.privacy_export')).length, 1);

    // Re-imported with consent: the contact comes back suppressed and without a subscription.
    const { res } = await importCsv(owner, 'Email,First,Last,Phone,Country\nforget.me@example.com,Fern,,,\n', { consent: { purpose: 'marketing_email', state: 'subscribed' } });
    assert.equal(res.json().suppressed, 1);
    const back = (await owner.get('/api/contacts?email=forget.me@example.com')).json().items[0];
    assert.equal(back.suppressed, true);
    assert.deepEqual((await owner.get(`/api/contacts/${back.id}`)).json().consents, []);
  });
});

describe('resumable work', () => {
  test('an import that crashes mid-file resumes from the last committed batch without duplicates', async () => {
    const n = 250;
    const csv = `Email,First\n${Array.from({ length: n }, (_, i) => (i === 100 ? 'broken,Row' : `resume${i}@example.com,Name${i}`)).join('\n')}\n`;
    const imp = await createImport(t.database.db, { filename: 'big.csv', format: 'csv', options: { mapping: { Email: 'email', First: 'firstName' }, onDuplicate: 'skip' }, createdBy: 'test' });
    const actor = systemActor('test');
    await assert.rejects(runImport(t.database.db, vault, actor, imp.id, Readable.from([csv]), { batchSize: 40, crashAfterBatches: 3 }), /simulated crash/);
    const mid = await t.database.query<{ rows_done: number; state: string }>('SELECT rows_done, state FROM contact_imports WHERE id = $1', [imp.id]);
    assert.equal(Number(mid[0].rows_done), 120);
    assert.equal(mid[0].state, 'failed');
    const done = await runImport(t.database.db, vault, actor, imp.id, Readable.from([csv]), { batchSize: 40 });
    assert.equal(done.state, 'completed');
    assert.equal(done.rowsDone, n);
    assert.equal(done.inserted, n - 1);
    assert.equal(done.failed, 1);
    assert.equal(done.skipped, 0, 'no committed row was processed twice');
    const [{ count }] = await t.database.db.select({ count: sql<number>`count(*)::int` }).from(contacts).where(sql`attributes = '{}'::jsonb AND tags = '{}'`);
    assert.ok(count >= n - 1);
    const errs = await t.database.query<{ line: number }>('SELECT line FROM contact_import_errors WHERE import_id = $1', [imp.id]);
    assert.deepEqual(errs.map((e) => e.line), [102]);
  });

  // The probe skips candidates a run inserted itself when its Bloom filter says the address is not one of them
  // (import-seen.ts). These two cases would turn into duplicate contacts if that shortcut were unsound.
  test('an address a crashed run inserted is still a duplicate when it appears again after the resume', async () => {
    const csv = `Email,First\n${Array.from({ length: 200 }, (_, i) => `again${i === 150 ? 5 : i}@example.com,N${i}`).join('\n')}\n`;
    const imp = await createImport(t.database.db, { filename: 'again.csv', format: 'csv', options: { mapping: { Email: 'email', First: 'firstName' }, onDuplicate: 'skip' }, createdBy: 'test' });
    const actor = systemActor('test');
    await assert.rejects(runImport(t.database.db, vault, actor, imp.id, Readable.from([csv]), { batchSize: 40, crashAfterBatches: 2 }), /simulated crash/);
    const done = await runImport(t.database.db, vault, actor, imp.id, Readable.from([csv]), { batchSize: 40 });
    assert.equal(done.inserted, 199);
    assert.equal(done.skipped, 1, 'line 152 repeats line 7, inserted before the crash');
    const kr = await vault.keyring();
    assert.equal((await findByEmail(t.database.db, kr, 'again5@example.com')).length, 1);
  });

  test('a contact the running import inserted and someone then re-addressed is found by its new address', async () => {
    const csv = `Email,First\n${Array.from({ length: 120 }, (_, i) => `moved${i}@example.com,N${i}`).join('\n')}\nmoved.to@example.com,Later\n`;
    const imp = await createImport(t.database.db, { filename: 'moved.csv', format: 'csv', options: { mapping: { Email: 'email', First: 'firstName' }, onDuplicate: 'skip' }, createdBy: 'test' });
    const actor = systemActor('test');
    const kr = await vault.keyring();
    const done = await runImport(t.database.db, vault, actor, imp.id, Readable.from([csv]), {
      batchSize: 40,
      afterBatch: async (n) => {
        if (n !== 1) return;
        const [row] = await findByEmail(t.database.db, kr, 'moved3@example.com');
        await updateContact(t.database.db, kr, actor, row.id, { email: 'moved.to@example.com' });
      },
    });
    assert.equal(done.skipped, 1, 'the last line is the re-addressed contact');
    assert.equal(done.inserted, 120);
    assert.equal((await findByEmail(t.database.db, kr, 'moved.to@example.com')).length, 1);
  });

  // Addresses written by someone else between two batches of an import (a single write, another import) are
  // duplicates for its later batches: an import's duplicate probe must never trust only what it inserted itself.
  const importCsv = async (name: string, csv: string, afterBatch?: (n: number) => Promise<void>) => {
    const options = { mapping: { Email: 'email', First: 'firstName' }, onDuplicate: 'skip' as const };
    const imp = await createImport(t.database.db, { filename: `${name}.csv`, format: 'csv', options, createdBy: 'test' });
    return runImport(t.database.db, vault, systemActor('test'), imp.id, Readable.from([csv]), { batchSize: 40, afterBatch });
  };
  const csvOf = (emails: string[]) => `Email,First\n${emails.map((e, i) => `${e},N${i}`).join('\n')}\n`;

  test('an import finds an address a single write added between its batches', async () => {
    const kr = await vault.keyring();
    const csv = csvOf(Array.from({ length: 160 }, (_, i) => `midwrite${i === 150 ? 7 : i}@example.com`));
    const done = await importCsv('midwrite', csv, async (n) => {
      if (n === 1) await createContact(t.database.db, kr, systemActor('test'), { email: 'midwrite100@example.com' });
    });
    assert.equal(done.skipped, 2, 'line 102 was created meanwhile; line 152 repeats line 9');
    assert.equal(done.inserted, 158);
    for (const e of ['midwrite100@example.com', 'midwrite7@example.com'])
      assert.equal((await findByEmail(t.database.db, kr, e)).length, 1, e);
    // A second import finds everything the first one inserted.
    const second = await importCsv('midwrite-again', csv);
    assert.equal(second.inserted, 0);
    assert.equal(second.skipped, 160);
  });

  test('an import finds an address another import added between its batches', async () => {
    const kr = await vault.keyring();
    const csv = csvOf(Array.from({ length: 120 }, (_, i) => `midimport${i}@example.com`));
    const done = await importCsv('midimport', csv, async (n) => {
      if (n === 1) await importCsv('midimport-other', csvOf(['midimport90@example.com']));
    });
    assert.equal(done.skipped, 1, 'line 92 was imported by the other import meanwhile');
    assert.equal(done.inserted, 119);
    assert.equal((await findByEmail(t.database.db, kr, 'midimport90@example.com')).length, 1);
  });

  test('an exact email lookup drops candidates of another length unread, and still fails loudly on a tampered one', async () => {
    const kr = await vault.keyring();
    const id = '0190b7b4-1111-7000-8000-000000000001';
    const sealed = encText(kr, 'contacts', 'email', id, 'ann@example.com')!;
    assert.equal(emailMatches(kr, 'contacts', id, sealed, 'ann@example.com'), true);
    assert.equal(emailMatches(kr, 'contacts', id, sealed, 'anne@example.com'), false);
    // another length: not decrypted at all (garbage of that length would otherwise throw)
    const longer = Buffer.concat([sealed, Buffer.alloc(3)]);
    longer.fill(0x55, 30);
    assert.equal(emailMatches(kr, 'contacts', id, longer, 'ann@example.com'), false);
    // the same length: decrypted, and a flipped byte is an error, not a quiet mismatch
    const tampered = Buffer.from(sealed);
    tampered[tampered.length - 1] ^= 1;
    assert.throws(() => emailMatches(kr, 'contacts', id, tampered, 'ann@example.com'), DecryptionError);
  });

  test('a field-key rotation interrupted midway resumes and ends with every row under the new version', async () => {
    const actor = systemActor('test');
    const total = await t.database.query<{ n: number }>('SELECT count(*)::int AS n FROM contacts');
    assert.ok(total[0].n > 200);
    // Rows in the forms older code wrote (profile.ts) are rotated column by column: the per-column form (before
    // migration 0019) and the layout-1 record with the email as its own value (before migration 0023).
    const kr0 = await vault.keyring();
    const legacy = await createContact(t.database.db, kr0, actor, { email: 'rotate.legacy@example.com', firstName: 'Rhea', phone: '+4930901821' });
    await rewriteInOlderForm(t.database.db, kr0, legacy.id, 'per-column');
    const layout1 = await createContact(t.database.db, kr0, actor, { email: 'rotate.layout1@example.com', lastName: 'Quist' });
    await rewriteInOlderForm(t.database.db, kr0, layout1.id, 'record-layout-1');
    const rotation = await startFieldKeyRotation(t.database.db, vault, actor);
    assert.equal(rotation.toVersion, rotation.fromVersion + 1);
    // New writes already use the new key while the old one still decrypts.
    const fresh = (await owner.post('/api/contacts', { email: 'during.rotation@example.com' })).json();
    const interrupted = await runRotation(t.database.db, vault, actor, rotation.id, { batchSize: 50, maxBatches: 2, graceMs: 0 });
    assert.equal(interrupted.state, 'running');
    assert.equal(interrupted.done, 100);
    const mixed = await t.database.query<{ v: number; n: number }>('SELECT key_version AS v, count(*)::int AS n FROM contacts GROUP BY 1 ORDER BY 1');
    assert.equal(mixed.length, 2, 'rows under both versions after the interruption');
    assert.equal((await owner.get(`/api/contacts/${fresh.id}`)).statusCode, 200);
    assert.equal((await owner.get('/api/contacts?limit=500')).statusCode, 200, 'both versions decrypt meanwhile');

    // The resumed run re-encrypts on a worker thread (PostgreSQL; PGlite always works inline): both paths must agree.
    const finished = await runRotation(t.database.db, vault, actor, rotation.id, { batchSize: 50, graceMs: 0, workers: 1 });
    assert.equal(finished.state, 'completed');
    for (const table of ['contacts', 'contact_import_errors', 'contact_consents', 'contact_activities']) {
      const versions = await t.database.query<{ v: number }>(`SELECT DISTINCT key_version AS v FROM ${table} WHERE key_version IS NOT NULL`);
      if (table === 'contacts' || table === 'contact_import_errors') assert.equal(versions.length, 1, table);
      assert.ok(versions.every((r) => r.v === rotation.toVersion), table);
    }
    const old = await t.database.db.select().from(dataKeys).where(eq(dataKeys.version, rotation.fromVersion));
    assert.equal(old.find((k) => k.purpose === 'field')!.state, 'retired');
    // The field format carries the version: every ciphertext says v2.
    const sample = await t.database.db.select().from(contacts).limit(20);
    for (const r of sample) assert.equal(r.profileEnc!.readUInt32BE(1), rotation.toVersion);
    for (const col of ['email_enc', 'profile_enc', 'first_name_enc', 'last_name_enc', 'phone_enc', 'notes_enc', 'sensitive_enc']) {
      const [stale] = await t.database.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM contacts WHERE ${col} IS NOT NULL AND substring(${col} from 2 for 4) <> int4send($1::int)`,
        [rotation.toVersion],
      );
      assert.equal(stale.n, 0, `${col}: every value under the new key`);
    }
    const legacyAfter = decodeContact(await vault.keyring(), (await getContactRow(t.database.db, legacy.id))!);
    assert.deepEqual([legacyAfter.email, legacyAfter.firstName, legacyAfter.phone], ['rotate.legacy@example.com', 'Rhea', '+4930901821']);
    const layout1After = decodeContact(await vault.keyring(), (await getContactRow(t.database.db, layout1.id))!);
    assert.deepEqual([layout1After.email, layout1After.lastName], ['rotate.layout1@example.com', 'Quist']);
    assert.equal((await getRotation(t.database.db, rotation.id))!.done >= total[0].n, true);
    assert.equal((await owner.get('/api/contacts?email=grace.hopper@navy.example.com')).json().items.length, 1);
    assert.equal((await owner.get('/api/contacts?limit=500')).statusCode, 200, 'every re-encrypted row decrypts');
    assert.equal((await audits('keys.field_rotation_completed')).length, 1);
  });

  test('master-key rotation re-wraps the data keys only; a wrong master key refuses with a clear message', async () => {
    const before = await t.database.db.select().from(contacts).limit(1);
    const newMaster = randomBytes(32);
    const provider = new LocalKeyProvider(newMaster, { previous: [t.config.masterKey] });
    const r = await rotateMasterKey(t.database.db, provider, systemActor('test'));
    assert.ok(r.rewrapped >= 3);
    const after = await t.database.db.select().from(contacts).limit(1);
    assert.deepEqual(after[0].profileEnc, before[0].profileEnc, 'field ciphertexts untouched');
    const withNew = new Vault(t.database.db, new LocalKeyProvider(newMaster), { cacheMs: 0 });
    assert.equal((await withNew.ready()).activeVersion, 2);
    const withOld = new Vault(t.database.db, new LocalKeyProvider(t.config.masterKey), { cacheMs: 0 });
    await assert.rejects(withOld.ready(), (err: unknown) => err instanceof VaultError && /master key/.test(err.message) && /MAILWARDEN_MASTER_KEY/.test(err.message));
    const wrong = new Vault(t.database.db, new LocalKeyProvider(randomBytes(32)), { cacheMs: 0 });
    await assert.rejects(wrong.ready(), VaultError);
    assert.equal((await audits('keys.master_rewrapped')).length, 1);
  });
});
