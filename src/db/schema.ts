// The one Drizzle schema: every domain's tables, for both PGlite and PostgreSQL.
export * from '../auth/schema.ts';
export * from '../audit/schema.ts';
export * from '../settings/schema.ts';
