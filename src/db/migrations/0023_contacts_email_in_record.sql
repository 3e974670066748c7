-- New contacts seal their email inside their record (profile_enc, layout 2; src/contacts/profile.ts): one
-- AES-GCM value per contact instead of two. Existing rows keep email_enc (and read as before) until their next
-- write. The probe index's length key comes from email_length for the new form (schema.ts emailLengthKey).
-- Like 0021 and 0022, the index is rebuilt without CONCURRENTLY: contacts is locked for a few seconds at 1M.
DROP INDEX "contacts_email_probe_idx";--> statement-breakpoint
ALTER TABLE "contacts" ALTER COLUMN "email_enc" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "contacts" ADD COLUMN "email_length" smallint;--> statement-breakpoint
CREATE INDEX "contacts_email_probe_idx" ON "contacts" USING btree ("workspace_id","email_domain_bidx","email_bidx","bidx_layout",coalesce(email_length, (CASE WHEN octet_length(email_enc) < 34 THEN -1
    WHEN get_byte(email_enc, 0) <> 129 OR get_byte(email_enc, 5) <> 1 THEN -1
    ELSE octet_length(email_enc) - 34 END)),"import_run");--> statement-breakpoint
ALTER TABLE "contacts" ADD CONSTRAINT "contacts_email_form_check" CHECK ((email_enc IS NULL) <> (email_length IS NULL) AND (email_enc IS NOT NULL OR profile_enc IS NOT NULL));