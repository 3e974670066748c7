CREATE TABLE "phishing_blocklist" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"workspace_id" integer DEFAULT 1 NOT NULL,
	"kind" text NOT NULL,
	"value" text NOT NULL,
	"reason" text,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "phishing_messages" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"workspace_id" integer DEFAULT 1 NOT NULL,
	"source" text NOT NULL,
	"raw" "bytea" NOT NULL,
	"size" integer NOT NULL,
	"truncated" boolean DEFAULT false NOT NULL,
	"report_raw" "bytea",
	"extraction" text,
	"reporter" text,
	"envelope_from" text,
	"envelope_to" jsonb,
	"remote_address" text,
	"message_id" text,
	"subject" text DEFAULT '' NOT NULL,
	"from_address" text DEFAULT '' NOT NULL,
	"from_name" text DEFAULT '' NOT NULL,
	"sender_domain" text DEFAULT '' NOT NULL,
	"score" integer NOT NULL,
	"verdict" text NOT NULL,
	"reasons" jsonb NOT NULL,
	"auth" jsonb,
	"state" text DEFAULT 'new' NOT NULL,
	"analyst" text,
	"note" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"decided_at" timestamp with time zone,
	"released_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "phishing_models" (
	"workspace_id" integer PRIMARY KEY NOT NULL,
	"adjustment" jsonb,
	"config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "phishing_blocklist_value_idx" ON "phishing_blocklist" USING btree ("workspace_id","kind","value");--> statement-breakpoint
CREATE INDEX "phishing_messages_created_idx" ON "phishing_messages" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "phishing_messages_state_idx" ON "phishing_messages" USING btree ("state","created_at");--> statement-breakpoint
CREATE INDEX "phishing_messages_domain_idx" ON "phishing_messages" USING btree ("sender_domain","created_at");--> statement-breakpoint
CREATE INDEX "phishing_messages_from_idx" ON "phishing_messages" USING btree ("from_address");