-- The audit trail is append-only for the application: updates and deletes are
-- refused by the database itself. (Someone with DDL rights can still disable the
-- trigger; the hash chain is what makes such tampering evident.)
CREATE OR REPLACE FUNCTION audit_log_refuse_change() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
--> statement-breakpoint
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
--> statement-breakpoint
INSERT INTO workspaces (id, name, settings) VALUES (1, 'Default workspace', '{}'::jsonb) ON CONFLICT DO NOTHING;
