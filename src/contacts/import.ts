// Streaming contact import: importRows (pure parsing/validation) → encryption
// → one transaction per batch that inserts/updates contacts, list membership,
// consent, timeline entries, the encrypted error rows and the import's
// progress counter together. A crash loses at most the batch in flight; a
// resumed import skips the `rows_done` rows already committed, and duplicates
// are impossible anyway because every row goes through the email uniqueness
// check (blind index + decrypt-compare, under bucket locks).
import type { Readable } from 'node:stream';
import { eq, sql } from 'drizzle-orm';
import type { Actor } from '../audit/service.ts';
import { appendAudit } from '../audit/service.ts';
import type { Keyring } from '../crypto/field-cipher.ts';
import { rows, type Tx } from '../db/client.ts';
import { notFound, Problem } from '../http/problem.ts';
import { type BadRow, type ColumnMapping, ImportConfigError, type ImportStats, importRows, newImportStats, type ValidRow } from './import-rows.ts';
import { contactImportErrors, contactImports, type ConsentState } from './schema.ts';
import { type AttributeDef, type ContactFields, type ContactRow, decodeContact, encodeContact, ensureList, listAttributeDefs, T } from './service.ts';
import { decText, domainLookup, emailLookup, encText, lockEmailBuckets, suppressionHash, uuidv7, type Vault, WORKSPACE_ID } from './vault.ts';

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
  /** Test hook: throw after this many committed batches (simulates a crash). */
  crashAfterBatches?: number;
}

interface Prepared {
  good: { row: ValidRow; values: ReturnType<typeof encodeContact>; hash: Buffer }[];
  bad: BadRow[];
  count: number;
}

function fieldsOf(row: ValidRow, opts: ImportOptions): ContactFields {
  return {
    email: row.email,
    firstName: row.firstName,
    lastName: row.lastName,
    phone: row.phone,
    notes: row.notes,
    attributes: row.attributes,
    jobTitle: null,
    country: row.country,
    timeZone: row.timeZone,
    companyId: null,
    ownerUserId: opts.ownerUserId ?? null,
    tags: opts.tags ?? [],
  };
}

/** Merge an import row over an existing contact: mapped, non-empty values win. */
function mergeFields(existing: ContactFields, row: ValidRow, opts: ImportOptions): ContactFields {
  const mapped = new Set(Object.values(opts.mapping));
  const take = <K extends keyof ContactFields>(k: K, v: ContactFields[K]) => (mapped.has(k) && v !== null ? v : existing[k]);
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

const contactColumns = `id, workspace_id, key_version, email_enc, email_bidx, email_domain_bidx, first_name_enc, last_name_enc,
  phone_enc, phone_bidx, notes_enc, sensitive_enc, attributes, job_title, country, time_zone, company_id, owner_user_id, tags, suppressed`;

/** Multi-row insert through unnest arrays: one statement, 20 parameters, whatever the batch size. */
export async function insertContactRows(tx: Tx, values: (ReturnType<typeof encodeContact> & { suppressed: boolean })[]): Promise<void> {
  if (values.length === 0) return;
  const col = <K extends keyof (typeof values)[number]>(k: K) => sql.param(values.map((v) => v[k]));
  await tx.execute(sql`INSERT INTO contacts (${sql.raw(contactColumns)})
    SELECT id, ${WORKSPACE_ID}, kv, e, eb, db, fn, ln, ph, pb, nt, se, at, jt, co, tz, ci, ow, tg::text[], su
    FROM unnest(${col('id')}::uuid[], ${col('keyVersion')}::int[], ${col('emailEnc')}::bytea[], ${col('emailBidx')}::int[],
      ${col('emailDomainBidx')}::int[], ${col('firstNameEnc')}::bytea[], ${col('lastNameEnc')}::bytea[], ${col('phoneEnc')}::bytea[],
      ${col('phoneBidx')}::int[], ${col('notesEnc')}::bytea[], ${col('sensitiveEnc')}::bytea[],
      ${sql.param(values.map((v) => JSON.stringify(v.attributes)))}::jsonb[], ${col('jobTitle')}::text[], ${col('country')}::text[],
      ${col('timeZone')}::text[], ${col('companyId')}::bigint[], ${col('ownerUserId')}::bigint[],
      ${sql.param(values.map((v) => pgTextArray(v.tags)))}::text[], ${col('suppressed')}::boolean[])
      AS u(id, kv, e, eb, db, fn, ln, ph, pb, nt, se, at, jt, co, tz, ci, ow, tg, su)`);
}

async function updateContactRows(tx: Tx, values: (ReturnType<typeof encodeContact> & { suppressed: boolean })[]): Promise<void> {
  if (values.length === 0) return;
  const col = <K extends keyof (typeof values)[number]>(k: K) => sql.param(values.map((v) => v[k]));
  await tx.execute(sql`UPDATE contacts c SET key_version = u.kv, email_enc = u.e, first_name_enc = u.fn, last_name_enc = u.ln,
      phone_enc = u.ph, phone_bidx = u.pb, notes_enc = u.nt, sensitive_enc = u.se, attributes = u.at, country = u.co,
      time_zone = u.tz, owner_user_id = u.ow, tags = u.tg::text[], suppressed = u.su, updated_at = now()
    FROM unnest(${col('id')}::uuid[], ${col('keyVersion')}::int[], ${col('emailEnc')}::bytea[], ${col('firstNameEnc')}::bytea[],
      ${col('lastNameEnc')}::bytea[], ${col('phoneEnc')}::bytea[], ${col('phoneBidx')}::int[], ${col('notesEnc')}::bytea[],
      ${col('sensitiveEnc')}::bytea[], ${sql.param(values.map((v) => JSON.stringify(v.attributes)))}::jsonb[], ${col('country')}::text[],
      ${col('timeZone')}::text[], ${col('ownerUserId')}::bigint[], ${sql.param(values.map((v) => pgTextArray(v.tags)))}::text[],
      ${col('suppressed')}::boolean[])
      AS u(id, kv, e, fn, ln, ph, pb, nt, se, at, co, tz, ow, tg, su)
    WHERE c.id = u.id`);
}

/** A text[] literal (tags travel as one text per row through unnest, then cast). */
function pgTextArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`).join(',')}}`;
}

function rowFromDb(r: Record<string, unknown>): ContactRow {
  const buf = (v: unknown) => (v == null ? null : Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array));
  return {
    id: r.id as string,
    workspaceId: r.workspace_id as number,
    keyVersion: r.key_version as number,
    emailEnc: buf(r.email_enc)!,
    emailBidx: r.email_bidx as number,
    emailDomainBidx: r.email_domain_bidx as number,
    firstNameEnc: buf(r.first_name_enc),
    lastNameEnc: buf(r.last_name_enc),
    phoneEnc: buf(r.phone_enc),
    phoneBidx: (r.phone_bidx as number | null) ?? null,
    notesEnc: buf(r.notes_enc),
    sensitiveEnc: buf(r.sensitive_enc),
    attributes: r.attributes as Record<string, unknown>,
    jobTitle: (r.job_title as string | null) ?? null,
    country: (r.country as string | null) ?? null,
    timeZone: (r.time_zone as string | null) ?? null,
    companyId: (r.company_id as number | null) ?? null,
    ownerUserId: (r.owner_user_id as number | null) ?? null,
    tags: r.tags as string[],
    suppressed: r.suppressed as boolean,
    createdAt: new Date(r.created_at as string),
    updatedAt: new Date(r.updated_at as string),
  };
}

/**
 * Existing contacts whose email equals one of `emails`: candidates by the
 * (email, domain) blind-index pair, decrypted and compared.
 */
export async function existingByEmail(tx: Tx, kr: Keyring, emails: string[]): Promise<Map<string, ContactRow>> {
  const e: number[] = [];
  const d: number[] = [];
  for (const email of emails) {
    const domain = email.slice(email.lastIndexOf('@') + 1);
    for (const ev of emailLookup(kr, email)) {
      for (const dv of domainLookup(kr, domain)) {
        e.push(ev);
        d.push(dv);
      }
    }
  }
  const out = new Map<string, ContactRow>();
  if (e.length === 0) return out;
  const found = await rows<Record<string, unknown>>(
    tx,
    // LATERAL: one index probe per (email, domain) pair, never a scan of the table.
    sql`SELECT c.* FROM (SELECT DISTINCT e, d FROM unnest(${sql.param(e)}::int[], ${sql.param(d)}::int[]) AS k(e, d)) k
        CROSS JOIN LATERAL (SELECT * FROM contacts c WHERE c.workspace_id = ${WORKSPACE_ID} AND c.email_bidx = k.e AND c.email_domain_bidx = k.d) c`,
  );
  const wanted = new Set(emails);
  for (const raw of found) {
    const row = rowFromDb(raw);
    const email = decText(kr, T, 'email', row.id, row.emailEnc)!;
    if (wanted.has(email)) out.set(email, row);
  }
  return out;
}

function prepare(kr: Keyring, defs: readonly AttributeDef[], opts: ImportOptions, good: ValidRow[], bad: BadRow[]): Prepared {
  return {
    good: good.map((row) => ({ row, values: encodeContact(kr, uuidv7(), fieldsOf(row, opts), defs), hash: suppressionHash(kr, row.email) })),
    bad,
    count: good.length + bad.length,
  };
}

/** Drop the first `n` rows (in file order) of a batch: they were committed before a crash. */
function skipRows(good: ValidRow[], bad: BadRow[], n: number): { good: ValidRow[]; bad: BadRow[] } {
  const lines = [...good.map((g) => g.line), ...bad.map((b) => b.line)].sort((a, b) => a - b);
  const cut = lines[n - 1];
  return { good: good.filter((g) => g.line > cut), bad: bad.filter((b) => b.line > cut) };
}

async function commitBatch(
  tx: Tx,
  kr: Keyring,
  defs: readonly AttributeDef[],
  imp: ImportRecord,
  opts: ImportOptions,
  listId: number | null,
  p: Prepared,
): Promise<Omit<ImportProgress, 'rowsDone' | 'stats'>> {
  const c = { inserted: 0, updated: 0, skipped: 0, failed: p.bad.length, suppressed: 0 };
  // Duplicates inside the batch: the first occurrence wins the insert; later ones are duplicates.
  const firstByEmail = new Map<string, (typeof p.good)[number]>();
  const laterDuplicates: (typeof p.good)[number][] = [];
  for (const g of p.good) {
    if (firstByEmail.has(g.row.email)) laterDuplicates.push(g);
    else firstByEmail.set(g.row.email, g);
  }
  await lockEmailBuckets(tx, [...firstByEmail.values()].map((g) => g.values.emailBidx));
  const existing = await existingByEmail(tx, kr, [...firstByEmail.keys()]);
  const suppressedHashes = new Set(
    (
      await rows<{ h: string }>(
        tx,
        sql`SELECT encode(email_hash, 'hex') AS h FROM suppressions WHERE workspace_id = ${WORKSPACE_ID}
            AND email_hash = ANY(${sql.param([...firstByEmail.values()].map((g) => g.hash))}::bytea[])`,
      )
    ).map((r) => r.h),
  );

  const inserts: (ReturnType<typeof encodeContact> & { suppressed: boolean })[] = [];
  const updates = new Map<string, ReturnType<typeof encodeContact> & { suppressed: boolean }>();
  const touched: { id: string; action: 'inserted' | 'updated'; line: number; suppressed: boolean }[] = [];
  for (const g of firstByEmail.values()) {
    const suppressed = suppressedHashes.has(g.hash.toString('hex'));
    if (suppressed) c.suppressed++;
    const old = existing.get(g.row.email);
    if (!old) {
      inserts.push({ ...g.values, suppressed });
      touched.push({ id: g.values.id, action: 'inserted', line: g.row.line, suppressed });
    } else if (opts.onDuplicate === 'skip') {
      c.skipped++;
    } else {
      const cur = decodeContact(kr, old);
      const merged = mergeFields(cur, g.row, opts);
      updates.set(old.id, { ...encodeContact(kr, old.id, merged, defs), suppressed: suppressed || old.suppressed });
      touched.push({ id: old.id, action: 'updated', line: g.row.line, suppressed });
    }
  }
  for (const g of laterDuplicates) {
    const target = existing.get(g.row.email)?.id ?? firstByEmail.get(g.row.email)!.values.id;
    if (opts.onDuplicate === 'skip') {
      c.skipped++;
      continue;
    }
    // Apply the later row over what the earlier one produced.
    const prev = updates.get(target) ?? inserts.find((v) => v.id === target)!;
    const cur: ContactFields = decodeContact(kr, { ...prev, createdAt: new Date(), updatedAt: new Date() } as ContactRow);
    const next = { ...encodeContact(kr, target, mergeFields(cur, g.row, opts), defs), suppressed: prev.suppressed };
    const i = inserts.findIndex((v) => v.id === target);
    if (i >= 0) inserts[i] = next;
    else updates.set(target, next);
    c.updated++;
  }
  c.inserted = inserts.length;
  c.updated += updates.size;

  await insertContactRows(tx, inserts);
  await updateContactRows(tx, [...updates.values()]);
  const ids = touched.map((t) => t.id);
  if (listId !== null && ids.length)
    await tx.execute(
      sql`INSERT INTO list_members (list_id, contact_id) SELECT ${listId}, id FROM unnest(${sql.param(ids)}::uuid[]) id ON CONFLICT DO NOTHING`,
    );
  if (touched.length) {
    const actIds = touched.map(() => uuidv7());
    await tx.execute(sql`INSERT INTO contact_activities (id, workspace_id, contact_id, kind, details, actor_label)
      SELECT a, ${WORKSPACE_ID}, c, 'import', d, ${imp.createdBy}
      FROM unnest(${sql.param(actIds)}::uuid[], ${sql.param(ids)}::uuid[], ${sql.param(
        touched.map((t) => JSON.stringify({ importId: imp.id, file: imp.filename, line: t.line, action: t.action })),
      )}::jsonb[]) AS u(a, c, d)`);
  }
  if (opts.consent) {
    const consenting = touched.filter((t) => !t.suppressed);
    if (consenting.length) {
      const cids = consenting.map(() => uuidv7());
      const ev = consenting.map((t, i) =>
        encText(kr, 'contact_consents', 'evidence', cids[i], JSON.stringify({ importId: imp.id, importFile: imp.filename, line: t.line })),
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
export async function runImport(db: Tx, vault: Vault, actor: Actor, importId: string, input: Readable, o: RunImportOptions = {}): Promise<ImportRecord> {
  let imp = await getImport(db, importId);
  if (imp.state === 'completed') throw new Problem(409, 'import_finished', 'This import has already completed.');
  const opts = imp.options as unknown as ImportOptions;
  await db.update(contactImports).set({ state: 'running', error: null, updatedAt: new Date() }).where(eq(contactImports.id, imp.id));
  const kr = await vault.keyring();
  const defs = await listAttributeDefs(db);
  const listId = opts.list ? await ensureList(db, opts.list) : null;
  let toSkip = imp.rowsDone;
  const progress: ImportProgress = {
    rowsDone: imp.rowsDone,
    inserted: imp.inserted,
    updated: imp.updated,
    skipped: imp.skipped,
    failed: imp.failed,
    suppressed: imp.suppressed,
    stats: newImportStats(),
  };
  let batches = 0;
  let inFlight: Promise<void> | null = null;
  const commit = async (p: Prepared) => {
    const c = await db.transaction((tx) => commitBatch(tx, kr, defs, imp, opts, listId, p));
    progress.rowsDone += p.count;
    progress.inserted += c.inserted;
    progress.updated += c.updated;
    progress.skipped += c.skipped;
    progress.failed += c.failed;
    progress.suppressed += c.suppressed;
    batches++;
    o.onProgress?.(progress);
    if (o.crashAfterBatches !== undefined && batches >= o.crashAfterBatches) throw new Error('simulated crash');
  };
  try {
    for await (const batch of importRows(input, {
      format: imp.format,
      mapping: opts.mapping,
      attributes: defs.map((d) => ({ key: d.key, type: d.type, options: d.options, sensitive: d.sensitive })),
      batchSize: o.batchSize ?? 1000,
      defaultCountry: opts.defaultCountry ?? undefined,
      stats: progress.stats,
    })) {
      let { good, bad } = batch;
      if (toSkip > 0) {
        const n = good.length + bad.length;
        if (toSkip >= n) {
          toSkip -= n;
          continue;
        }
        ({ good, bad } = skipRows(good, bad, toSkip));
        toSkip = 0;
      }
      const prepared = prepare(kr, defs, opts, good, bad);
      if (inFlight) await inFlight;
      inFlight = commit(prepared);
      inFlight.catch(() => {}); // observed by the next await
    }
    if (inFlight) await inFlight;
  } catch (err) {
    if (inFlight) await inFlight.catch(() => {});
    const message = err instanceof ImportConfigError ? err.message : `import stopped: ${(err as Error).message}`;
    await db.update(contactImports).set({ state: 'failed', error: message, updatedAt: new Date() }).where(eq(contactImports.id, imp.id));
    if (err instanceof ImportConfigError) throw new Problem(422, 'import_config', err.message);
    throw err;
  }
  [imp] = await db
    .update(contactImports)
    .set({ state: 'completed', finishedAt: new Date(), updatedAt: new Date() })
    .where(eq(contactImports.id, imp.id))
    .returning();
  await appendAudit(db, actor, {
    action: 'contacts.imported',
    target: `import ${imp.id}`,
    details: { file: imp.filename, rows: imp.rowsDone, inserted: imp.inserted, updated: imp.updated, skipped: imp.skipped, failed: imp.failed, suppressed: imp.suppressed },
  });
  return imp;
}

/** The rejected rows of an import, decrypted, in line order (for the error file). */
export async function importErrors(db: Tx, kr: Keyring, importId: string): Promise<BadRow[]> {
  const r = await db.select().from(contactImportErrors).where(eq(contactImportErrors.importId, importId)).orderBy(contactImportErrors.line);
  return r.map((e) => ({ line: e.line, reason: e.reason, raw: decText(kr, 'contact_import_errors', 'raw', e.id, e.rawEnc) ?? '' }));
}
