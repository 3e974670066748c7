// Email templates: Liquid (strict) over HTML or MJML, an optional hand-written
// text part, and what static analysis found (variables, sensitive fields).
import { bigint, bigserial, integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

export const templates = pgTable('templates', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  workspaceId: integer('workspace_id').notNull(),
  name: text('name').notNull(),
  subject: text('subject').notNull(),
  format: text('format').$type<'html' | 'mjml'>().notNull(),
  body: text('body').notNull(),
  text: text('text'),
  /** Sensitive fields the template reads: a template with any needs an approver. */
  sensitiveFields: text('sensitive_fields').array().notNull().default([]),
  authorUserId: bigint('author_user_id', { mode: 'number' }),
  /** Approval of the sensitive fields (cleared by any edit). */
  approvedByUserId: bigint('approved_by_user_id', { mode: 'number' }),
  approvedAt: timestamp('approved_at', { withTimezone: true }),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * Test sends to seed addresses. The delivery engine is a later issue: this is
 * the outbox it will drain (state 'pending' → 'sent' | 'failed'). Seed
 * addresses are staff addresses typed by the sender, not contacts.
 */
export const templateTestSends = pgTable('template_test_sends', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  workspaceId: integer('workspace_id').notNull(),
  templateId: bigint('template_id', { mode: 'number' })
    .notNull()
    .references(() => templates.id, { onDelete: 'cascade' }),
  campaignId: bigint('campaign_id', { mode: 'number' }),
  toAddress: text('to_address').notNull(),
  subject: text('subject').notNull(),
  html: text('html').notNull(),
  text: text('text').notNull(),
  state: text('state').$type<'pending' | 'sending' | 'sent' | 'failed'>().notNull().default('pending'),
  requestedBy: bigint('requested_by', { mode: 'number' }),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});
