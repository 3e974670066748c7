CREATE TABLE "segments" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"workspace_id" integer NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"rule" jsonb NOT NULL,
	"created_by" bigint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "template_test_sends" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"workspace_id" integer NOT NULL,
	"template_id" bigint NOT NULL,
	"campaign_id" bigint,
	"to_address" text NOT NULL,
	"subject" text NOT NULL,
	"html" text NOT NULL,
	"text" text NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"requested_by" bigint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "templates" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"workspace_id" integer NOT NULL,
	"name" text NOT NULL,
	"subject" text NOT NULL,
	"format" text NOT NULL,
	"body" text NOT NULL,
	"text" text,
	"sensitive_fields" text[] DEFAULT '{}' NOT NULL,
	"author_user_id" bigint,
	"approved_by_user_id" bigint,
	"approved_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "campaign_attachments" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"campaign_id" bigint NOT NULL,
	"filename" text NOT NULL,
	"content_type" text NOT NULL,
	"content" "bytea" NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "campaign_recipients" (
	"campaign_id" bigint NOT NULL,
	"contact_id" uuid NOT NULL,
	"state" text DEFAULT 'queued' NOT NULL,
	"send_at" timestamp with time zone,
	CONSTRAINT "campaign_recipients_campaign_id_contact_id_pk" PRIMARY KEY("campaign_id","contact_id")
);
--> statement-breakpoint
CREATE TABLE "campaign_settings" (
	"workspace_id" integer PRIMARY KEY NOT NULL,
	"postal_address" text,
	"blast_radius" integer DEFAULT 10000 NOT NULL,
	"dlp_patterns" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "campaigns" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"workspace_id" integer NOT NULL,
	"name" text NOT NULL,
	"state" text DEFAULT 'draft' NOT NULL,
	"template_id" bigint,
	"segment_id" bigint,
	"sending_domain_id" bigint,
	"from_name" text DEFAULT '' NOT NULL,
	"from_local_part" text DEFAULT 'news' NOT NULL,
	"reply_to" text,
	"tracking" boolean DEFAULT true NOT NULL,
	"schedule" jsonb DEFAULT '{"mode":"now"}'::jsonb NOT NULL,
	"author_user_id" bigint,
	"approved_by_user_id" bigint,
	"approved_at" timestamp with time zone,
	"guardrails" jsonb,
	"recipient_count" integer,
	"launched_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "dkim_keys" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"domain_id" bigint NOT NULL,
	"selector" text NOT NULL,
	"algorithm" text NOT NULL,
	"txt" text NOT NULL,
	"private_key_enc" "bytea" NOT NULL,
	"state" text DEFAULT 'active' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "engagement_events" (
	"campaign_id" bigint NOT NULL,
	"contact_id" uuid NOT NULL,
	"type" smallint NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sending_domains" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"workspace_id" integer NOT NULL,
	"domain" text NOT NULL,
	"verified" boolean DEFAULT false NOT NULL,
	"verified_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "template_test_sends" ADD CONSTRAINT "template_test_sends_template_id_templates_id_fk" FOREIGN KEY ("template_id") REFERENCES "public"."templates"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaign_attachments" ADD CONSTRAINT "campaign_attachments_campaign_id_campaigns_id_fk" FOREIGN KEY ("campaign_id") REFERENCES "public"."campaigns"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaign_recipients" ADD CONSTRAINT "campaign_recipients_campaign_id_campaigns_id_fk" FOREIGN KEY ("campaign_id") REFERENCES "public"."campaigns"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaigns" ADD CONSTRAINT "campaigns_template_id_templates_id_fk" FOREIGN KEY ("template_id") REFERENCES "public"."templates"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaigns" ADD CONSTRAINT "campaigns_segment_id_segments_id_fk" FOREIGN KEY ("segment_id") REFERENCES "public"."segments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaigns" ADD CONSTRAINT "campaigns_sending_domain_id_sending_domains_id_fk" FOREIGN KEY ("sending_domain_id") REFERENCES "public"."sending_domains"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dkim_keys" ADD CONSTRAINT "dkim_keys_domain_id_sending_domains_id_fk" FOREIGN KEY ("domain_id") REFERENCES "public"."sending_domains"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "segments_ws_idx" ON "segments" USING btree ("workspace_id","name");--> statement-breakpoint
CREATE INDEX "campaigns_ws_state_idx" ON "campaigns" USING btree ("workspace_id","state");--> statement-breakpoint
CREATE INDEX "campaigns_launched_idx" ON "campaigns" USING btree ("workspace_id","launched_at");--> statement-breakpoint
CREATE UNIQUE INDEX "dkim_keys_selector_idx" ON "dkim_keys" USING btree ("domain_id","selector");--> statement-breakpoint
CREATE INDEX "engagement_events_contact_idx" ON "engagement_events" USING btree ("contact_id","type","at");--> statement-breakpoint
CREATE INDEX "engagement_events_type_at_idx" ON "engagement_events" USING btree ("type","at","contact_id");--> statement-breakpoint
CREATE INDEX "engagement_events_campaign_idx" ON "engagement_events" USING btree ("campaign_id","type");--> statement-breakpoint
CREATE UNIQUE INDEX "sending_domains_domain_idx" ON "sending_domains" USING btree ("workspace_id","domain");