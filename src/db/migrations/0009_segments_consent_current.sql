CREATE TABLE "contact_consent_current" (
	"contact_id" uuid NOT NULL,
	"purpose" text NOT NULL,
	"state" text NOT NULL,
	"consent_id" uuid NOT NULL,
	"at" timestamp with time zone NOT NULL,
	CONSTRAINT "contact_consent_current_contact_id_purpose_pk" PRIMARY KEY("contact_id","purpose")
);
--> statement-breakpoint
ALTER TABLE "contact_consent_current" ADD CONSTRAINT "contact_consent_current_contact_id_contacts_id_fk" FOREIGN KEY ("contact_id") REFERENCES "public"."contacts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
-- Kept current by a statement-level trigger (transition table), so bulk imports
-- pay one set-based upsert per statement, not one per row. The WHERE keeps the
-- latest row by (at, id) even if an older consent arrives later.
CREATE OR REPLACE FUNCTION contact_consent_current_sync() RETURNS trigger AS $$
BEGIN
  INSERT INTO contact_consent_current AS cur (contact_id, purpose, state, consent_id, at)
    SELECT DISTINCT ON (n.contact_id, n.purpose) n.contact_id, n.purpose, n.state, n.id, n.at
    FROM new_rows n
    ORDER BY n.contact_id, n.purpose, n.at DESC, n.id DESC
  ON CONFLICT (contact_id, purpose) DO UPDATE
    SET state = excluded.state, consent_id = excluded.consent_id, at = excluded.at
    WHERE (excluded.at, excluded.consent_id) > (cur.at, cur.consent_id);
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER contact_consents_current AFTER INSERT ON contact_consents
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION contact_consent_current_sync();
--> statement-breakpoint
-- Backfill from the history (the trigger above holds a lock on contact_consents
-- until this migration commits, so no write slips between the two).
INSERT INTO contact_consent_current (contact_id, purpose, state, consent_id, at)
  SELECT DISTINCT ON (contact_id, purpose) contact_id, purpose, state, id, at
  FROM contact_consents
  ORDER BY contact_id, purpose, at DESC, id DESC;
--> statement-breakpoint
-- Segments ignore automated opens/clicks (scanners, prefetchers): a partial
-- index over human events keeps "opened in the last N days" an index-only scan.
CREATE INDEX IF NOT EXISTS "engagement_events_human_type_at_idx" ON "engagement_events" ("type", "at", "contact_id") WHERE NOT automated;
