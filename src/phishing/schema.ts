// The phishing analyst queue: reported and quarantined messages (raw, as evidence), the
// sender/domain blocklist, and each workspace's learned model adjustment.
import {
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { bytea } from '../auth/schema.ts';
import type { AuthSummary, ModelAdjustment, Reason, WorkspaceConfig } from './types.ts';

export const phishingSources = ['report', 'gateway', 'api'] as const;
export type PhishingSource = (typeof phishingSources)[number];
export type ReporterEntry = { address: string; verified: boolean };

export const phishingStates = ['new', 'confirmed_phishing', 'legitimate', 'released'] as const;
export type PhishingState = (typeof phishingStates)[number];

/** One reported (by an employee) or quarantined (by the gateway) message awaiting or past an analyst's decision. */
export const phishingMessages = pgTable(
  'phishing_messages',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    workspaceId: integer('workspace_id').notNull().default(1),
    source: text('source').$type<PhishingSource>().notNull(),
    /** The scanned message exactly as received (bounded by MAX_STORED_BYTES; `truncated` when cut). */
    raw: bytea('raw').notNull(),
    size: integer('size').notNull(),
    truncated: boolean('truncated').notNull().default(false),
    /** Report mailbox: the employee's report mail itself (bounded), and how the original was found. */
    reportRaw: bytea('report_raw'),
    extraction: text('extraction'),
    reporter: text('reporter'),
    /** SMTP envelope of a gateway message (needed to release it to the next hop). */
    envelopeFrom: text('envelope_from'),
    envelopeTo: jsonb('envelope_to').$type<string[]>(),
    remoteAddress: text('remote_address'),
    messageId: text('message_id'),
    /**
     * Reports (mailbox or API) of the same message are one case: the key is the Message-ID, else a
     * hash of the body. Null for gateway rows (each quarantined delivery has its own envelope).
     */
    dedupeKey: text('dedupe_key'),
    reportCount: integer('report_count').notNull().default(1),
    /** Distinct reporters of this case (at most MAX_REPORTERS), each marked verified staff or not. */
    reporters: jsonb('reporters').$type<ReporterEntry[]>(),
    /** Whether the (first) reporter is known staff: a user's e-mail or a workspace domain. Null for gateway rows. */
    reporterVerified: boolean('reporter_verified'),
    lastReportedAt: timestamp('last_reported_at', { withTimezone: true }),
    subject: text('subject').notNull().default(''),
    fromAddress: text('from_address').notNull().default(''),
    fromName: text('from_name').notNull().default(''),
    senderDomain: text('sender_domain').notNull().default(''),
    score: integer('score').notNull(),
    verdict: text('verdict').$type<'phishing' | 'suspicious' | 'clean'>().notNull(),
    reasons: jsonb('reasons').$type<Reason[]>().notNull(),
    auth: jsonb('auth').$type<AuthSummary>(),
    state: text('state').$type<PhishingState>().notNull().default('new'),
    analyst: text('analyst'),
    note: text('note'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    decidedAt: timestamp('decided_at', { withTimezone: true }),
    releasedAt: timestamp('released_at', { withTimezone: true }),
  },
  (t) => [
    index('phishing_messages_created_idx').on(t.createdAt),
    index('phishing_messages_state_idx').on(t.state, t.createdAt),
    index('phishing_messages_domain_idx').on(t.senderDomain, t.createdAt),
    index('phishing_messages_from_idx').on(t.fromAddress),
    uniqueIndex('phishing_messages_dedupe_idx').on(t.workspaceId, t.dedupeKey),
  ],
);

/** Senders (`kind` sender: a full address) and domains (`kind` domain) whose mail always scores as phishing. */
export const phishingBlocklist = pgTable(
  'phishing_blocklist',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    workspaceId: integer('workspace_id').notNull().default(1),
    kind: text('kind').$type<'sender' | 'domain'>().notNull(),
    value: text('value').notNull(),
    reason: text('reason'),
    createdBy: text('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('phishing_blocklist_value_idx').on(t.workspaceId, t.kind, t.value)],
);

/** Per-workspace scanner state: the analyst-learned adjustment and the workspace configuration. */
export const phishingModels = pgTable('phishing_models', {
  workspaceId: integer('workspace_id').primaryKey(),
  adjustment: jsonb('adjustment').$type<ModelAdjustment>(),
  config: jsonb('config').$type<WorkspaceConfig>().notNull().default({}),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});
