// Set-based SQL of the import: one statement per batch for each step (insert,
// update, duplicate lookup), whatever the batch size. Arrays travel as unnest
// parameters, so the same SQL runs on PostgreSQL and PGlite.
import { type SQL, sql } from 'drizzle-orm';
import pg from 'pg';
import type { Keyring } from '../crypto/field-cipher.ts';
import { rows, type Tx } from '../db/client.ts';
import { copyFrom, pgClientOf } from '../db/copy.ts';
import type { SeenEmails } from './import-seen.ts';
import { asBuffer, contactColumns, type CopyTuples, copyTuples, pickCopyTuples } from './copy-tuples.ts';
import { contactEmail } from './profile.ts';
import { emailLengthKey } from './schema.ts';
import type { ContactRow, encodeContact } from './service.ts';
import {
  BIDX_LAYOUT,
  domainLookup,
  EMAIL_BITS,
  emailLookup,
  LEGACY_EMAIL_BITS,
  WORKSPACE_ID,
} from './vault.ts';

export { type CopyTuples, CopyTupleWriter, copyTuples, pickCopyTuples } from './copy-tuples.ts';

export type EncodedContact = ReturnType<typeof encodeContact> & {
  suppressed: boolean;
  importId?: string | null;
  /** contacts.import_run of a new row: the inserting import run, 0 (the default) for anything else. */
  importRun?: number;
};


/**
 * An int[] or bool[] parameter as its array literal, joined in one go: node-postgres would quote and escape
 * each element of a JS array (two regex replaces per element; the duplicate probe sends five arrays of a
 * batch's size). Numbers and booleans need no quoting (a non-integer fails the server's int cast loudly).
 */
export const pgPlainArray = (values: readonly (number | boolean)[]): string => `{${values.join(',')}}`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A uuid[] parameter the same way; each element is checked, so nothing else can slip into the literal. */
export function pgUuidArray(ids: readonly string[]): string {
  for (const id of ids) if (!UUID.test(id)) throw new TypeError('not a canonical UUID');
  return `{${ids.join(',')}}`;
}

/** A text[] literal (tags travel as one text per row through unnest, then cast). */
function pgTextArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`).join(',')}}`;
}

/**
 * Insert new contacts. On PostgreSQL: binary COPY inside the caller's
 * transaction (no array literals to build or parse; measured below in
 * docs/benchmarks.md). On PGlite: one INSERT … SELECT FROM unnest with 16
 * array parameters, whatever the batch size.
 */
export async function insertContactRows(tx: Tx, values: EncodedContact[]): Promise<void> {
  if (values.length === 0) return;
  const client = pgClientOf(tx);
  if (client) return copyContacts(client, asBuffer(copyTuples(values).body));
  const col = <K extends keyof EncodedContact>(k: K) => sql.param(values.map((v) => v[k] ?? null));
  // Rows without tags (every plain import) share one literal instead of one per row.
  const tags = values.map((v) => (v.tags.length ? pgTextArray(v.tags) : '{}'));
  await tx.execute(sql`INSERT INTO contacts (${sql.raw(contactColumns)})
    SELECT id, ${WORKSPACE_ID}, kv, el, eb, db, ${BIDX_LAYOUT}, pr, pb, at, jt, co, tz, ci, ow, tg::text[], ir, su, im
    FROM unnest(${col('id')}::uuid[], ${col('keyVersion')}::int[], ${col('emailLength')}::int2[], ${col('emailBidx')}::int[],
      ${col('emailDomainBidx')}::int[], ${col('profileEnc')}::bytea[], ${col('phoneBidx')}::int[],
      ${sql.param(values.map((v) => JSON.stringify(v.attributes)))}::jsonb[], ${col('jobTitle')}::text[], ${col('country')}::text[],
      ${col('timeZone')}::text[], ${col('companyId')}::bigint[], ${col('ownerUserId')}::bigint[],
      ${sql.param(tags)}::text[], ${sql.param(values.map((v) => v.importRun ?? 0))}::int8[], ${col('suppressed')}::boolean[],
      ${col('importId')}::uuid[])
      AS u(id, kv, el, eb, db, pr, pb, at, jt, co, tz, ci, ow, tg, ir, su, im)`);
}

const copyContacts = (client: NonNullable<ReturnType<typeof pgClientOf>>, body: Buffer) =>
  copyFrom(client, `COPY contacts (${contactColumns}) FROM STDIN (FORMAT binary)`, body);

/** Insert picked rows of a batch from its COPY tuples (PostgreSQL). */
export async function insertCopyTuples(
  tx: Tx,
  t: CopyTuples,
  picks: readonly { i: number; suppressed: boolean; replacement?: EncodedContact }[],
): Promise<void> {
  if (picks.length === 0) return;
  const client = pgClientOf(tx);
  if (!client) throw new Error('COPY tuples need a node-postgres transaction');
  await copyContacts(client, pickCopyTuples(t, picks));
}

/** True when inserts go through COPY (node-postgres), false on PGlite. */
export function insertsByCopy(db: Tx): boolean {
  return (db as { $client?: unknown }).$client instanceof pg.Pool;
}

export async function updateContactRows(tx: Tx, values: EncodedContact[]): Promise<void> {
  if (values.length === 0) return;
  const col = <K extends keyof EncodedContact>(k: K) => sql.param(values.map((v) => v[k] ?? null));
  await tx.execute(sql`UPDATE contacts c SET key_version = u.kv, email_enc = NULL, email_length = u.el, email_bidx = u.eb,
      email_domain_bidx = u.db,
      bidx_layout = ${BIDX_LAYOUT}, profile_enc = u.pr, first_name_enc = NULL, last_name_enc = NULL, phone_enc = NULL,
      notes_enc = NULL, sensitive_enc = NULL, phone_bidx = u.pb, attributes = u.at, country = u.co, time_zone = u.tz,
      owner_user_id = u.ow, tags = u.tg::text[], suppressed = u.su, import_run = 0, updated_at = now()
    FROM unnest(${col('id')}::uuid[], ${col('keyVersion')}::int[], ${col('emailLength')}::int2[], ${col('emailBidx')}::int[],
      ${col('emailDomainBidx')}::int[], ${col('profileEnc')}::bytea[], ${col('phoneBidx')}::int[],
      ${sql.param(values.map((v) => JSON.stringify(v.attributes)))}::jsonb[], ${col('country')}::text[], ${col('timeZone')}::text[],
      ${col('ownerUserId')}::bigint[], ${sql.param(values.map((v) => pgTextArray(v.tags)))}::text[], ${col('suppressed')}::boolean[])
      AS u(id, kv, el, eb, db, pr, pb, at, co, tz, ow, tg, su)
    WHERE c.id = u.id`);
}

const buf = (v: unknown) => (v == null ? null : Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array));

export function rowFromDb(r: Record<string, unknown>): ContactRow {
  return {
    id: r.id as string,
    workspaceId: r.workspace_id as number,
    keyVersion: r.key_version as number,
    emailEnc: buf(r.email_enc),
    emailLength: (r.email_length as number | null) ?? null,
    emailBidx: r.email_bidx as number,
    emailDomainBidx: r.email_domain_bidx as number,
    bidxLayout: r.bidx_layout as number,
    profileEnc: buf(r.profile_enc),
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
    importRun: Number(r.import_run ?? 0),
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
 * pair and the email's length per address; only the candidates' email and record are fetched, and each
 * candidate's email decrypted (its own value in an older row, else its record; profile.ts contactEmail).
 * `legacy`: also probe layout-1 values (rows the re-index sweep has not reached). `otherFormats`: some email
 * ciphertext is in a format whose length schema.ts emailLengthKey does not know (-1): probe those rows too.
 * `written`: the active-key index values of each email (parallel to `emails`), when the caller already has them.
 * `ownRun`: an import run's own inserts (see import-seen.ts); for an address the run certainly did not insert,
 * candidates the run inserted (and nobody wrote since: contacts.import_run still the run's) are not fetched.
 */
export async function existingByEmail(
  tx: Tx,
  kr: Keyring,
  emails: string[],
  { legacy, otherFormats }: { legacy: boolean; otherFormats: boolean },
  written?: { emailBidx: ArrayLike<number>; domainBidx: ArrayLike<number> },
  ownRun?: { run: number; seen: SeenEmails; laterRuns?: boolean },
): Promise<Map<string, { id: string; suppressed: boolean }>> {
  const e: number[] = [];
  const d: number[] = [];
  const l: number[] = [];
  const n: number[] = [];
  const x: boolean[] = [];
  const shift = EMAIL_BITS - LEGACY_EMAIL_BITS;
  // With a single blind-index key the lookup values are the ones just computed for the insert: skip two HMACs per row.
  const reuse = written !== undefined && kr.blindIndexKeys().length === 1;
  for (let i = 0; i < emails.length; i++) {
    const email = emails[i];
    const notOurs = ownRun !== undefined && !ownRun.seen.mightContain(email);
    const lengths = otherFormats ? [Buffer.byteLength(email, 'utf8'), -1] : [Buffer.byteLength(email, 'utf8')];
    const ds = reuse ? [written.domainBidx[i]] : domainLookup(kr, email.slice(email.lastIndexOf('@') + 1));
    for (const ev of reuse ? [written.emailBidx[i]] : emailLookup(kr, email)) {
      for (const dv of ds) {
        for (const bytes of lengths) {
          e.push(ev);
          d.push(dv);
          l.push(BIDX_LAYOUT);
          n.push(bytes);
          x.push(notOurs);
          if (legacy) {
            e.push(ev >>> shift);
            d.push(dv);
            l.push(1);
            n.push(bytes);
            x.push(notOurs);
          }
        }
      }
    }
  }
  const out = new Map<string, { id: string; suppressed: boolean }>();
  if (e.length === 0) return out;
  const found = await rows<{ id: string; email_enc: Uint8Array | null; profile_enc: Uint8Array | null; suppressed: boolean }>(
    tx,
    emailProbeSql({ e, d, l, n, x }, ownRun),
  );
  const wanted = new Set(emails);
  for (const r of found) {
    const email = contactEmail(kr, r.id, { emailEnc: r.email_enc, profileEnc: r.profile_enc });
    if (wanted.has(email)) out.set(email, { id: r.id, suppressed: r.suppressed });
  }
  return out;
}

/** Keys of the duplicate probe, parallel arrays: email and domain index, layout, email length (-1: other format), not-ours flag. */
export interface ProbeKeys {
  e: number[];
  d: number[];
  l: number[];
  n: number[];
  x: boolean[];
}

/**
 * The duplicate probe's statement. LATERAL: one index probe per (email, domain, layout, length), never a
 * scan of the table. The length is a key of the index (schema.ts emailLengthKey): candidates of another length
 * are skipped without reading their rows. Plain equality: an `= ANY(ARRAY[k.n, -1])` on the outer row is not
 * used as an index key, hence one key per length. OFFSET 0 keeps the subquery a per-key index probe whatever
 * the statistics say: during a large import into a table not yet analysed, the planner took the table for
 * ~1,000 rows and chose a merge join over a sorted scan of the whole workspace instead (measured: the probe
 * grew from 6 to 310 ms per batch of 2,000 over a 200,000-row import, most of the database's work).
 *
 * A key flagged `x` (an address this run has certainly not inserted) skips the run's own untouched rows
 * inside the index: `import_run` is the index's last key, and `<> run` is asked as two ranges (a btree cannot
 * scan for `<>`), each branch switched on or off per key by a one-time filter on `k.x`. Reading those rows
 * instead, only to find they were this run's, cost a heap visit per candidate: at 1,000,000 gmail-heavy rows
 * ~1.4 per imported row on average, most of them reads from outside the server's buffers. The `> run` range is
 * left out while no later run has started (`laterRuns: false`): one index descent per address less.
 */
export function emailProbeSql(k: ProbeKeys, ownRun?: { run: number; laterRuns?: boolean }): SQL {
  const run = ownRun?.run ?? 0;
  if (!Number.isSafeInteger(run)) throw new TypeError('import run must be an integer');
  const probe = (extra: SQL) => sql`SELECT id, email_enc, profile_enc, suppressed FROM contacts c WHERE c.workspace_id = ${WORKSPACE_ID}
      AND c.email_bidx = k.e AND c.email_domain_bidx = k.d AND c.bidx_layout = k.l
      AND ${emailLengthKey(sql.raw('c.email_length'), sql.raw('c.email_enc'))} = k.n AND ${extra}`;
  // Rows of later runs exist only if a later run has started (import-commit.ts reads that under its lock).
  const later =
    ownRun?.laterRuns === false ? sql`` : sql`UNION ALL ${probe(sql`k.x AND c.import_run > ${sql.raw(String(run))}`)}`;
  return sql`SELECT c.id, c.email_enc, c.profile_enc, c.suppressed
    FROM (SELECT DISTINCT e, d, l, n, x FROM unnest(${pgPlainArray(k.e)}::int[], ${pgPlainArray(k.d)}::int[],
      ${pgPlainArray(k.l)}::int[], ${pgPlainArray(k.n)}::int[], ${pgPlainArray(k.x)}::bool[]) AS k(e, d, l, n, x)) k
    CROSS JOIN LATERAL (${probe(sql`NOT k.x`)}
      UNION ALL ${probe(sql`k.x AND c.import_run < ${sql.raw(String(run))}`)}
      ${later} OFFSET 0) c`;
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
