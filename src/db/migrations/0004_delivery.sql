CREATE TABLE "inbound_reports" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"remote_address" text,
	"envelope_from" text DEFAULT '' NOT NULL,
	"envelope_to" jsonb NOT NULL,
	"raw" "bytea" NOT NULL,
	"size" integer NOT NULL,
	"kind" text NOT NULL,
	"parse_status" text NOT NULL,
	"parse_error" text,
	"summary" jsonb,
	"processed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "outbox_messages" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"message_id" text NOT NULL,
	"envelope_from" text NOT NULL,
	"envelope_to" jsonb NOT NULL,
	"raw" "bytea" NOT NULL,
	"size" integer NOT NULL,
	"from_address" text DEFAULT '' NOT NULL,
	"to_addresses" text DEFAULT '' NOT NULL,
	"subject" text DEFAULT '' NOT NULL,
	"snippet" text DEFAULT '' NOT NULL,
	"campaign_id" bigint,
	"contact_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rate_limit_buckets" (
	"scope" text NOT NULL,
	"unit" text NOT NULL,
	"bucket" bigint NOT NULL,
	"count" integer NOT NULL,
	CONSTRAINT "rate_limit_buckets_scope_unit_bucket_pk" PRIMARY KEY("scope","unit","bucket")
);
--> statement-breakpoint
CREATE INDEX "inbound_reports_received_idx" ON "inbound_reports" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "inbound_reports_status_idx" ON "inbound_reports" USING btree ("parse_status");--> statement-breakpoint
CREATE INDEX "outbox_messages_created_idx" ON "outbox_messages" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "outbox_messages_message_id_idx" ON "outbox_messages" USING btree ("message_id");