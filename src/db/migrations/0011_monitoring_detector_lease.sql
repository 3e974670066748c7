DROP INDEX "security_events_ip_idx";--> statement-breakpoint
-- Existing events were all seen by a monitor: true for them (no rewrite, no entries in the partial index), false for new rows.
ALTER TABLE "security_events" ADD COLUMN "seen" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "security_events" ALTER COLUMN "seen" SET DEFAULT false;--> statement-breakpoint
CREATE INDEX "security_events_unseen_idx" ON "security_events" USING btree ("id") WHERE NOT "security_events"."seen";--> statement-breakpoint
CREATE INDEX "security_events_ip_idx" ON "security_events" USING btree ("ip","at") WHERE "security_events"."ip" IS NOT NULL;
