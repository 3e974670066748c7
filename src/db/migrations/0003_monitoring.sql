CREATE TABLE "alert_responses" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"alert_id" bigint NOT NULL,
	"action" text NOT NULL,
	"target" text NOT NULL,
	"automatic" integer DEFAULT 0 NOT NULL,
	"state" text NOT NULL,
	"undo" jsonb NOT NULL,
	"result" text,
	"applied_by" text NOT NULL,
	"applied_at" timestamp with time zone DEFAULT now() NOT NULL,
	"reverted_by" text,
	"reverted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "monitoring_alerts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"detector" text NOT NULL,
	"severity" text NOT NULL,
	"entity_type" text NOT NULL,
	"entity" text NOT NULL,
	"title" text NOT NULL,
	"state" text DEFAULT 'open' NOT NULL,
	"first_seen" timestamp with time zone NOT NULL,
	"last_seen" timestamp with time zone NOT NULL,
	"event_count" integer NOT NULL,
	"evidence" jsonb NOT NULL,
	"details" jsonb NOT NULL,
	"notes" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "monitoring_settings" (
	"workspace_id" integer PRIMARY KEY NOT NULL,
	"config" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "notifications" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"channel" text NOT NULL,
	"recipient" text NOT NULL,
	"subject" text NOT NULL,
	"body" text NOT NULL,
	"payload" jsonb NOT NULL,
	"alert_id" bigint,
	"severity" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "security_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"type" text NOT NULL,
	"source" text NOT NULL,
	"actor_type" text,
	"actor_id" text,
	"actor" text,
	"target" text,
	"outcome" text,
	"ip" text,
	"user_agent" text,
	"country" text,
	"city" text,
	"lat" double precision,
	"lon" double precision,
	"asn" integer,
	"size" bigint,
	"count" integer,
	"details" jsonb NOT NULL
);
--> statement-breakpoint
ALTER TABLE "alert_responses" ADD CONSTRAINT "alert_responses_alert_id_monitoring_alerts_id_fk" FOREIGN KEY ("alert_id") REFERENCES "public"."monitoring_alerts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_alert_id_monitoring_alerts_id_fk" FOREIGN KEY ("alert_id") REFERENCES "public"."monitoring_alerts"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "alert_responses_alert_idx" ON "alert_responses" USING btree ("alert_id");--> statement-breakpoint
CREATE INDEX "monitoring_alerts_last_seen_idx" ON "monitoring_alerts" USING btree ("last_seen");--> statement-breakpoint
CREATE INDEX "monitoring_alerts_group_idx" ON "monitoring_alerts" USING btree ("detector","entity_type","entity","last_seen");--> statement-breakpoint
CREATE INDEX "notifications_pending_idx" ON "notifications" USING btree ("channel","status","id");--> statement-breakpoint
CREATE INDEX "security_events_at_idx" ON "security_events" USING btree ("at");--> statement-breakpoint
CREATE INDEX "security_events_actor_idx" ON "security_events" USING btree ("actor","at");--> statement-breakpoint
CREATE INDEX "security_events_ip_idx" ON "security_events" USING btree ("ip","at");--> statement-breakpoint
-- Security events are append-only: updates are refused, and deletes only pass
-- inside the retention prune, which sets mailwarden.events_prune for its transaction.
CREATE OR REPLACE FUNCTION security_events_refuse_change() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('mailwarden.events_prune', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'security_events is append-only (deletes only through the retention prune)';
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER security_events_append_only BEFORE UPDATE OR DELETE ON security_events
  FOR EACH ROW EXECUTE FUNCTION security_events_refuse_change();
