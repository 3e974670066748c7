// Contacts, consent, suppression and privacy requests. Every PII value is
// encrypted here before it reaches SQL and decrypted here after; callers mask
// (masking.ts) before serialising. Validation, organisation data (companies,
// lists, attribute definitions), the timeline and consent (consent.ts) live in
// their own modules and are re-exported here, so `import * as svc from
// './service.ts'` sees them all.
import { and, asc, desc, eq, inArray, lt, or, type SQL, sql } from 'drizzle-orm';
import type { Actor } from '../audit/service.ts';
import type { Keyring } from '../crypto/field-cipher.ts';
import type { Tx } from '../db/client.ts';
import { conflict, fieldError, notFound } from '../http/problem.ts';
import type { AttributeValue, ContactPii } from './masking.ts';
import { emailDomain, normaliseEmail, normalisePhone } from './normalize.ts';
import { contactEmailIs, emailLengthOf, openContactRecord } from './profile.ts';
import {
  attributeDefinitions,
  contacts,
  emailLengthKey,
  type SuppressionReason,
  suppressions,
  tagsIndexed,
} from './schema.ts';
import {
  BIDX_LAYOUT,
  domainLookup,
  emailLookup,
  legacyEmailBidx,
  legacyEmailLookup,
  lockEmailBuckets,
  phoneLookup,
  suppressionHash,
  uuidv7,
  WORKSPACE_ID,
} from './vault.ts';
import { type ContactFields, encodeContact, T } from './contact-encoding.ts';
import { addActivity } from './timeline.ts';
import { type ContactInput, normaliseContactInput } from './validation.ts';

export * from './consent.ts';
export * from './organisation.ts';
export * from './timeline.ts';
export * from './validation.ts';

export type ContactRow = typeof contacts.$inferSelect;
export type AttributeDef = typeof attributeDefinitions.$inferSelect;

/** A decrypted contact (server-side only; mask before sending it anywhere). */
export interface Contact extends ContactFields {
  id: string;
  suppressed: boolean;
  keyVersion: number;
  createdAt: Date;
  updatedAt: Date;
}

export function decodeContact(kr: Keyring, r: ContactRow): Contact {
  const profile = openContactRecord(kr, r.id, r);
  return {
    id: r.id,
    email: profile.email,
    firstName: profile.firstName,
    lastName: profile.lastName,
    phone: profile.phone,
    notes: profile.notes,
    attributes: { ...(r.attributes as Record<string, AttributeValue>), ...profile.sensitive },
    jobTitle: r.jobTitle,
    country: r.country,
    timeZone: r.timeZone,
    companyId: r.companyId,
    ownerUserId: r.ownerUserId,
    tags: r.tags,
    suppressed: r.suppressed,
    keyVersion: r.keyVersion,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

/** The masking module's view of a contact (owner ids as strings, like user ids in ContactView). */
export function toPii(c: Contact): ContactPii {
  return {
    id: c.id,
    ownerUserId: c.ownerUserId === null ? null : String(c.ownerUserId),
    email: c.email,
    firstName: c.firstName,
    lastName: c.lastName,
    phone: c.phone,
    notes: c.notes,
    attributes: c.attributes,
  };
}

export { type ContactFields, encodeContact, T };

export async function listAttributeDefs(db: Tx): Promise<AttributeDef[]> {
  return db
    .select()
    .from(attributeDefinitions)
    .where(eq(attributeDefinitions.workspaceId, WORKSPACE_ID))
    .orderBy(asc(attributeDefinitions.key));
}

// ---------------------------------------------------------------------------
// Lookup

/**
 * Blind-index condition for an exact email: the (email, domain) pair under the
 * current layout, plus layout-1 rows the re-index sweep has not reached (their
 * partial index is empty once it has, so that branch then costs one probe), and
 * the email's length (the probe index's key, as in findByEmail): the contact
 * list's and the export's email filter then decode only candidates that can match.
 */
export function emailCandidates(kr: Keyring, normalisedEmail: string): SQL {
  const domain = inArray(contacts.emailDomainBidx, domainLookup(kr, emailDomain(normalisedEmail)));
  return and(
    eq(contacts.workspaceId, WORKSPACE_ID),
    domain,
    or(
      and(
        inArray(contacts.emailBidx, emailLookup(kr, normalisedEmail)),
        sql`${contacts.bidxLayout} = ${sql.raw(String(BIDX_LAYOUT))}`,
      ),
      and(
        inArray(contacts.emailBidx, legacyEmailLookup(kr, normalisedEmail)),
        sql`${contacts.bidxLayout} = 1`,
      ),
    ),
    sql`${emailLengthKey(contacts.emailLength, contacts.emailEnc)} = ANY(ARRAY[${emailLengthOf(normalisedEmail)}::int, -1])`,
  )!;
}

// Exact email lookup is the hot read path (search by address, and the uniqueness check of every single
// write): one statement whose text never changes (arrays rather than IN lists, whose length would follow
// the number of blind-index keys loaded), built once per database handle or transaction and prepared by
// name on PostgreSQL (node-postgres parses it once per connection; the server plans it from the cached
// statement), so neither the query builder nor the server's parser and planner run per lookup — they were
// half of a lookup's CPU. No ORDER BY/LIMIT: the candidates are few (≤ ~61 at 1M contacts, docs/security.md §5)
// and a generic plan must not be tempted by a backward primary-key scan. The server also drops candidates
// whose email has another length than the searched address's, inside the index (schema.ts emailLengthKey; an email_enc
// ciphertext in another format passes through to decryption), so a crowded bucket (a gmail.com address: ~19 candidates
// at 1M) reads, ships and decodes a few rows instead of all of them.
const buildEmailCandidatesStatement = (db: Tx) =>
  db
    .select()
    .from(contacts)
    .where(
      and(
        eq(contacts.workspaceId, WORKSPACE_ID),
        sql`${contacts.emailDomainBidx} = ANY(${sql.placeholder('domain')}::int[])`,
        sql`((${contacts.emailBidx} = ANY(${sql.placeholder('email')}::int[]) AND ${contacts.bidxLayout} = ${sql.raw(String(BIDX_LAYOUT))})
          OR (${contacts.emailBidx} = ANY(${sql.placeholder('legacy')}::int[]) AND ${contacts.bidxLayout} = 1))`,
        sql`${emailLengthKey(contacts.emailLength, contacts.emailEnc)} = ANY(ARRAY[${sql.placeholder('bytes')}::int, -1])`,
      ),
    )
    .prepare('contacts_by_email_bidx');
const emailCandidatesStatements = new WeakMap<Tx, ReturnType<typeof buildEmailCandidatesStatement>>();

/** Rows whose email equals `normalisedEmail`: blind-index candidates, decrypted and compared. */
export async function findByEmail(db: Tx, kr: Keyring, normalisedEmail: string): Promise<ContactRow[]> {
  let statement = emailCandidatesStatements.get(db);
  if (!statement) emailCandidatesStatements.set(db, (statement = buildEmailCandidatesStatement(db)));
  const email = emailLookup(kr, normalisedEmail);
  const candidates = await statement.execute({
    domain: domainLookup(kr, emailDomain(normalisedEmail)),
    email,
    legacy: legacyEmailBidx(email),
    bytes: emailLengthOf(normalisedEmail),
  });
  return candidates.filter((c) => contactEmailIs(kr, c.id, c, normalisedEmail));
}

export async function isSuppressed(
  db: Tx,
  kr: Keyring,
  normalisedEmail: string,
): Promise<SuppressionReason | null> {
  const [row] = await db
    .select({ reason: suppressions.reason })
    .from(suppressions)
    .where(
      and(
        eq(suppressions.workspaceId, WORKSPACE_ID),
        eq(suppressions.emailHash, suppressionHash(kr, normalisedEmail)),
      ),
    );
  return row?.reason ?? null;
}

/**
 * Put an address on the suppression list (idempotent; 'erased' wins over any
 * earlier reason so the record says why nothing else is left).
 */
export async function suppress(
  db: Tx,
  kr: Keyring,
  normalisedEmail: string,
  reason: SuppressionReason,
  note?: string,
): Promise<void> {
  const hash = suppressionHash(kr, normalisedEmail);
  await db
    .insert(suppressions)
    .values({
      workspaceId: WORKSPACE_ID,
      emailHash: hash,
      indexVersion: kr.activeIndexVersion,
      reason,
      note: note ?? null,
    })
    .onConflictDoUpdate({
      target: [suppressions.workspaceId, suppressions.emailHash],
      set: reason === 'erased' ? { reason, note: note ?? null } : { note: sql`${suppressions.note}` },
    });
  await db
    .update(contacts)
    .set({ suppressed: true })
    .where(
      and(
        eq(contacts.workspaceId, WORKSPACE_ID),
        inArray(
          contacts.id,
          (await findByEmail(db, kr, normalisedEmail)).map((c) => c.id),
        ),
      ),
    );
}

// ---------------------------------------------------------------------------
// Contacts

export async function createContact(
  db: Tx,
  kr: Keyring,
  actor: Actor,
  input: ContactInput,
): Promise<Contact> {
  const defs = await listAttributeDefs(db);
  const fields = normaliseContactInput(input, defs);
  return db.transaction(async (tx) => {
    const values = encodeContact(kr, uuidv7(), fields, defs);
    await lockEmailBuckets(tx, [values.emailBidx]);
    if ((await findByEmail(tx, kr, fields.email)).length)
      throw conflict('contact_exists', 'A contact with this email address already exists.');
    const suppressed = (await isSuppressed(tx, kr, fields.email)) !== null;
    const [row] = await tx
      .insert(contacts)
      .values({ ...values, suppressed })
      .returning();
    await addActivity(tx, kr, actor, { contactId: row.id, kind: 'created' });
    return decodeContact(kr, row);
  });
}

export async function getContactRow(db: Tx, id: string): Promise<ContactRow | null> {
  const [row] = await db
    .select()
    .from(contacts)
    .where(and(eq(contacts.workspaceId, WORKSPACE_ID), eq(contacts.id, id)));
  return row ?? null;
}

export async function getContact(db: Tx, kr: Keyring, id: string): Promise<Contact> {
  const row = await getContactRow(db, id);
  if (!row) throw notFound('Contact');
  return decodeContact(kr, row);
}

export async function updateContact(
  db: Tx,
  kr: Keyring,
  actor: Actor,
  id: string,
  patch: ContactInput,
): Promise<Contact> {
  const defs = await listAttributeDefs(db);
  return db.transaction(async (tx) => {
    const [row] = await tx
      .select()
      .from(contacts)
      .where(and(eq(contacts.workspaceId, WORKSPACE_ID), eq(contacts.id, id)))
      .for('update');
    if (!row) throw notFound('Contact');
    const current = decodeContact(kr, row);
    const fields = normaliseContactInput(patch, defs, current);
    // Re-encrypt the whole row: every field of a row shares one key version.
    const values = encodeContact(kr, id, fields, defs);
    if (fields.email !== current.email) {
      await lockEmailBuckets(tx, [values.emailBidx]);
      if ((await findByEmail(tx, kr, fields.email)).some((c) => c.id !== id))
        throw conflict('contact_exists', 'A contact with this email address already exists.');
    }
    const suppressed = current.suppressed || (await isSuppressed(tx, kr, fields.email)) !== null;
    const [updated] = await tx
      .update(contacts)
      // import_run 0: a running import's probe reads rows written since it inserted them (schema.ts importRun).
      .set({ ...values, suppressed, importRun: 0, updatedAt: new Date() })
      .where(eq(contacts.id, id))
      .returning();
    const changed = (Object.keys(patch) as (keyof ContactInput)[]).filter((k) => patch[k] !== undefined);
    await addActivity(tx, kr, actor, { contactId: id, kind: 'updated', details: { fields: changed } });
    return decodeContact(kr, updated);
  });
}

export interface ContactFilter {
  email?: string;
  phone?: string;
  tag?: string;
  listId?: number;
  ownerUserId?: number;
  companyId?: number;
  /** Plain (non-sensitive) attribute equality. */
  attribute?: { key: string; value: AttributeValue };
  /** Keyset cursor: contacts with an id below it (newest first). */
  before?: string;
  limit?: number;
}

function normalisedEmailFilter(email: string): string {
  const e = normaliseEmail(email);
  if (!e.ok) throw fieldError('email', 'is not a valid email address');
  return e.value;
}

export function filterWhere(
  kr: Keyring,
  f: ContactFilter,
  defs: readonly AttributeDef[],
): { where: SQL; email?: string; phone?: string } {
  const conds: SQL[] = [eq(contacts.workspaceId, WORKSPACE_ID)];
  let email: string | undefined;
  let phone: string | undefined;
  if (f.email) {
    email = normalisedEmailFilter(f.email);
    conds.push(emailCandidates(kr, email));
  }
  if (f.phone) {
    const p = normalisePhone(f.phone);
    if (!p.ok) throw fieldError('phone', 'must be a phone number in international format (+…)');
    phone = p.value;
    conds.push(inArray(contacts.phoneBidx, phoneLookup(kr, phone)));
  }
  if (f.tag) conds.push(sql`${contacts.tags} @> ARRAY[${f.tag}]::text[]`, tagsIndexed(contacts.tags));
  if (f.ownerUserId) conds.push(eq(contacts.ownerUserId, f.ownerUserId));
  if (f.companyId) conds.push(eq(contacts.companyId, f.companyId));
  if (f.listId)
    conds.push(
      sql`EXISTS (SELECT 1 FROM list_members m WHERE m.contact_id = ${contacts.id} AND m.list_id = ${f.listId})`,
    );
  if (f.attribute) {
    const def = defs.find((d) => d.key === f.attribute!.key);
    if (!def) throw fieldError('attribute', 'is not a defined attribute');
    if (def.sensitive) throw fieldError('attribute', 'is sensitive (encrypted) and cannot be searched');
    conds.push(sql`${contacts.attributes} @> ${JSON.stringify({ [def.key]: f.attribute.value })}::jsonb`);
  }
  if (f.before) conds.push(lt(contacts.id, f.before));
  return { where: and(...conds)!, email, phone };
}

export async function listContacts(
  db: Tx,
  kr: Keyring,
  f: ContactFilter,
): Promise<{ items: Contact[]; nextBefore: string | null }> {
  const limit = Math.min(Math.max(f.limit ?? 50, 1), 500);
  if (
    f.email &&
    !(f.phone || f.tag || f.listId || f.ownerUserId || f.companyId || f.attribute || f.before)
  ) {
    // Search by address alone (the console's and the API's exact lookup): the prepared statement of
    // findByEmail, newest first like every page.
    const found = await findByEmail(db, kr, normalisedEmailFilter(f.email));
    found.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    const more = found.length > limit;
    const page = more ? found.slice(0, limit) : found;
    return { items: page.map((r) => decodeContact(kr, r)), nextBefore: more ? page[page.length - 1].id : null };
  }
  const defs = f.attribute ? await listAttributeDefs(db) : [];
  const { where, email, phone } = filterWhere(kr, f, defs);
  const found = await db
    .select()
    .from(contacts)
    .where(where)
    .orderBy(desc(contacts.id))
    .limit(limit + 1);
  const more = found.length > limit;
  if (more) found.pop();
  // Blind indexes give candidates: decode each once (its record holds the email and the phone) and drop the
  // coincidences.
  let items = found.map((r) => decodeContact(kr, r));
  if (email) items = items.filter((c) => c.email === email);
  if (phone) items = items.filter((c) => c.phone === phone);
  return { items, nextBefore: more ? found[found.length - 1].id : null };
}
