DROP INDEX "contacts_email_bidx_idx";--> statement-breakpoint
CREATE INDEX "contacts_email_probe_idx" ON "contacts" USING btree ("workspace_id","email_bidx","email_domain_bidx","bidx_layout",(CASE WHEN octet_length(email_enc) < 34 THEN -1
    WHEN get_byte(email_enc, 0) <> 129 OR get_byte(email_enc, 5) <> 1 THEN -1
    ELSE octet_length(email_enc) - 34 END));--> statement-breakpoint
CREATE INDEX "contacts_email_other_format_idx" ON "contacts" USING btree ("workspace_id") WHERE (CASE WHEN octet_length(email_enc) < 34 THEN -1
    WHEN get_byte(email_enc, 0) <> 129 OR get_byte(email_enc, 5) <> 1 THEN -1
    ELSE octet_length(email_enc) - 34 END) = -1;