// Set-based SQL of the import: one statement per batch for each step (insert,
// update, duplicate lookup), whatever the batch size. Arrays travel as unnest
// parameters, so the same SQL runs on PostgreSQL and PGlite.
import { sql } from 'drizzle-orm';
import type { Keyring } from '../crypto/field-cipher.ts';
import { rows, type Tx } from '../db/client.ts';
import { BinaryCopyWriter, copyFrom, pgClientOf } from '../db/copy.ts';
import type { SeenEmails } from './import-seen.ts';
import { type ContactRow, type encodeContact, T } from './service.ts';
import {
  BIDX_LAYOUT,
  decText,
  domainLookup,
  EMAIL_BITS,
  emailLookup,
  LEGACY_EMAIL_BITS,
  WORKSPACE_ID,
} from './vault.ts';

export type EncodedContact = ReturnType<typeof encodeContact> & {
  suppressed: boolean;
  importId?: string | null;
};

const contactColumns = `id, workspace_id, key_version, email_enc, email_bidx, email_domain_bidx, bidx_layout, first_name_enc, last_name_enc,
  phone_enc, phone_bidx, notes_enc, sensitive_enc, attributes, job_title, country, time_zone, company_id, owner_user_id, tags, suppressed, import_id`;

/** A text[] literal (tags travel as one text per row through unnest, then cast). */
function pgTextArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`).join(',')}}`;
}

/**
 * Insert new contacts. On PostgreSQL: binary COPY inside the caller's
 * transaction (no array literals to build or parse; measured below in
 * docs/benchmarks.md). On PGlite: one INSERT … SELECT FROM unnest with 22
 * array parameters, whatever the batch size.
 */
export async function insertContactRows(tx: Tx, values: EncodedContact[]): Promise<void> {
  if (values.length === 0) return;
  const client = pgClientOf(tx);
  if (client) return copyFrom(client, `COPY contacts (${contactColumns}) FROM STDIN (FORMAT binary)`, contactsCopyBody(values));
  const col = <K extends keyof EncodedContact>(k: K) => sql.param(values.map((v) => v[k] ?? null));
  // Rows without tags (every plain import) share one literal instead of one per row.
  const tags = values.map((v) => (v.tags.length ? pgTextArray(v.tags) : '{}'));
  await tx.execute(sql`INSERT INTO contacts (${sql.raw(contactColumns)})
    SELECT id, ${WORKSPACE_ID}, kv, e, eb, db, ${BIDX_LAYOUT}, fn, ln, ph, pb, nt, se, at, jt, co, tz, ci, ow, tg::text[], su, im
    FROM unnest(${col('id')}::uuid[], ${col('keyVersion')}::int[], ${col('emailEnc')}::bytea[], ${col('emailBidx')}::int[],
      ${col('emailDomainBidx')}::int[], ${col('firstNameEnc')}::bytea[], ${col('lastNameEnc')}::bytea[], ${col('phoneEnc')}::bytea[],
      ${col('phoneBidx')}::int[], ${col('notesEnc')}::bytea[], ${col('sensitiveEnc')}::bytea[],
      ${sql.param(values.map((v) => JSON.stringify(v.attributes)))}::jsonb[], ${col('jobTitle')}::text[], ${col('country')}::text[],
      ${col('timeZone')}::text[], ${col('companyId')}::bigint[], ${col('ownerUserId')}::bigint[],
      ${sql.param(tags)}::text[], ${col('suppressed')}::boolean[], ${col('importId')}::uuid[])
      AS u(id, kv, e, eb, db, fn, ln, ph, pb, nt, se, at, jt, co, tz, ci, ow, tg, su, im)`);
}

/** The COPY body of `values`, fields in `contactColumns` order. */
function contactsCopyBody(values: EncodedContact[]): Buffer {
  const w = new BinaryCopyWriter(values.length * 640);
  for (const v of values) {
    w.row(22)
      .uuid(v.id)
      .int4(WORKSPACE_ID)
      .int4(v.keyVersion)
      .bytea(v.emailEnc)
      .int4(v.emailBidx)
      .int4(v.emailDomainBidx)
      .int2(BIDX_LAYOUT)
      .bytea(v.firstNameEnc)
      .bytea(v.lastNameEnc)
      .bytea(v.phoneEnc)
      .int4(v.phoneBidx)
      .bytea(v.notesEnc)
      .bytea(v.sensitiveEnc)
      .jsonb(JSON.stringify(v.attributes))
      .text(v.jobTitle)
      .text(v.country)
      .text(v.timeZone)
      .int8(v.companyId)
      .int8(v.ownerUserId)
      .textArray(v.tags)
      .bool(v.suppressed)
      .uuid(v.importId ?? null);
  }
  return w.finish();
}

export async function updateContactRows(tx: Tx, values: EncodedContact[]): Promise<void> {
  if (values.length === 0) return;
  const col = <K extends keyof EncodedContact>(k: K) => sql.param(values.map((v) => v[k] ?? null));
  await tx.execute(sql`UPDATE contacts c SET key_version = u.kv, email_enc = u.e, email_bidx = u.eb, email_domain_bidx = u.db,
      bidx_layout = ${BIDX_LAYOUT}, first_name_enc = u.fn, last_name_enc = u.ln, phone_enc = u.ph, phone_bidx = u.pb, notes_enc = u.nt,
      sensitive_enc = u.se, attributes = u.at, country = u.co, time_zone = u.tz, owner_user_id = u.ow, tags = u.tg::text[],
      suppressed = u.su, updated_at = now()
    FROM unnest(${col('id')}::uuid[], ${col('keyVersion')}::int[], ${col('emailEnc')}::bytea[], ${col('emailBidx')}::int[],
      ${col('emailDomainBidx')}::int[], ${col('firstNameEnc')}::bytea[], ${col('lastNameEnc')}::bytea[], ${col('phoneEnc')}::bytea[],
      ${col('phoneBidx')}::int[], ${col('notesEnc')}::bytea[], ${col('sensitiveEnc')}::bytea[],
      ${sql.param(values.map((v) => JSON.stringify(v.attributes)))}::jsonb[], ${col('country')}::text[], ${col('timeZone')}::text[],
      ${col('ownerUserId')}::bigint[], ${sql.param(values.map((v) => pgTextArray(v.tags)))}::text[], ${col('suppressed')}::boolean[])
      AS u(id, kv, e, eb, db, fn, ln, ph, pb, nt, se, at, co, tz, ow, tg, su)
    WHERE c.id = u.id`);
}

const buf = (v: unknown) => (v == null ? null : Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array));

export function rowFromDb(r: Record<string, unknown>): ContactRow {
  return {
    id: r.id as string,
    workspaceId: r.workspace_id as number,
    keyVersion: r.key_version as number,
    emailEnc: buf(r.email_enc)!,
    emailBidx: r.email_bidx as number,
    emailDomainBidx: r.email_domain_bidx as number,
    bidxLayout: r.bidx_layout as number,
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
    importId: (r.import_id as string | null) ?? null,
    createdAt: new Date(r.created_at as string),
    updatedAt: new Date(r.updated_at as string),
  };
}

/** True while some contacts still carry layout-1 blind indexes (partial index: one probe). */
export async function hasLegacyIndexRows(tx: Tx): Promise<boolean> {
  const [r] = await rows<{ x: boolean }>(
    tx,
    sql`SELECT EXISTS (SELECT 1 FROM contacts WHERE workspace_id = ${WORKSPACE_ID} AND bidx_layout = 1) AS x`,
  );
  return r.x;
}

/**
 * Existing contacts whose email equals one of `emails` (normalised, distinct):
 * one statement for the whole batch, probing the (email, domain) blind-index
 * pair per address; only the email column of the candidates is fetched and
 * decrypted (false positives are dropped without decoding the rest).
 * `legacy`: also probe layout-1 values (rows the re-index sweep has not reached).
 * `written`: the active-key index values of each email, in order, when the caller already has them.
 * `ownRun`: an import run's own inserts (see import-seen.ts); for an address the run certainly did not insert,
 * candidates the run inserted (and nobody changed since: updated_at = created_at) are not fetched.
 */
export async function existingByEmail(
  tx: Tx,
  kr: Keyring,
  emails: string[],
  legacy: boolean,
  written?: readonly { emailBidx: number; emailDomainBidx: number }[],
  ownRun?: { importId: string; since: string; seen: SeenEmails },
): Promise<Map<string, { id: string; suppressed: boolean }>> {
  const e: number[] = [];
  const d: number[] = [];
  const l: number[] = [];
  const x: boolean[] = [];
  const shift = EMAIL_BITS - LEGACY_EMAIL_BITS;
  // With a single blind-index key the lookup values are the ones just computed for the insert: skip two HMACs per row.
  const reuse = written !== undefined && kr.blindIndexKeys().length === 1;
  for (let i = 0; i < emails.length; i++) {
    const email = emails[i];
    const notOurs = ownRun !== undefined && !ownRun.seen.mightContain(email);
    const ds = reuse ? [written[i].emailDomainBidx] : domainLookup(kr, email.slice(email.lastIndexOf('@') + 1));
    for (const ev of reuse ? [written[i].emailBidx] : emailLookup(kr, email)) {
      for (const dv of ds) {
        e.push(ev);
        d.push(dv);
        l.push(BIDX_LAYOUT);
        x.push(notOurs);
        if (legacy) {
          e.push(ev >>> shift);
          d.push(dv);
          l.push(1);
          x.push(notOurs);
        }
      }
    }
  }
  const out = new Map<string, { id: string; suppressed: boolean }>();
  if (e.length === 0) return out;
  const found = await rows<{ id: string; email_enc: Buffer | Uint8Array; suppressed: boolean }>(
    tx,
    // LATERAL: one index probe per (email, domain, layout) triple, never a scan of the table.
    sql`SELECT c.id, c.email_enc, c.suppressed
        FROM (SELECT DISTINCT e, d, l, x FROM unnest(${sql.param(e)}::int[], ${sql.param(d)}::int[], ${sql.param(l)}::int[],
          ${sql.param(x)}::bool[]) AS k(e, d, l, x)) k
        CROSS JOIN LATERAL (SELECT id, email_enc, suppressed FROM contacts c WHERE c.workspace_id = ${WORKSPACE_ID}
          AND c.email_bidx = k.e AND c.email_domain_bidx = k.d AND c.bidx_layout = k.l
          AND NOT coalesce(k.x AND c.import_id IS NOT DISTINCT FROM ${ownRun?.importId ?? null}::uuid
            AND c.created_at >= ${ownRun?.since ?? null}::timestamptz AND c.updated_at = c.created_at, false)) c`,
  );
  const wanted = new Set(emails);
  for (const r of found) {
    const email = decText(kr, T, 'email', r.id, r.email_enc)!;
    if (wanted.has(email)) out.set(email, { id: r.id, suppressed: r.suppressed });
  }
  return out;
}

/** Full rows by id (the duplicates an `update` import merges into). */
export async function contactRowsById(tx: Tx, ids: string[]): Promise<Map<string, ContactRow>> {
  if (ids.length === 0) return new Map();
  const found = await rows<Record<string, unknown>>(
    tx,
    sql`SELECT * FROM contacts WHERE workspace_id = ${WORKSPACE_ID} AND id = ANY(${sql.param(ids)}::uuid[])`,
  );
  return new Map(found.map((r) => [r.id as string, rowFromDb(r)]));
}
