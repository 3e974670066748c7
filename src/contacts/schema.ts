// Customer-data vault: contacts and everything attached to them. PII lives only
// in `*_enc` bytea columns (field-cipher format, AAD = workspace/table/column/
// row id/key version); lookups go through truncated blind indexes (`*_bidx`,
// int4, never UNIQUE). Non-sensitive attributes stay plaintext JSONB.
// See docs/contacts.md and docs/security.md.
import { type SQL, type SQLWrapper, sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { bytea, users } from '../auth/schema.ts';
import { AEAD_FORMAT_V1 } from '../crypto/aead.ts';
import { FIELD_FORMAT_V1, FIELD_HEADER_BYTES, FIELD_OVERHEAD_BYTES } from '../crypto/field-cipher.ts';
import { workspaces } from '../settings/schema.ts';

/** Wrapped per-workspace data keys (docs/security.md §2). Nothing secret in a row. */
export const dataKeys = pgTable(
  'data_keys',
  {
    workspaceId: integer('workspace_id')
      .notNull()
      .references(() => workspaces.id),
    purpose: text('purpose').$type<'field' | 'blind-index'>().notNull(),
    version: integer('version').notNull(),
    wrappedKey: bytea('wrapped_key').notNull(),
    masterKeyId: text('master_key_id').notNull(),
    state: text('state').$type<'active' | 'retiring' | 'retired'>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.purpose, t.version] }),
    uniqueIndex('data_keys_one_active').on(t.workspaceId, t.purpose).where(sql`state = 'active'`),
  ],
);

/** A field-key rotation: progress of the background re-encryption sweep. */
export const keyRotations = pgTable('key_rotations', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  workspaceId: integer('workspace_id').notNull(),
  fromVersion: integer('from_version').notNull(),
  toVersion: integer('to_version').notNull(),
  state: text('state').$type<'running' | 'completed' | 'failed'>().notNull(),
  total: bigint('total', { mode: 'number' }).notNull().default(0),
  done: bigint('done', { mode: 'number' }).notNull().default(0),
  error: text('error'),
  startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  finishedAt: timestamp('finished_at', { withTimezone: true }),
});

export const attributeTypes = ['text', 'number', 'date', 'boolean', 'enum'] as const;

export const attributeDefinitions = pgTable(
  'attribute_definitions',
  {
    workspaceId: integer('workspace_id').notNull(),
    key: text('key').notNull(),
    label: text('label').notNull(),
    type: text('type').$type<(typeof attributeTypes)[number]>().notNull(),
    options: text('options').array().notNull().default(sql`'{}'::text[]`),
    sensitive: boolean('sensitive').notNull().default(false),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.key] })],
);

export const companies = pgTable(
  'companies',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    workspaceId: integer('workspace_id').notNull(),
    name: text('name').notNull(),
    domain: text('domain'),
    attributes: jsonb('attributes').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('companies_ws_domain_idx').on(t.workspaceId, t.domain)],
);

const n = (v: number) => sql.raw(String(v));

/**
 * Plaintext length in bytes of an `email_enc` ciphertext (rows written before migration 0023) in the current field
 * format (AES-GCM keeps lengths, so it is the ciphertext length minus the fixed overhead), or -1 for any other
 * format. The email probe index carries the email's length as a key (emailLengthKey: `email_length`, else this),
 * so exact lookups and the import's duplicate probe skip candidates of another length inside the index instead of
 * reading their rows (at 1,000,000 contacts a gmail.com address shares its index pair with ~19 others). Queries
 * must use the same expression to match the index, and ask for -1 as well, so a value in a future format is
 * always a candidate. Nested CASE: PostgreSQL does
 * not promise to evaluate AND left to right, and get_byte past the end is an error. The length is no
 * secret: anyone who can read the column sees it (docs/security.md §5).
 */
export function emailBytes(emailEnc: SQLWrapper): SQL {
  return sql`(CASE WHEN octet_length(${emailEnc}) < ${n(FIELD_OVERHEAD_BYTES)} THEN -1
    WHEN get_byte(${emailEnc}, 0) <> ${n(FIELD_FORMAT_V1)} OR get_byte(${emailEnc}, ${n(FIELD_HEADER_BYTES)}) <> ${n(AEAD_FORMAT_V1)} THEN -1
    ELSE octet_length(${emailEnc}) - ${n(FIELD_OVERHEAD_BYTES)} END)`;
}

/**
 * The probe index's length key: the email's UTF-8 length, from `email_length` where the email is sealed in the
 * contact's record (profile.ts), else read off the `email_enc` ciphertext (emailBytes; -1 for a format it cannot
 * read). Queries must use this same expression to match the index.
 */
export function emailLengthKey(emailLength: SQLWrapper, emailEnc: SQLWrapper): SQL {
  return sql`coalesce(${emailLength}, ${emailBytes(emailEnc)})`;
}

/**
 * The tags index's predicate (contacts without tags are not in it). A query on tags must include this condition,
 * as written here, for the planner to use the index: `tags @> …` alone does not prove it.
 */
export function tagsIndexed(tags: SQLWrapper): SQL {
  return sql`${tags} <> '{}'::text[]`;
}

export const contacts = pgTable(
  'contacts',
  {
    /** UUIDv7 generated by the application: the AAD needs the id before the insert. */
    id: uuid('id').primaryKey(),
    workspaceId: integer('workspace_id').notNull(),
    /** Field-key version of every *_enc column of the row (rotation sweeps on it). */
    keyVersion: integer('key_version').notNull(),
    /**
     * The email as its own value: rows written before migration 0023 (profile.ts). NULL in rows whose email is
     * sealed in their record (profile_enc), which have `email_length` instead.
     */
    emailEnc: bytea('email_enc'),
    /** UTF-8 length of the email sealed in the record (not secret: the ciphertext's length shows it too). */
    emailLength: smallint('email_length'),
    emailBidx: integer('email_bidx').notNull(),
    emailDomainBidx: integer('email_domain_bidx').notNull(),
    /**
     * Bit layout of the row's blind indexes (vault.ts BIDX_LAYOUT): 1 = email 10 bits (before migration 0010),
     * 2 = current. Rows still at 1 are recomputed by the re-index sweep (reindex.ts); lookups query both meanwhile.
     */
    bidxLayout: smallint('bidx_layout').notNull().default(1),
    firstNameEnc: bytea('first_name_enc'),
    lastNameEnc: bytea('last_name_enc'),
    phoneEnc: bytea('phone_enc'),
    phoneBidx: integer('phone_bidx'),
    notesEnc: bytea('notes_enc'),
    /** JSON object of the sensitive custom attributes, encrypted as one field. */
    sensitiveEnc: bytea('sensitive_enc'),
    /**
     * The contact's record: email, names, phone, notes and sensitive attributes sealed as one value (profile.ts;
     * from migration 0019 to 0022 without the email). Rows written before migration 0019 have it NULL and use the
     * per-column values above, which every write now clears.
     */
    profileEnc: bytea('profile_enc'),
    /** Non-sensitive custom attributes, plaintext. */
    attributes: jsonb('attributes').$type<Record<string, unknown>>().notNull().default({}),
    jobTitle: text('job_title'),
    country: text('country'),
    timeZone: text('time_zone'),
    companyId: bigint('company_id', { mode: 'number' }).references(() => companies.id, {
      onDelete: 'set null',
    }),
    ownerUserId: bigint('owner_user_id', { mode: 'number' }).references(() => users.id, {
      onDelete: 'set null',
    }),
    tags: text('tags').array().notNull().default(sql`'{}'::text[]`),
    /** Import that created the contact: its timeline shows the import without one activity row per contact. */
    importId: uuid('import_id'),
    /**
     * The import run (contact_import_run_seq) that inserted the row, as long as nobody has written the row since;
     * 0 otherwise (every update sets it to 0). The last key of the email probe index: a running import's duplicate
     * probe skips its own untouched rows inside the index (`import_run <> run` as two ranges) instead of reading
     * each candidate's heap tuple to find out (import-store.ts emailProbeSql).
     */
    importRun: bigint('import_run', { mode: 'number' }).notNull().default(0),
    /** Address is on the suppression list (set when created/imported while suppressed). */
    suppressed: boolean('suppressed').notNull().default(false),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    // Exact lookups and the import's duplicate probe: blind-index pair, layout, the email's length (emailLengthKey),
    // then the import run that inserted the row (importRun). The domain comes first so that the index also serves
    // lookups by domain (segments' `email domain is`): every index costs each imported row an insertion (~3–4 µs of
    // the server's CPU at 200,000 contacts, docs/contacts.md), and a domain-only index was one more.
    index('contacts_email_probe_idx').on(
      t.workspaceId,
      t.emailDomainBidx,
      t.emailBidx,
      t.bidxLayout,
      emailLengthKey(sql.raw('email_length'), sql.raw('email_enc')),
      t.importRun,
    ),
    // Where the email is: its own value (email_enc) or the record's, whose length is then stored (profile.ts).
    check(
      'contacts_email_form_check',
      sql`(email_enc IS NULL) <> (email_length IS NULL) AND (email_enc IS NOT NULL OR profile_enc IS NOT NULL)`,
    ),
    // Emails in a format emailBytes cannot measure (-1; none today): the import's probe asks for them only when this
    // index is not empty.
    index('contacts_email_other_format_idx')
      .on(t.workspaceId)
      .where(sql`${emailBytes(sql.raw('email_enc'))} = -1`),
    // Rows not yet re-indexed: the sweep and the legacy branch of email lookups; empty once the sweep is done.
    index('contacts_email_bidx_legacy_idx')
      .on(t.workspaceId, t.emailBidx, t.emailDomainBidx)
      .where(sql`bidx_layout = 1`),
    // Sparse columns are indexed only where set: an import without phones, owner or tags adds no entries to them.
    // `owner_user_id = $1` implies the predicate; tag queries state `tags <> '{}'` (tagsIndexed) so the planner
    // can use the index. No index on key_version: rotation selects `key_version <> active` along the primary key.
    index('contacts_phone_bidx_idx').on(t.workspaceId, t.phoneBidx).where(sql`phone_bidx IS NOT NULL`),
    index('contacts_owner_idx').on(t.workspaceId, t.ownerUserId).where(sql`owner_user_id IS NOT NULL`),
    index('contacts_tags_idx').using('gin', t.tags).where(tagsIndexed(sql.raw('tags'))),
  ],
);

export const contactLists = pgTable(
  'contact_lists',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    workspaceId: integer('workspace_id').notNull(),
    name: text('name').notNull(),
    description: text('description'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('contact_lists_name_idx').on(t.workspaceId, t.name)],
);

/**
 * Static list membership. Its integrity is kept set-wise rather than by foreign keys (migration 0020): a
 * foreign key checks every inserted row with a trigger call and a locking probe of each parent, ~10 of the
 * ~13 µs a row costs the server in a list import, when every writer here already holds its parents. So:
 * - writers lock the parents `FOR KEY SHARE` in the statements that insert (lockList, addListMembers, the
 *   import's batch, a segment snapshot): what the foreign key's check did, so a list or contact deleted
 *   concurrently cannot leave an orphan behind;
 * - deleting contacts or lists removes their memberships in one statement-level trigger per DELETE
 *   (transition tables), and a TRUNCATE of either empties the table.
 */
export const listMembers = pgTable(
  'list_members',
  {
    listId: bigint('list_id', { mode: 'number' }).notNull(),
    contactId: uuid('contact_id').notNull(),
    addedAt: timestamp('added_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.listId, t.contactId] }),
    index('list_members_contact_idx').on(t.contactId),
  ],
);

export const consentStates = ['subscribed', 'pending', 'unsubscribed'] as const;
export type ConsentState = (typeof consentStates)[number];

/** Consent history: one row per change; the latest row per (contact, purpose) is the current state. */
export const contactConsents = pgTable(
  'contact_consents',
  {
    id: uuid('id').primaryKey(),
    workspaceId: integer('workspace_id').notNull(),
    contactId: uuid('contact_id')
      .notNull()
      .references(() => contacts.id, { onDelete: 'cascade' }),
    purpose: text('purpose').notNull(),
    state: text('state').$type<ConsentState>().notNull(),
    source: text('source').notNull(),
    keyVersion: integer('key_version').notNull(),
    /** Encrypted JSON evidence: IP, form, import file, user agent. */
    evidenceEnc: bytea('evidence_enc').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    confirmedAt: timestamp('confirmed_at', { withTimezone: true }),
  },
  (t) => [index('contact_consents_contact_idx').on(t.contactId, t.purpose, t.at)],
);

/**
 * Current consent per (contact, purpose): the latest contact_consents row by
 * (at, id). Kept by a statement-level trigger on contact_consents (migration
 * 0009_segments_consent_current), so every write path — service, import, raw
 * SQL — maintains it, and segment filters join it (hash/merge join) instead of
 * sorting the history once per contact.
 */
export const contactConsentCurrent = pgTable(
  'contact_consent_current',
  {
    contactId: uuid('contact_id')
      .notNull()
      .references(() => contacts.id, { onDelete: 'cascade' }),
    purpose: text('purpose').notNull(),
    state: text('state').$type<ConsentState>().notNull(),
    consentId: uuid('consent_id').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.contactId, t.purpose] })],
);

export const suppressionReasons = ['unsubscribed', 'hard_bounced', 'complained', 'erased', 'manual'] as const;
export type SuppressionReason = (typeof suppressionReasons)[number];

/**
 * Suppression list, keyed by a full-length (256-bit) keyed hash of the
 * normalised email — a blind index that is deliberately not truncated, because
 * a suppression must never hit an unrelated address (docs/contacts.md).
 */
export const suppressions = pgTable(
  'suppressions',
  {
    workspaceId: integer('workspace_id').notNull(),
    emailHash: bytea('email_hash').notNull(),
    /** Blind-index key version the hash was computed under. */
    indexVersion: integer('index_version').notNull(),
    reason: text('reason').$type<SuppressionReason>().notNull(),
    note: text('note'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.emailHash] })],
);

export const activityKinds = [
  'note',
  'call',
  'import',
  'consent',
  'export',
  'mail',
  'created',
  'updated',
] as const;
export type ActivityKind = (typeof activityKinds)[number];

export const contactActivities = pgTable(
  'contact_activities',
  {
    id: uuid('id').primaryKey(),
    workspaceId: integer('workspace_id').notNull(),
    contactId: uuid('contact_id')
      .notNull()
      .references(() => contacts.id, { onDelete: 'cascade' }),
    kind: text('kind').$type<ActivityKind>().notNull(),
    /** Non-PII details (import id, export id, consent purpose/state, mail event). */
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
    keyVersion: integer('key_version'),
    /** Free text (note or call summary), encrypted. */
    bodyEnc: bytea('body_enc'),
    actorUserId: bigint('actor_user_id', { mode: 'number' }),
    actorLabel: text('actor_label'),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('contact_activities_contact_idx').on(t.contactId, t.at)],
);

export const contactImports = pgTable('contact_imports', {
  id: uuid('id').primaryKey(),
  workspaceId: integer('workspace_id').notNull(),
  state: text('state').$type<'created' | 'running' | 'completed' | 'failed'>().notNull(),
  filename: text('filename').notNull(),
  format: text('format').$type<'csv' | 'jsonl'>().notNull(),
  /** mapping, listId, onDuplicate, consent, defaultCountry: no PII. */
  options: jsonb('options').$type<Record<string, unknown>>().notNull(),
  /** Source rows (good + bad) committed: a resumed import skips this many. */
  rowsDone: bigint('rows_done', { mode: 'number' }).notNull().default(0),
  inserted: bigint('inserted', { mode: 'number' }).notNull().default(0),
  updated: bigint('updated', { mode: 'number' }).notNull().default(0),
  skipped: bigint('skipped', { mode: 'number' }).notNull().default(0),
  failed: bigint('failed', { mode: 'number' }).notNull().default(0),
  suppressed: bigint('suppressed', { mode: 'number' }).notNull().default(0),
  error: text('error'),
  createdBy: text('created_by'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  finishedAt: timestamp('finished_at', { withTimezone: true }),
});

/** Rejected import rows. `raw` is the source text (PII), encrypted. */
export const contactImportErrors = pgTable(
  'contact_import_errors',
  {
    id: uuid('id').primaryKey(),
    importId: uuid('import_id')
      .notNull()
      .references(() => contactImports.id, { onDelete: 'cascade' }),
    line: integer('line').notNull(),
    reason: text('reason').notNull(),
    keyVersion: integer('key_version').notNull(),
    rawEnc: bytea('raw_enc').notNull(),
  },
  (t) => [index('contact_import_errors_import_idx').on(t.importId, t.line)],
);

/**
 * Monitoring hook outbox: security-relevant events (exports, erasures) for the
 * monitoring domain to consume later. Written by `emitMonitoringEvent`.
 */
export const monitoringOutbox = pgTable('monitoring_outbox', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  kind: text('kind').notNull(),
  actorType: text('actor_type').notNull(),
  actorId: text('actor_id'),
  details: jsonb('details').$type<Record<string, unknown>>().notNull(),
  consumedAt: timestamp('consumed_at', { withTimezone: true }),
});
