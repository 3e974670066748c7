// Campaigns, their frozen recipient ledger, engagement events, sending domains
// and DKIM keys, and the workspace's campaign settings (postal address,
// blast-radius threshold, DLP patterns).
import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, index, integer, jsonb, pgTable, primaryKey, smallint, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { bytea } from '../auth/schema.ts';
import { segments } from '../segments/schema.ts';
import { templates } from '../templates/schema.ts';
import type { WorkspacePattern } from './dlp.ts';
import type { GuardrailResult } from './guardrails.ts';

export const campaignStates = ['draft', 'in_review', 'approved', 'scheduled', 'sending', 'paused', 'completed', 'cancelled'] as const;
export type CampaignState = (typeof campaignStates)[number];

export type CampaignSchedule = { mode: 'now' } | { mode: 'at'; at: string } | { mode: 'local_time'; localTime: string; date: string; fallbackTimeZone: string };

export const campaignSettings = pgTable('campaign_settings', {
  workspaceId: integer('workspace_id').primaryKey(),
  postalAddress: text('postal_address'),
  blastRadius: integer('blast_radius').notNull().default(10_000),
  dlpPatterns: jsonb('dlp_patterns').$type<WorkspacePattern[]>().notNull().default([]),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export const sendingDomains = pgTable(
  'sending_domains',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    workspaceId: integer('workspace_id').notNull(),
    domain: text('domain').notNull(),
    verified: boolean('verified').notNull().default(false),
    verifiedAt: timestamp('verified_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('sending_domains_domain_idx').on(t.workspaceId, t.domain)],
);

export const dkimKeys = pgTable(
  'dkim_keys',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    domainId: bigint('domain_id', { mode: 'number' })
      .notNull()
      .references(() => sendingDomains.id, { onDelete: 'cascade' }),
    selector: text('selector').notNull(),
    algorithm: text('algorithm').$type<'rsa-sha256' | 'ed25519-sha256'>().notNull(),
    /** The TXT record value to publish at `<selector>._domainkey.<domain>`. */
    txt: text('txt').notNull(),
    /** PKCS#8 PEM sealed with deriveKey(master, 'dkim-keys'), AAD `dkim:<domain>:<selector>`. */
    privateKeyEnc: bytea('private_key_enc').notNull(),
    state: text('state').$type<'active' | 'retired'>().notNull().default('active'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('dkim_keys_selector_idx').on(t.domainId, t.selector)],
);

export const campaigns = pgTable(
  'campaigns',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    workspaceId: integer('workspace_id').notNull(),
    name: text('name').notNull(),
    state: text('state').$type<CampaignState>().notNull().default('draft'),
    templateId: bigint('template_id', { mode: 'number' }).references(() => templates.id),
    segmentId: bigint('segment_id', { mode: 'number' }).references(() => segments.id),
    sendingDomainId: bigint('sending_domain_id', { mode: 'number' }).references(() => sendingDomains.id),
    fromName: text('from_name').notNull().default(''),
    fromLocalPart: text('from_local_part').notNull().default('news'),
    replyTo: text('reply_to'),
    tracking: boolean('tracking').notNull().default(true),
    schedule: jsonb('schedule').$type<CampaignSchedule>().notNull().default({ mode: 'now' }),
    authorUserId: bigint('author_user_id', { mode: 'number' }),
    approvedByUserId: bigint('approved_by_user_id', { mode: 'number' }),
    approvedAt: timestamp('approved_at', { withTimezone: true }),
    /** The last guardrail run (review or launch). */
    guardrails: jsonb('guardrails').$type<GuardrailResult[]>(),
    recipientCount: integer('recipient_count'),
    launchedAt: timestamp('launched_at', { withTimezone: true }),
    completedAt: timestamp('completed_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('campaigns_ws_state_idx').on(t.workspaceId, t.state), index('campaigns_launched_idx').on(t.workspaceId, t.launchedAt)],
);

export const campaignAttachments = pgTable('campaign_attachments', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  campaignId: bigint('campaign_id', { mode: 'number' })
    .notNull()
    .references(() => campaigns.id, { onDelete: 'cascade' }),
  filename: text('filename').notNull(),
  contentType: text('content_type').notNull(),
  content: bytea('content').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Delivery states of one ledger row (docs/delivery.md has the state diagram). */
export const deliveryStates = ['queued', 'sending', 'sent', 'deferred', 'failed', 'bounced', 'suppressed', 'cancelled'] as const;
export type DeliveryState = (typeof deliveryStates)[number];

/**
 * The recipient ledger: one row per campaign × contact, frozen at launch by one
 * INSERT … SELECT, and the delivery engine's work queue at the same time: a
 * worker claims due rows with FOR UPDATE SKIP LOCKED and a lease (state
 * 'sending', lease_until); a row whose lease ran out (its worker died) is
 * claimed again. No foreign key to contacts on purpose: an erased contact's
 * ledger row holds no PII, and a FK check per row would halve materialisation.
 */
export const campaignRecipients = pgTable(
  'campaign_recipients',
  {
    // No foreign key to campaigns either: its per-row check was half the cost of
    // materialising a million recipients (bench/segments), and campaigns are
    // cancelled, never deleted; launch holds the campaign row's lock.
    campaignId: bigint('campaign_id', { mode: 'number' }).notNull(),
    contactId: uuid('contact_id').notNull(),
    state: text('state').$type<DeliveryState>().notNull().default('queued'),
    /** Not before: the scheduled time (local-time campaigns differ per recipient), then the next retry. */
    sendAt: timestamp('send_at', { withTimezone: true }),
    /** Claims so far (a claim whose worker died counts too). */
    attempts: smallint('attempts').notNull().default(0),
    /** While state = 'sending': until when the claiming worker owns the row. */
    leaseUntil: timestamp('lease_until', { withTimezone: true }),
    worker: text('worker'),
    sentAt: timestamp('sent_at', { withTimezone: true }),
    /** Last SMTP reply (code and text) or the reason for suppression/cancellation. */
    lastCode: smallint('last_code'),
    lastResponse: text('last_response'),
    relay: text('relay'),
  },
  (t) => [
    primaryKey({ columns: [t.campaignId, t.contactId] }),
    // Only the rows still to do are indexed, so claiming stays cheap however many are done. The key is
    // coalesce(send_at, -infinity) (no send_at = due now) so that "due" is one index range and the claim
    // (ledger.ts) reads the rows in key order and stops at its LIMIT; on (campaign_id, send_at) with
    // `send_at IS NULL OR send_at <= now()` the planner sorted every due row of the campaign per claim.
    index('campaign_recipients_due_idx')
      .on(t.campaignId, sql`coalesce(${t.sendAt}, '-infinity'::timestamptz)`)
      .where(sql`state IN ('queued', 'deferred', 'sending')`),
  ],
);

export const engagementTypeCodes = { received: 1, opened: 2, clicked: 3, bounced: 4, unsubscribed: 5, complained: 6 } as const;

/**
 * Engagement events: campaign × contact × type × time. Narrow on purpose (it is
 * the biggest table): type is a smallint code (engagementTypeCodes).
 */
export const engagementEvents = pgTable(
  'engagement_events',
  {
    campaignId: bigint('campaign_id', { mode: 'number' }).notNull(),
    contactId: uuid('contact_id').notNull(),
    type: smallint('type').notNull(),
    /** Opens and clicks by security scanners and prefetchers (automation.ts): kept, reported apart, ignored by segments. */
    automated: boolean('automated').notNull().default(false),
    at: timestamp('at', { withTimezone: true }).notNull().default(sql`now()`),
  },
  // Segments read human events by (type, at) through the partial index engagement_events_human_type_at_idx
  // (migration 0009, WHERE NOT automated); the full (type, at, contact_id) index it replaced went in 0015.
  (t) => [index('engagement_events_contact_idx').on(t.contactId, t.type, t.at), index('engagement_events_campaign_idx').on(t.campaignId, t.type)],
);
