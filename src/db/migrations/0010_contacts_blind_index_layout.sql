ALTER TABLE "contacts" ADD COLUMN "bidx_layout" smallint DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "contacts" ADD COLUMN "import_id" uuid;--> statement-breakpoint
CREATE INDEX "contacts_email_bidx_legacy_idx" ON "contacts" USING btree ("workspace_id","email_bidx","email_domain_bidx") WHERE bidx_layout = 1;