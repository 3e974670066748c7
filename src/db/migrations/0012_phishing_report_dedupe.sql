ALTER TABLE "phishing_messages" ADD COLUMN "dedupe_key" text;--> statement-breakpoint
ALTER TABLE "phishing_messages" ADD COLUMN "report_count" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "phishing_messages" ADD COLUMN "reporters" jsonb;--> statement-breakpoint
ALTER TABLE "phishing_messages" ADD COLUMN "reporter_verified" boolean;--> statement-breakpoint
ALTER TABLE "phishing_messages" ADD COLUMN "last_reported_at" timestamp with time zone;--> statement-breakpoint
CREATE UNIQUE INDEX "phishing_messages_dedupe_idx" ON "phishing_messages" USING btree ("workspace_id","dedupe_key");