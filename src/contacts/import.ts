// Streaming contact import: importRows (pure parsing/validation) → encryption
// → one transaction per batch that inserts/updates contacts, list membership,
// consent, timeline entries, the encrypted error rows and the import's
// progress counter together. A crash loses at most the batch in flight; a
// resumed import skips the `rows_done` rows already committed, and duplicates
// are impossible anyway because every row goes through the email uniqueness
// check (blind index + decrypt-compare, under the import's email lock).
// Set-based SQL lives in import-store.ts.
import type { Readable } from 'node:stream';
import { eq, sql } from 'drizzle-orm';
import type { Actor } from '../audit/service.ts';
import { appendAudit } from '../audit/service.ts';
import type { Keyring } from '../crypto/field-cipher.ts';
import { rows, type Tx } from '../db/client.ts';
import { notFound, Problem } from '../http/problem.ts';
import { type EncodedValues, type EncodeInit, fieldsOf } from './encode-pool.ts';
import type { PreparedBatch } from './import-prepare.ts';
import {
  type BadRow,
  type ColumnMapping,
  ImportConfigError,
  type ImportStats,
  newImportStats,
  type ValidRow,
} from './import-rows.ts';
import { type SeenEmails, seenEmails } from './import-seen.ts';
import { preparedSource } from './import-thread.ts';
import { contactImportErrors, contactImports, type ConsentState, contacts, emailBytes } from './schema.ts';
import {
  contactRowsById,
  type EncodedContact,
  existingByEmail,
  insertContactRows,
  insertCopyTuples,
  insertsByCopy,
  pgPlainArray,
  updateContactRows,
} from './import-store.ts';
import {
  type ContactFields,
  type ContactRow,
  decodeContact,
  encodeContact,
  ensureList,
  listAttributeDefs,
} from './service.ts';
import {
  decText,
  encText,
  lockAllEmails,
  suppressionHash,
  uuidv7,
  type Vault,
  WORKSPACE_ID,
} from './vault.ts';

export interface ImportOptions {
  mapping: ColumnMapping;
  /** List to add every imported contact to (created if missing). */
  list?: string | null;
  onDuplicate: 'update' | 'skip';
  defaultCountry?: string | null;
  /** Consent to record for imported contacts (with the import file as evidence). */
  consent?: { purpose: string; state: ConsentState } | null;
  tags?: string[];
  ownerUserId?: number | null;
}

export type ImportRecord = typeof contactImports.$inferSelect;

export async function createImport(
  db: Tx,
  input: { filename: string; format: 'csv' | 'jsonl'; options: ImportOptions; createdBy: string },
): Promise<ImportRecord> {
  const [row] = await db
    .insert(contactImports)
    .values({
      id: uuidv7(),
      workspaceId: WORKSPACE_ID,
      state: 'created',
      filename: input.filename.slice(0, 255),
      format: input.format,
      options: input.options as unknown as Record<string, unknown>,
      createdBy: input.createdBy,
    })
    .returning();
  return row;
}

export async function getImport(db: Tx, id: string): Promise<ImportRecord> {
  const [row] = await db.select().from(contactImports).where(eq(contactImports.id, id));
  if (!row) throw notFound('Import');
  return row;
}

/** Batches parsed and encrypted ahead of the one committing (memory: a few batches of rows). */
const PREPARED_AHEAD = 2;

/** Rows an import must insert before it refreshes the planner statistics of the contact tables. */
const ANALYZE_AFTER_ROWS = 10_000;
/**
 * During a run, statistics are refreshed again each time the rows it inserted have grown this many times
 * (10,000, 40,000, 160,000, 640,000: ~0.5 s each). Without them, a table that was empty when last analysed
 * gives every equality the default selectivity, and the duplicate probe's per-key subquery flipped to the
 * narrower domain index at ~70,000 rows: a gmail.com key then reads 30 % of the table (measured: four
 * probes of 4.5 s each, half of a 200,000-row import). Autovacuum would get there too, but not on time for
 * a first import, and PGlite has none.
 */
const ANALYZE_GROWTH = 4;
/**
 * What those growth ANALYZEs cover: the columns the duplicate probe's plan depends on (row counts come with any
 * ANALYZE). A full ANALYZE of contacts at 200,000 rows took 340–520 ms, this one 80–110 ms; the import ends
 * with a full one for everything else (segments filter attributes and tags).
 */
const ANALYZE_PROBE_COLUMNS = sql.raw(
  'ANALYZE contacts (workspace_id, email_bidx, email_domain_bidx, bidx_layout), list_members (list_id)',
);

export interface ImportProgress {
  rowsDone: number;
  inserted: number;
  updated: number;
  skipped: number;
  failed: number;
  suppressed: number;
  stats: ImportStats;
}

export interface RunImportOptions {
  batchSize?: number;
  onProgress?: (p: ImportProgress) => void;
  /**
   * Parse, validate and encrypt on a worker thread (import-thread.ts): true always, false never,
   * default when there are two or more cores and the file is larger than a few thousand rows.
   */
  worker?: boolean;
  /** Test hook: throw after this many committed batches (simulates a crash). */
  crashAfterBatches?: number;
  /** Test hook: awaited after each committed batch, before the next one commits (e.g. a concurrent edit). */
  afterBatch?: (batches: number) => Promise<void>;
}

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

async function commitBatch(
  tx: Tx,
  kr: Keyring,
  init: EncodeInit,
  imp: ImportRecord,
  opts: ImportOptions,
  listId: number | null,
  p: PreparedBatch,
  run: { importId: string; since: string; seen: SeenEmails },
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
  const [{ legacy, otherFormats, anySuppressed }] = await rows<{
    legacy: boolean;
    otherFormats: boolean;
    anySuppressed: boolean;
  }>(
    tx,
    sql`SELECT EXISTS (SELECT 1 FROM contacts WHERE workspace_id = ${WORKSPACE_ID} AND bidx_layout = 1) AS legacy,
        EXISTS (SELECT 1 FROM contacts WHERE workspace_id = ${WORKSPACE_ID} AND ${emailBytes(contacts.emailEnc)} = -1) AS "otherFormats",
        EXISTS (SELECT 1 FROM suppressions WHERE workspace_id = ${WORKSPACE_ID}) AS "anySuppressed"`,
  );
  const written =
    laterDuplicates.length === 0
      ? { emailBidx: p.emailBidx, domainBidx: p.domainBidx }
      : { emailBidx: first.map((i) => p.emailBidx[i]), domainBidx: first.map((i) => p.domainBidx[i]) };
  const existing = await existingByEmail(tx, kr, emails, { legacy, otherFormats }, written, run);
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
      ? (ins.replacement ?? { ...valuesAt(ins.i), suppressed: ins.suppressed, importId: imp.id })
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
      inserts.map((x) => x.replacement ?? { ...valuesAt(x.i), suppressed: x.suppressed, importId: imp.id }),
    );
  // Added before the commit: if it fails the import stops, and a resumed run starts a new filter (and `since`).
  for (const [email] of firstByEmail) if (!existing.has(email)) run.seen.add(email);
  await updateContactRows(tx, [...updates.values()]);
  if (listId !== null) {
    // New contacts cannot be members yet: a plain INSERT, without ON CONFLICT's speculative insertion per row.
    const added = touched.filter((t) => t.action === 'inserted').map((t) => t.id);
    const merged = touched.filter((t) => t.action === 'updated').map((t) => t.id);
    if (added.length)
      await tx.execute(
        sql`INSERT INTO list_members (list_id, contact_id) SELECT ${listId}, id FROM unnest(${pgPlainArray(added)}::uuid[]) id`,
      );
    if (merged.length)
      await tx.execute(
        sql`INSERT INTO list_members (list_id, contact_id) SELECT ${listId}, id FROM unnest(${sql.param(merged)}::uuid[]) id ON CONFLICT DO NOTHING`,
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

/**
 * Run (or resume) an import from a byte stream. Commits one transaction per
 * batch; while a batch commits, the next one is parsed and encrypted.
 */
export async function runImport(
  db: Tx,
  vault: Vault,
  actor: Actor,
  importId: string,
  input: Readable,
  o: RunImportOptions = {},
): Promise<ImportRecord> {
  let imp = await getImport(db, importId);
  if (imp.state === 'completed')
    throw new Problem(409, 'import_finished', 'This import has already completed.');
  const opts = imp.options as unknown as ImportOptions;
  await db
    .update(contactImports)
    .set({ state: 'running', error: null, updatedAt: new Date() })
    .where(eq(contactImports.id, imp.id));
  const kr = await vault.keyring();
  const defs = await listAttributeDefs(db);
  const listId = opts.list ? await ensureList(db, opts.list) : null;
  const progress: ImportProgress = {
    rowsDone: imp.rowsDone,
    inserted: imp.inserted,
    updated: imp.updated,
    skipped: imp.skipped,
    failed: imp.failed,
    suppressed: imp.suppressed,
    stats: newImportStats(),
  };
  const imp0Inserted = imp.inserted;
  // This run's inserts (import-seen.ts); `since` tells them from rows a crashed earlier run of the import inserted.
  const [{ since }] = await rows<{ since: string }>(db, sql`SELECT now()::text AS since`);
  const run = { importId: imp.id, since, seen: seenEmails() };
  let batches = 0;
  let inFlight: Promise<void> | null = null;
  const ahead: Promise<void>[] = [];
  const init: EncodeInit = { defs, ownerUserId: opts.ownerUserId ?? null, tags: opts.tags ?? [] };
  let nextAnalyze = ANALYZE_AFTER_ROWS;
  const commit = async (p: PreparedBatch) => {
    const c = await db.transaction((tx) => commitBatch(tx, kr, init, imp, opts, listId, p, run));
    progress.rowsDone += p.count;
    progress.inserted += c.inserted;
    progress.updated += c.updated;
    progress.skipped += c.skipped;
    progress.failed += c.failed;
    progress.suppressed += c.suppressed;
    Object.assign(progress.stats, p.stats);
    batches++;
    // Statistics while the table grows (see ANALYZE_GROWTH).
    const grown = progress.inserted - imp0Inserted;
    if (grown >= nextAnalyze) {
      await db.execute(ANALYZE_PROBE_COLUMNS);
      nextAnalyze = grown * ANALYZE_GROWTH;
    }
    o.onProgress?.(progress);
    if (o.crashAfterBatches !== undefined && batches >= o.crashAfterBatches)
      throw new Error('simulated crash');
    await o.afterBatch?.(batches);
  };
  const source = preparedSource(
    input,
    kr,
    init,
    {
      format: imp.format,
      mapping: opts.mapping,
      attributes: defs.map((d) => ({ key: d.key, type: d.type, options: d.options, sensitive: d.sensitive })),
      batchSize: o.batchSize ?? 1000,
      defaultCountry: opts.defaultCountry ?? undefined,
    },
    // A resumed run skips the rows committed before; the worker sends rows only when merges may need them.
    { skip: imp.rowsDone, copy: insertsByCopy(db), rows: opts.onDuplicate === 'update', importId: imp.id },
    // PGlite runs on the main thread, and a worker would send it every row back: inline there unless asked.
    { worker: o.worker ?? (insertsByCopy(db) ? undefined : false), ahead: PREPARED_AHEAD },
  );
  try {
    for await (const prepared of source) {
      // Commits run one after another, in file order (each resumes after the previous one's rows_done); parsing
      // and encoding run up to PREPARED_AHEAD batches ahead of them (on the worker thread, or inline while a
      // commit waits for the database), so a slow commit does not idle the parser.
      const previous = inFlight;
      inFlight = (async () => {
        if (previous) await previous;
        await commit(prepared);
      })();
      inFlight.catch(() => {}); // observed through `ahead` or at the end
      ahead.push(inFlight);
      if (ahead.length > PREPARED_AHEAD) await ahead.shift();
    }
    if (inFlight) await inFlight;
  } catch (err) {
    if (inFlight) await inFlight.catch(() => {});
    const message =
      err instanceof ImportConfigError ? err.message : `import stopped: ${(err as Error).message}`;
    await db
      .update(contactImports)
      .set({ state: 'failed', error: message, updatedAt: new Date() })
      .where(eq(contactImports.id, imp.id));
    if (err instanceof ImportConfigError) throw new Problem(422, 'import_config', err.message);
    throw err;
  }
  [imp] = await db
    .update(contactImports)
    .set({ state: 'completed', finishedAt: new Date(), updatedAt: new Date() })
    .where(eq(contactImports.id, imp.id))
    .returning();
  // Fresh statistics after a bulk load: PGlite has no autovacuum, and without them the planner reads a keyset page of
  // 50 contacts through a sort of the whole table (measured: page p50 28 ms at 100,000 contacts).
  if (progress.inserted - imp0Inserted >= ANALYZE_AFTER_ROWS)
    await db.execute(sql`ANALYZE contacts, list_members`);
  await appendAudit(db, actor, {
    action: 'contacts.imported',
    target: `import ${imp.id}`,
    details: {
      file: imp.filename,
      rows: imp.rowsDone,
      inserted: imp.inserted,
      updated: imp.updated,
      skipped: imp.skipped,
      failed: imp.failed,
      suppressed: imp.suppressed,
    },
  });
  return imp;
}

/** The rejected rows of an import, decrypted, in line order (for the error file). */
export async function importErrors(db: Tx, kr: Keyring, importId: string): Promise<BadRow[]> {
  const r = await db
    .select()
    .from(contactImportErrors)
    .where(eq(contactImportErrors.importId, importId))
    .orderBy(contactImportErrors.line);
  return r.map((e) => ({
    line: e.line,
    reason: e.reason,
    raw: decText(kr, 'contact_import_errors', 'raw', e.id, e.rawEnc) ?? '',
  }));
}
