// Workspace-wide settings, one row per workspace (self-hosted: usually one).
import { integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

export type WorkspaceSettings = {
  require2fa: boolean;
  sessionIdleMinutes: number;
  sessionAbsoluteHours: number;
};

export const workspaces = pgTable('workspaces', {
  id: integer('id').primaryKey(),
  name: text('name').notNull(),
  settings: jsonb('settings').$type<Partial<WorkspaceSettings>>().notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});
