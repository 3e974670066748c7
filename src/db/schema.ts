// The one Drizzle schema: every domain's tables, for both PGlite and PostgreSQL.
export * from '../auth/schema.ts';
export * from '../audit/schema.ts';
export * from '../settings/schema.ts';
export * from '../contacts/schema.ts';
export * from '../monitoring/schema.ts';
export * from '../delivery/schema.ts';
export * from '../segments/schema.ts';
export * from '../templates/schema.ts';
export * from '../campaigns/schema.ts';
export * from '../phishing/schema.ts';
