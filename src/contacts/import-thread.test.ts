// The import's worker thread (import-thread.ts) against the inline path: the
// same file, with bad rows, duplicates inside a batch, across batches and in
// the database, a suppressed address, a sensitive attribute, consent, tags
// and a crash mid-file, must give the same contacts, counters, errors and
// memberships either way.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { TestDatabase } from '../../test/support/db.ts';
import { createVaultTestDatabase } from '../../test/support/vault.ts';
import { systemActor } from '../audit/service.ts';
import { currentConsents } from './consent.ts';
import { createImport, importErrors, runImport } from './import.ts';
import { createAttributeDef, createContact, decodeContact, findByEmail, suppress } from './service.ts';
import type { Vault } from './vault.ts';

let database: TestDatabase;
let vault: Vault;
const actor = systemActor('test');

before(async () => {
  ({ database, vault } = await createVaultTestDatabase());
  await createAttributeDef(database.db, { key: 'plan', label: 'Plan', type: 'enum', options: ['free', 'pro'], sensitive: false });
  await createAttributeDef(database.db, { key: 'salary', label: 'Salary', type: 'number', sensitive: true });
});
after(async () => {
  await database?.close();
});

/** A file whose addresses are all at `d`; `dup` lines repeat earlier addresses. */
function file(d: string): string {
  const rows = ['email,first,last,phone,notes,plan,salary'];
  for (let i = 0; i < 40; i++) {
    if (i === 3) rows.push(`not-an-email,Bad,Row,,,,`);
    if (i === 9) rows.push(`a5@${d},Later,Dup,,"second line\nof a note",free,`);
    if (i === 12) rows.push(`a12@${d},Quoted,"Multi\nLine",+14155550123,,pro,100`);
    if (i === 20) rows.push(`a2@${d},Across,Batches,,,pro,`);
    if (i === 25) rows.push(`a25@${d},Bad,Plan,,,gold,`);
    if (i === 30) rows.push(`old@${d},Updated,Existing,,,pro,42`);
    rows.push(`a${i}@${d},F${i},L${i},${i % 4 === 0 ? `+1415555${String(1000 + i)}` : ''},note ${i},${i % 2 ? 'pro' : 'free'},${i}`);
  }
  rows.push(`sup@${d},Sup,Pressed,,,,`);
  rows.push(`a6@${d},Same,Batch,,,,`);
  rows.push(`a6@${d},Same,Batch again,,,pro,`);
  return `${rows.join('\n')}\n`;
}

async function run(d: string, worker: boolean, onDuplicate: 'update' | 'skip') {
  const kr = await vault.keyring();
  await createContact(database.db, kr, actor, { email: `old@${d}`, firstName: 'Old', tags: ['keep'] });
  await suppress(database.db, kr, `sup@${d}`, 'unsubscribed');
  const imp = await createImport(database.db, {
    filename: 'same.csv',
    format: 'csv',
    options: {
      mapping: { email: 'email', first: 'firstName', last: 'lastName', phone: 'phone', notes: 'notes', plan: 'plan', salary: 'salary' },
      onDuplicate,
      list: `List ${d}`,
      consent: { purpose: 'marketing_email', state: 'subscribed' },
      tags: ['imported', 'a "quoted" tag'],
    },
    createdBy: 'test',
  });
  const csv = file(d);
  const input = () => Readable.from([Buffer.from(csv)]);
  await assert.rejects(runImport(database.db, vault, actor, imp.id, input(), { batchSize: 7, worker, crashAfterBatches: 3 }), /simulated crash/);
  const done = await runImport(database.db, vault, actor, imp.id, input(), { batchSize: 7, worker });
  const emails = [...new Set([...csv.matchAll(/^([^,\n]+@[^,\n]+),/gm)].map((m) => m[1]))];
  const contacts = [];
  for (const e of emails) {
    const found = await findByEmail(database.db, kr, e);
    assert.equal(found.length, 1, `${e} exists once`);
    const c = decodeContact(kr, found[0]);
    const consents = await currentConsents(database.db, kr, c.id);
    contacts.push({
      email: c.email.replace(d, 'D'),
      firstName: c.firstName,
      lastName: c.lastName,
      phone: c.phone,
      notes: c.notes,
      attributes: c.attributes,
      tags: [...c.tags].sort(),
      suppressed: c.suppressed,
      consents: consents.map((x) => `${x.purpose}:${x.state}`),
    });
  }
  const members = await database.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM list_members m JOIN contact_lists l ON l.id = m.list_id WHERE l.name = $1',
    [`List ${d}`],
  );
  const { id: _id, createdAt: _c, updatedAt: _u, finishedAt: _f, options: _o, ...counters } = done;
  const errors = (await importErrors(database.db, kr, imp.id)).map((e) => ({ ...e, raw: e.raw.replace(d, 'D') }));
  return { counters, contacts, members: members[0].n, errors };
}

describe('import on a worker thread', () => {
  for (const mode of ['update', 'skip'] as const) {
    test(`gives the same result as inline (${mode})`, async () => {
      const inline = await run(`inline-${mode}.example.com`, false, mode);
      const threaded = await run(`worker-${mode}.example.com`, true, mode);
      assert.deepEqual(threaded, inline);
      assert.equal(inline.counters.state, 'completed');
      assert.equal(inline.counters.failed, 2);
      assert.ok(inline.contacts.find((c) => c.email === 'sup@D')!.suppressed);
      assert.deepEqual(inline.errors.map((e) => e.line), [5, 33]);
    });
  }

  test('a mapping that does not fit the file fails the same way on the worker', async () => {
    const imp = await createImport(database.db, {
      filename: 'bad.csv',
      format: 'csv',
      options: { mapping: { mail: 'email' }, onDuplicate: 'skip' },
      createdBy: 'test',
    });
    await assert.rejects(
      runImport(database.db, vault, actor, imp.id, Readable.from(['email\nx@example.com\n']), { worker: true }),
      (err: Error & { status?: number }) => err.status === 422 && /mapped column "mail" is not in the file/.test(err.message),
    );
  });

  test('a failing upload stream stops the import', async () => {
    const imp = await createImport(database.db, {
      filename: 'cut.csv',
      format: 'csv',
      options: { mapping: { email: 'email' }, onDuplicate: 'skip' },
      createdBy: 'test',
    });
    async function* cut() {
      yield Buffer.from('email\ncut1@example.com\n');
      throw new Error('connection reset');
    }
    await assert.rejects(runImport(database.db, vault, actor, imp.id, Readable.from(cut()), { worker: true }), /connection reset/);
  });
});
