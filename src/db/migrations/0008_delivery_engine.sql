CREATE TABLE "transactional_messages" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"workspace_id" integer NOT NULL,
	"api_key_id" bigint,
	"idempotency_key" text,
	"request_hash" text NOT NULL,
	"message_id" text NOT NULL,
	"envelope_from" text NOT NULL,
	"recipient_domain" text NOT NULL,
	"payload_enc" "bytea" NOT NULL,
	"size" integer NOT NULL,
	"state" text DEFAULT 'queued' NOT NULL,
	"send_at" timestamp with time zone DEFAULT now() NOT NULL,
	"attempts" smallint DEFAULT 0 NOT NULL,
	"lease_until" timestamp with time zone,
	"worker" text,
	"sent_at" timestamp with time zone,
	"last_code" smallint,
	"last_response" text,
	"relay" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "campaign_recipients" ADD COLUMN "attempts" smallint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "campaign_recipients" ADD COLUMN "lease_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "campaign_recipients" ADD COLUMN "worker" text;--> statement-breakpoint
ALTER TABLE "campaign_recipients" ADD COLUMN "sent_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "campaign_recipients" ADD COLUMN "last_code" smallint;--> statement-breakpoint
ALTER TABLE "campaign_recipients" ADD COLUMN "last_response" text;--> statement-breakpoint
ALTER TABLE "campaign_recipients" ADD COLUMN "relay" text;--> statement-breakpoint
ALTER TABLE "campaigns" ADD COLUMN "completed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "engagement_events" ADD COLUMN "automated" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "transactional_messages_idem_idx" ON "transactional_messages" USING btree ("workspace_id","idempotency_key");--> statement-breakpoint
CREATE INDEX "transactional_messages_due_idx" ON "transactional_messages" USING btree ("send_at") WHERE state IN ('queued', 'deferred', 'sending');--> statement-breakpoint
CREATE INDEX "transactional_messages_created_idx" ON "transactional_messages" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "campaign_recipients_due_idx" ON "campaign_recipients" USING btree ("campaign_id","send_at") WHERE state IN ('queued', 'deferred', 'sending');