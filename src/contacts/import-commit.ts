// One batch of an import, in the caller's transaction: the email lock, the
// duplicate and suppression lookups, then new contacts (COPY or INSERT),
// merges into existing ones, list membership, timeline rows for updated
// contacts, consent, the encrypted error rows and the import's counters —
// all or nothing, so a resumed import can skip exactly the committed rows.
// Set-based SQL lives in import-store.ts; the run around it in import.ts.
import { sql } from 'drizzle-orm';
import type { Keyring } from '../crypto/field-cipher.ts';
import { rows, type Tx } from '../db/client.ts';
import { type EncodedValues, type EncodeInit, fieldsOf } from './encode-pool.ts';
import type { ImportOptions, ImportProgress, ImportRecord } from './import.ts';
import type { PreparedBatch } from './import-prepare.ts';
import type { ValidRow } from './import-rows.ts';
import type { SeenEmails } from './import-seen.ts';
import { lockList } from './organisation.ts';
import {
  contactRowsById,
  type EncodedContact,
  existingByEmail,
  insertContactRows,
  insertCopyTuples,
  pgUuidArray,
  updateContactRows,
} from './import-store.ts';
import { contacts, emailBytes } from './schema.ts';
import { type ContactFields, type ContactRow, decodeContact, encodeContact } from './service.ts';
import { encText, lockAllEmails, suppressionHash, uuidv7, WORKSPACE_ID } from './vault.ts';

/** Merge an import row over an existing contact: mapped, non-empty values win. */
function mergeFields(existing: ContactFields, row: ValidRow, opts: ImportOptions): ContactFields {
  const mapped = new Set(Object.values(opts.mapping));
  const take = <K extends keyof ContactFields>(k: K, v: ContactFields[K]) =>
    mapped.has(k) && v !== null ? v : existing[k];
  return {
    ...existing,
    firstName: take('firstName', row.firstName),
    lastName: take('lastName', row.lastName),
    phone: take('phone', row.phone),
    notes: take('notes', row.notes),
    country: take('country', row.country),
    timeZone: take('timeZone', row.timeZone),
    attributes: { ...existing.attributes, ...row.attributes },
    tags: [...new Set([...existing.tags, ...(opts.tags ?? [])])],
    ownerUserId: existing.ownerUserId ?? opts.ownerUserId ?? null,
  };
}

/** A new contact of the batch: row `i`, or its re-encoded replacement after a later duplicate merged into it. */
interface Insert {
  i: number;
  suppressed: boolean;
  replacement?: EncodedContact;
}

export async function commitBatch(
  tx: Tx,
  kr: Keyring,
  init: EncodeInit,
  imp: ImportRecord,
  opts: ImportOptions,
  listId: number | null,
  p: PreparedBatch,
  run: { importId: string; run: number; seen: SeenEmails },
): Promise<Omit<ImportProgress, 'rowsDone' | 'stats'>> {
  const defs = init.defs;
  const c = { inserted: 0, updated: 0, skipped: 0, failed: p.bad.length, suppressed: 0 };
  // Duplicates inside the batch: the first occurrence wins the insert; later ones are duplicates.
  const firstByEmail = new Map<string, number>();
  const laterDuplicates: number[] = [];
  for (let i = 0; i < p.emails.length; i++) {
    if (firstByEmail.has(p.emails[i])) laterDuplicates.push(i);
    else firstByEmail.set(p.emails[i], i);
  }
  const first = [...firstByEmail.values()];
  // Rows and values travel from a worker only when needed (import-worker.ts); the rare merge paths need them anyway.
  const rowAt = (i: number): ValidRow => p.rows![i];
  const valuesAt = (i: number): EncodedValues =>
    p.values?.[i] ?? encodeContact(kr, p.ids[i], fieldsOf(rowAt(i), init), defs);
  // One exclusive lock for the batch (single writes wait for it), then one
  // duplicate lookup and one suppression lookup for all of its addresses.
  await lockAllEmails(tx);
  // A batch need not wait for its WAL to reach the disk: if the server crashes before, the batch is lost whole
  // with its rows_done, and a resumed run redoes it (PostgreSQL's asynchronous commit loses recent transactions,
  // never consistency). The run's final update (state 'completed') commits synchronously, flushing every batch.
  await tx.execute(sql`SET LOCAL synchronous_commit = off`);
  const emails = [...firstByEmail.keys()];
  // laterRuns: whether an import run numbered after this one has started. Read under the exclusive lock, so an
  // import that inserted rows before it took its number before: if none has, no row carries a later run number
  // and the probe leaves that branch out (import-store.ts emailProbeSql).
  const [{ legacy, otherFormats, anySuppressed, laterRuns }] = await rows<{
    legacy: boolean;
    otherFormats: boolean;
    anySuppressed: boolean;
    laterRuns: boolean;
  }>(
    tx,
    sql`SELECT EXISTS (SELECT 1 FROM contacts WHERE workspace_id = ${WORKSPACE_ID} AND bidx_layout = 1) AS legacy,
        EXISTS (SELECT 1 FROM contacts WHERE workspace_id = ${WORKSPACE_ID} AND ${emailBytes(contacts.emailEnc)} = -1) AS "otherFormats",
        EXISTS (SELECT 1 FROM suppressions WHERE workspace_id = ${WORKSPACE_ID}) AS "anySuppressed",
        (SELECT last_value FROM contact_import_run_seq) > ${run.run}::bigint AS "laterRuns"`,
  );
  const written =
    laterDuplicates.length === 0
      ? { emailBidx: p.emailBidx, domainBidx: p.domainBidx }
      : { emailBidx: first.map((i) => p.emailBidx[i]), domainBidx: first.map((i) => p.domainBidx[i]) };
  const existing = await existingByEmail(tx, kr, emails, { legacy, otherFormats }, written, { ...run, laterRuns });
  // The suppression hash (a full HMAC) is computed only when the list is not empty.
  const suppressedEmails = new Set<string>();
  if (anySuppressed) {
    const hashes = emails.map((e) => suppressionHash(kr, e));
    const hit = new Set(
      (
        await rows<{ h: string }>(
          tx,
          sql`SELECT encode(email_hash, 'hex') AS h FROM suppressions WHERE workspace_id = ${WORKSPACE_ID}
              AND email_hash = ANY(${sql.param(hashes)}::bytea[])`,
        )
      ).map((r) => r.h),
    );
    emails.forEach((e, i) => {
      if (hit.has(hashes[i].toString('hex'))) suppressedEmails.add(e);
    });
  }
  const full =
    opts.onDuplicate === 'update'
      ? await contactRowsById(
          tx,
          [...existing.values()].map((x) => x.id),
        )
      : new Map<string, ContactRow>();

  const inserts: Insert[] = [];
  const insertById = new Map<string, Insert>();
  const updates = new Map<string, EncodedContact>();
  const touched: { id: string; action: 'inserted' | 'updated'; line: number; suppressed: boolean }[] = [];
  for (const [email, i] of firstByEmail) {
    const suppressed = suppressedEmails.has(email);
    if (suppressed) c.suppressed++;
    const old = existing.get(email);
    if (!old) {
      const ins = { i, suppressed };
      inserts.push(ins);
      if (laterDuplicates.length) insertById.set(p.ids[i], ins);
      touched.push({ id: p.ids[i], action: 'inserted', line: p.lines[i], suppressed });
    } else if (opts.onDuplicate === 'skip') {
      c.skipped++;
    } else {
      const row = full.get(old.id)!;
      const merged = mergeFields(decodeContact(kr, row), rowAt(i), opts);
      updates.set(old.id, {
        ...encodeContact(kr, old.id, merged, defs),
        suppressed: suppressed || old.suppressed,
      });
      touched.push({ id: old.id, action: 'updated', line: p.lines[i], suppressed });
    }
  }
  for (const i of laterDuplicates) {
    const email = p.emails[i];
    const target = existing.get(email)?.id ?? p.ids[firstByEmail.get(email)!];
    if (opts.onDuplicate === 'skip') {
      c.skipped++;
      continue;
    }
    // Apply the later row over what the earlier one produced.
    const ins = insertById.get(target);
    const prev: EncodedContact = ins
      ? (ins.replacement ?? { ...valuesAt(ins.i), suppressed: ins.suppressed, importId: imp.id, importRun: run.run })
      : updates.get(target)!;
    const cur: ContactFields = decodeContact(kr, {
      ...prev,
      createdAt: new Date(),
      updatedAt: new Date(),
    } as ContactRow);
    const next = {
      ...encodeContact(kr, target, mergeFields(cur, rowAt(i), opts), defs),
      suppressed: prev.suppressed,
      importId: prev.importId,
      importRun: prev.importRun,
    };
    if (ins) ins.replacement = next;
    else updates.set(target, next);
    c.updated++;
  }
  c.inserted = inserts.length;
  c.updated += updates.size;

  if (p.copy) await insertCopyTuples(tx, p.copy, inserts);
  else
    await insertContactRows(
      tx,
      inserts.map(
        (x) => x.replacement ?? { ...valuesAt(x.i), suppressed: x.suppressed, importId: imp.id, importRun: run.run },
      ),
    );
  // Added before the commit: if it fails the import stops, and a resumed run starts a new filter (and run number).
  for (const [email] of firstByEmail) if (!existing.has(email)) run.seen.add(email);
  await updateContactRows(tx, [...updates.values()]);
  if (listId !== null) {
    // list_members has no foreign keys (schema.ts): the list is locked here, the merged contacts by the UPDATE
    // above, and the new ones are this transaction's own.
    if (!(await lockList(tx, listId))) throw new Error('the list this import adds contacts to has been deleted');
    // New contacts cannot be members yet: a plain INSERT, without ON CONFLICT's speculative insertion per row.
    const added = touched.filter((t) => t.action === 'inserted').map((t) => t.id);
    const existingIds = touched.filter((t) => t.action === 'updated').map((t) => t.id);
    if (added.length)
      await tx.execute(
        sql`INSERT INTO list_members (list_id, contact_id) SELECT ${listId}, id FROM unnest(${pgUuidArray(added)}::uuid[]) id`,
      );
    if (existingIds.length)
      await tx.execute(
        sql`INSERT INTO list_members (list_id, contact_id) SELECT ${listId}, c.id FROM contacts c
            WHERE c.id = ANY(${sql.param(existingIds)}::uuid[]) FOR KEY SHARE OF c ON CONFLICT DO NOTHING`,
      );
  }
  // Timeline: a created contact points at its import (contacts.import_id; listActivities shows it), so only
  // contacts an import changed get a row of their own, with the line that changed them.
  const changed = touched.filter((t) => t.action === 'updated');
  if (changed.length) {
    await tx.execute(sql`INSERT INTO contact_activities (id, workspace_id, contact_id, kind, details, actor_label)
      SELECT a, ${WORKSPACE_ID}, c, 'import', d, ${imp.createdBy}
      FROM unnest(${sql.param(changed.map(() => uuidv7()))}::uuid[], ${sql.param(changed.map((t) => t.id))}::uuid[], ${sql.param(
        changed.map((t) =>
          JSON.stringify({ importId: imp.id, file: imp.filename, line: t.line, action: t.action }),
        ),
      )}::jsonb[]) AS u(a, c, d)`);
  }
  if (opts.consent) {
    const consenting = touched.filter((t) => !t.suppressed);
    if (consenting.length) {
      const cids = consenting.map(() => uuidv7());
      const ev = consenting.map((t, i) =>
        encText(
          kr,
          'contact_consents',
          'evidence',
          cids[i],
          JSON.stringify({ importId: imp.id, importFile: imp.filename, line: t.line }),
        ),
      );
      await tx.execute(sql`INSERT INTO contact_consents (id, workspace_id, contact_id, purpose, state, source, key_version, evidence_enc)
        SELECT i, ${WORKSPACE_ID}, c, ${opts.consent.purpose}, ${opts.consent.state}, 'import', ${kr.activeVersion}, e
        FROM unnest(${sql.param(cids)}::uuid[], ${sql.param(consenting.map((t) => t.id))}::uuid[], ${sql.param(ev)}::bytea[]) AS u(i, c, e)`);
    }
  }
  if (p.bad.length) {
    const eids = p.bad.map(() => uuidv7());
    await tx.execute(sql`INSERT INTO contact_import_errors (id, import_id, line, reason, key_version, raw_enc)
      SELECT i, ${imp.id}, l, r, ${kr.activeVersion}, e
      FROM unnest(${sql.param(eids)}::uuid[], ${sql.param(p.bad.map((b) => b.line))}::int[], ${sql.param(p.bad.map((b) => b.reason))}::text[],
        ${sql.param(p.bad.map((b, i) => encText(kr, 'contact_import_errors', 'raw', eids[i], b.raw)))}::bytea[]) AS u(i, l, r, e)`);
  }
  await tx.execute(sql`UPDATE contact_imports SET rows_done = rows_done + ${p.count}, inserted = inserted + ${c.inserted},
    updated = updated + ${c.updated}, skipped = skipped + ${c.skipped}, failed = failed + ${c.failed},
    suppressed = suppressed + ${c.suppressed}, updated_at = now() WHERE id = ${imp.id}`);
  return c;
}

