-- Segment compilation (src/segments/compile.ts, docs/campaigns.md): attribute
-- conditions compile to `attributes @> '{"k": v}'` and `attributes ? 'k'`,
-- which a GIN index (default jsonb_ops, which supports both) serves. Kept as a
-- custom migration so the contacts schema file stays the vault's.
CREATE INDEX IF NOT EXISTS "contacts_attributes_gin_idx" ON "contacts" USING gin ("attributes");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "companies_attributes_gin_idx" ON "companies" USING gin ("attributes");
