// Segments: a named rule tree (rules.ts), stored as validated JSON and compiled
// to one SQL statement when used (compile.ts). Static snapshots are contact
// lists (contacts domain) filled by one INSERT … SELECT.
import { bigint, bigserial, index, integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import type { Rule } from './rules.ts';

export const segments = pgTable(
  'segments',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    workspaceId: integer('workspace_id').notNull(),
    name: text('name').notNull(),
    description: text('description'),
    rule: jsonb('rule').$type<Rule>().notNull(),
    createdBy: bigint('created_by', { mode: 'number' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('segments_ws_idx').on(t.workspaceId, t.name)],
);
