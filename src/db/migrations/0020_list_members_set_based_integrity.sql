ALTER TABLE "list_members" DROP CONSTRAINT "list_members_list_id_contact_lists_id_fk";
--> statement-breakpoint
ALTER TABLE "list_members" DROP CONSTRAINT "list_members_contact_id_contacts_id_fk";
--> statement-breakpoint
-- What the dropped foreign keys' ON DELETE CASCADE did, one statement per DELETE instead of one trigger call per
-- row (schema.ts listMembers says why). Writers lock parents FOR KEY SHARE themselves.
CREATE FUNCTION list_members_forget_contacts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM list_members m USING gone g WHERE m.contact_id = g.id;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER contacts_forget_list_members AFTER DELETE ON contacts
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION list_members_forget_contacts();
--> statement-breakpoint
CREATE FUNCTION list_members_forget_lists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM list_members m USING gone g WHERE m.list_id = g.id;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER contact_lists_forget_list_members AFTER DELETE ON contact_lists
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION list_members_forget_lists();
--> statement-breakpoint
-- TRUNCATE of a parent (which the foreign keys refused without CASCADE) empties the memberships with it.
CREATE FUNCTION list_members_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE list_members;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER contacts_truncate_list_members AFTER TRUNCATE ON contacts
  FOR EACH STATEMENT EXECUTE FUNCTION list_members_truncate();
--> statement-breakpoint
CREATE TRIGGER contact_lists_truncate_list_members AFTER TRUNCATE ON contact_lists
  FOR EACH STATEMENT EXECUTE FUNCTION list_members_truncate();
