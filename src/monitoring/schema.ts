// Activity monitoring: security events (append-only, pruned by retention),
// alerts grouped per incident, automatic/manual responses, notification outbox
// and per-workspace monitoring settings.
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
} from 'drizzle-orm/pg-core';

export const securityEvents = pgTable(
  'security_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: timestamp('at', { withTimezone: true }).notNull(),
    /** Dotted event type, e.g. auth.login.failure, data.export, mail.sent (see events.ts). */
    type: text('type').notNull(),
    /** Where it came from: app (mailwarden itself), api, postfix, jsonl. */
    source: text('source').notNull(),
    actorType: text('actor_type'),
    actorId: text('actor_id'),
    /** User e-mail, API key label or mail sender. */
    actor: text('actor'),
    target: text('target'),
    outcome: text('outcome'),
    ip: text('ip'),
    userAgent: text('user_agent'),
    country: text('country'),
    city: text('city'),
    lat: doublePrecision('lat'),
    lon: doublePrecision('lon'),
    asn: integer('asn'),
    /** Bytes (message or attachment size). */
    size: bigint('size', { mode: 'number' }),
    /** Row or recipient count. */
    count: integer('count'),
    details: jsonb('details').$type<Record<string, unknown>>().notNull(),
    /**
     * True when the process holding the detector lease wrote the event and ran
     * the detectors on it as it did; false rows (written by other processes)
     * are read back by the lease holder (see docs/monitoring.md, several processes).
     */
    seen: boolean('seen').notNull().default(false),
  },
  (t) => [
    index('security_events_at_idx').on(t.at),
    index('security_events_actor_idx').on(t.actor, t.at),
    // Most mail events carry no IP: leaving them out keeps the hot insert cheaper.
    index('security_events_ip_idx').on(t.ip, t.at).where(sql`${t.ip} IS NOT NULL`),
    // Small: only events written outside the lease holder, which it reads back by id.
    index('security_events_unseen_idx').on(t.id).where(sql`NOT ${t.seen}`),
  ],
);

export const alertStates = ['open', 'acknowledged', 'resolved', 'false_positive'] as const;
export type AlertState = (typeof alertStates)[number];
export const severities = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof severities)[number];
export type AlertNote = { at: string; by: string; text: string };

export const monitoringAlerts = pgTable(
  'monitoring_alerts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    detector: text('detector').notNull(),
    severity: text('severity').$type<Severity>().notNull(),
    /** user, ip, asn, api_key, sender, workspace */
    entityType: text('entity_type').notNull(),
    entity: text('entity').notNull(),
    title: text('title').notNull(),
    state: text('state').$type<AlertState>().notNull().default('open'),
    firstSeen: timestamp('first_seen', { withTimezone: true }).notNull(),
    lastSeen: timestamp('last_seen', { withTimezone: true }).notNull(),
    eventCount: integer('event_count').notNull(),
    /** Evidence event ids (the first ones, capped; eventCount has the total). */
    evidence: jsonb('evidence').$type<number[]>().notNull(),
    details: jsonb('details').$type<Record<string, unknown>>().notNull(),
    notes: jsonb('notes').$type<AlertNote[]>().notNull().default(sql`'[]'::jsonb`),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('monitoring_alerts_last_seen_idx').on(t.lastSeen),
    index('monitoring_alerts_group_idx').on(t.detector, t.entityType, t.entity, t.lastSeen),
  ],
);

export const responseActions = [
  'lock_account',
  'revoke_sessions',
  'revoke_api_key',
  'pause_campaigns',
  'require_2fa_reenrol',
] as const;
export type ResponseAction = (typeof responseActions)[number];

export const alertResponses = pgTable(
  'alert_responses',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    alertId: bigint('alert_id', { mode: 'number' })
      .notNull()
      .references(() => monitoringAlerts.id, { onDelete: 'cascade' }),
    action: text('action').$type<ResponseAction>().notNull(),
    target: text('target').notNull(),
    automatic: integer('automatic').notNull().default(0),
    state: text('state').$type<'applied' | 'reverted' | 'failed' | 'noop'>().notNull(),
    /** What is needed to undo it (e.g. the session ids that were revoked). */
    undo: jsonb('undo').$type<Record<string, unknown>>().notNull(),
    result: text('result'),
    appliedBy: text('applied_by').notNull(),
    appliedAt: timestamp('applied_at', { withTimezone: true }).notNull().defaultNow(),
    revertedBy: text('reverted_by'),
    revertedAt: timestamp('reverted_at', { withTimezone: true }),
  },
  (t) => [index('alert_responses_alert_idx').on(t.alertId)],
);

/**
 * Notification outbox. `email` rows wait for the delivery engine (see
 * notify.ts `drainEmailNotifications`); `webhook` rows are sent by the
 * monitoring.webhook pg-boss job.
 */
export const notifications = pgTable(
  'notifications',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    channel: text('channel').$type<'email' | 'webhook'>().notNull(),
    /** E-mail address or webhook URL. */
    recipient: text('recipient').notNull(),
    subject: text('subject').notNull(),
    body: text('body').notNull(),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    alertId: bigint('alert_id', { mode: 'number' }).references(() => monitoringAlerts.id, {
      onDelete: 'set null',
    }),
    severity: text('severity').$type<Severity>().notNull(),
    status: text('status').$type<'pending' | 'sent' | 'failed'>().notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    sentAt: timestamp('sent_at', { withTimezone: true }),
  },
  (t) => [index('notifications_pending_idx').on(t.channel, t.status, t.id)],
);

export const monitoringSettings = pgTable('monitoring_settings', {
  workspaceId: integer('workspace_id').primaryKey(),
  config: jsonb('config').$type<Record<string, unknown>>().notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});
