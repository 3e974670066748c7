-- Fewer index insertions per imported contact (docs/contacts.md, "Indexes of `contacts`"):
-- the probe index leads with the domain and replaces the domain-only index; phone, owner and tags are indexed
-- only where set; key_version had no index-served query (rotation selects `<>` along the primary key).
DROP INDEX "contacts_domain_bidx_idx";--> statement-breakpoint
DROP INDEX "contacts_key_version_idx";--> statement-breakpoint
DROP INDEX "contacts_email_probe_idx";--> statement-breakpoint
DROP INDEX "contacts_phone_bidx_idx";--> statement-breakpoint
DROP INDEX "contacts_owner_idx";--> statement-breakpoint
DROP INDEX "contacts_tags_idx";--> statement-breakpoint
CREATE INDEX "contacts_email_probe_idx" ON "contacts" USING btree ("workspace_id","email_domain_bidx","email_bidx","bidx_layout",(CASE WHEN octet_length(email_enc) < 34 THEN -1
    WHEN get_byte(email_enc, 0) <> 129 OR get_byte(email_enc, 5) <> 1 THEN -1
    ELSE octet_length(email_enc) - 34 END),"import_run");--> statement-breakpoint
CREATE INDEX "contacts_phone_bidx_idx" ON "contacts" USING btree ("workspace_id","phone_bidx") WHERE phone_bidx IS NOT NULL;--> statement-breakpoint
CREATE INDEX "contacts_owner_idx" ON "contacts" USING btree ("workspace_id","owner_user_id") WHERE owner_user_id IS NOT NULL;--> statement-breakpoint
CREATE INDEX "contacts_tags_idx" ON "contacts" USING gin ("tags") WHERE tags <> '{}'::text[];