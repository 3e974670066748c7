ALTER TABLE "outbox_messages" ALTER COLUMN "envelope_to" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "outbox_messages" ALTER COLUMN "raw" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "outbox_messages" ADD COLUMN "summary_enc" "bytea";--> statement-breakpoint
ALTER TABLE "outbox_messages" ADD COLUMN "raw_enc" "bytea";