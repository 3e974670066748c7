DROP INDEX "contacts_email_probe_idx";--> statement-breakpoint
ALTER TABLE "contacts" ADD COLUMN "import_run" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "contacts_email_probe_idx" ON "contacts" USING btree ("workspace_id","email_bidx","email_domain_bidx","bidx_layout",(CASE WHEN octet_length(email_enc) < 34 THEN -1
    WHEN get_byte(email_enc, 0) <> 129 OR get_byte(email_enc, 5) <> 1 THEN -1
    ELSE octet_length(email_enc) - 34 END),"import_run");--> statement-breakpoint
-- One number per import run (a resumed import is a new run): contacts.import_run.
CREATE SEQUENCE "contact_import_run_seq";
