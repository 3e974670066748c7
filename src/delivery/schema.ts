// Delivery building blocks: the built-in outbox (mail captured when no relay is
// configured), inbound DSN/ARF reports (kept even when unparseable) and the
// cross-process rate-limit buckets. The per-campaign recipient ledger, campaigns,
// sending domains and DKIM keys belong to the campaigns module.
import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, index, integer, jsonb, pgTable, primaryKey, smallint, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { bytea } from '../auth/schema.ts';

/**
 * One captured message: the exact bytes a relay would have received. What
 * identifies or addresses a customer (the message, recipients, subject, snippet)
 * is sealed under the master key's `outbox` sub-key (outbox.ts): captured mail
 * holds the same customer data as the vault, so it is encrypted like it.
 */
export const outboxMessages = pgTable(
  'outbox_messages',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    messageId: text('message_id').notNull(),
    /** The VERP return path: opaque ids, no customer data. */
    envelopeFrom: text('envelope_from').notNull(),
    /** Sealed JSON { envelopeTo, to, subject, snippet }, AAD `outbox:<id>:summary`. */
    summaryEnc: bytea('summary_enc'),
    /** Sealed message bytes, AAD `outbox:<id>:raw`. */
    rawEnc: bytea('raw_enc'),
    size: integer('size').notNull(),
    /** The sender as shown (the workspace's own address), parsed once at capture. */
    fromAddress: text('from_address').notNull().default(''),
    /** Free-form origin (campaign id, transactional message id…), set by the caller. */
    campaignId: bigint('campaign_id', { mode: 'number' }),
    contactId: text('contact_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    // Rows captured before the outbox was sealed (migration 0016) keep their
    // plaintext here until start-up seals them (sealLegacyOutbox); new rows leave them empty.
    raw: bytea('raw'),
    envelopeTo: jsonb('envelope_to').$type<string[]>(),
    toAddresses: text('to_addresses').notNull().default(''),
    subject: text('subject').notNull().default(''),
    snippet: text('snippet').notNull().default(''),
  },
  (t) => [index('outbox_messages_created_idx').on(t.createdAt), index('outbox_messages_message_id_idx').on(t.messageId)],
);

export const inboundReportKinds = ['dsn', 'arf', 'unknown'] as const;
export const inboundParseStatuses = ['parsed', 'unparseable'] as const;

/** Every message the inbound bounce listener accepted, raw, with what parsing made of it. */
export const inboundReports = pgTable(
  'inbound_reports',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
    remoteAddress: text('remote_address'),
    envelopeFrom: text('envelope_from').notNull().default(''),
    envelopeTo: jsonb('envelope_to').$type<string[]>().notNull(),
    raw: bytea('raw').notNull(),
    size: integer('size').notNull(),
    kind: text('kind').$type<(typeof inboundReportKinds)[number]>().notNull(),
    parseStatus: text('parse_status').$type<(typeof inboundParseStatuses)[number]>().notNull(),
    parseError: text('parse_error'),
    /** The parsed report (bounces.ts `Report`), null when unparseable. */
    summary: jsonb('summary').$type<Record<string, unknown>>(),
    /** Set when the ledger has applied the report. */
    processedAt: timestamp('processed_at', { withTimezone: true }),
  },
  (t) => [index('inbound_reports_received_idx').on(t.receivedAt), index('inbound_reports_status_idx').on(t.parseStatus)],
);

/**
 * Sliding-window rate-limit counters shared by every worker process. One row per
 * (scope, unit, sub-window bucket); see rate-limit.ts.
 */
export const rateLimitBuckets = pgTable(
  'rate_limit_buckets',
  {
    scope: text('scope').notNull(),
    unit: text('unit').$type<'second' | 'minute' | 'hour' | 'day'>().notNull(),
    bucket: bigint('bucket', { mode: 'number' }).notNull(),
    count: integer('count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.unit, t.bucket] })],
);

/**
 * Transactional messages from `POST /api/messages`: queued like ledger rows and
 * claimed before campaign traffic. The composed message (it carries personal
 * data) is sealed with deriveKey(master, 'transactional-messages'); only the
 * recipient's domain is in clear, for per-domain rate limits. The idempotency
 * key is unique per workspace while it is younger than 24 h (older keys are
 * cleared before reuse).
 */
export const transactionalMessages = pgTable(
  'transactional_messages',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    workspaceId: integer('workspace_id').notNull(),
    apiKeyId: bigint('api_key_id', { mode: 'number' }),
    idempotencyKey: text('idempotency_key'),
    /** SHA-256 of the canonical request body: the same key with another body is refused. */
    requestHash: text('request_hash').notNull(),
    messageId: text('message_id').notNull(),
    envelopeFrom: text('envelope_from').notNull(),
    recipientDomain: text('recipient_domain').notNull(),
    /** Sealed JSON { to: string[], raw: base64 }. */
    payloadEnc: bytea('payload_enc').notNull(),
    size: integer('size').notNull(),
    state: text('state').$type<'queued' | 'sending' | 'sent' | 'deferred' | 'failed'>().notNull().default('queued'),
    sendAt: timestamp('send_at', { withTimezone: true }).notNull().defaultNow(),
    attempts: smallint('attempts').notNull().default(0),
    leaseUntil: timestamp('lease_until', { withTimezone: true }),
    worker: text('worker'),
    sentAt: timestamp('sent_at', { withTimezone: true }),
    lastCode: smallint('last_code'),
    lastResponse: text('last_response'),
    relay: text('relay'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('transactional_messages_idem_idx').on(t.workspaceId, t.idempotencyKey),
    index('transactional_messages_due_idx')
      .on(t.sendAt)
      .where(sql`state IN ('queued', 'deferred', 'sending')`),
    index('transactional_messages_created_idx').on(t.createdAt),
  ],
);

/**
 * SMTP relays configured per workspace (relays.ts, relay-routes.ts). When a
 * workspace has enabled relays the engine sends through them instead of
 * SMTP_URL. `security` 'none' is only accepted for a loopback host. The password
 * is sealed with deriveKey(master, 'smtp-relays'), AAD `smtp-relay:<id>`, and is
 * never returned by the API. Limits are per relay, shared by every process
 * (rate-limit.ts scope `relay:<id>`).
 */
export const smtpRelays = pgTable(
  'smtp_relays',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    workspaceId: integer('workspace_id').notNull(),
    name: text('name').notNull(),
    host: text('host').notNull(),
    port: integer('port').notNull(),
    security: text('security').$type<'starttls' | 'tls' | 'none'>().notNull().default('starttls'),
    username: text('username'),
    passwordEnc: bytea('password_enc'),
    weight: integer('weight').notNull().default(1),
    enabled: boolean('enabled').notNull().default(true),
    perSecond: integer('per_second'),
    perHour: integer('per_hour'),
    perDay: integer('per_day'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('smtp_relays_name_idx').on(t.workspaceId, t.name)],
);
