// Companies, static lists and custom attribute definitions: the workspace's
// organisation data around contacts (no PII, nothing encrypted).
import { and, asc, eq, sql } from 'drizzle-orm';
import { rows, type Tx } from '../db/client.ts';
import { conflict, fieldError, notFound } from '../http/problem.ts';
import { attributeDefinitions, companies, contactLists, listMembers } from './schema.ts';
import type { AttributeDef } from './service.ts';
import { WORKSPACE_ID } from './vault.ts';

export async function listCompanies(db: Tx) {
  return db
    .select()
    .from(companies)
    .where(eq(companies.workspaceId, WORKSPACE_ID))
    .orderBy(asc(companies.name));
}

export async function createCompany(
  db: Tx,
  input: { name: string; domain?: string | null; attributes?: Record<string, unknown> },
) {
  const [row] = await db
    .insert(companies)
    .values({
      workspaceId: WORKSPACE_ID,
      name: input.name,
      domain: input.domain?.toLowerCase() ?? null,
      attributes: input.attributes ?? {},
    })
    .returning();
  return row;
}

export async function updateCompany(
  db: Tx,
  id: number,
  input: { name?: string; domain?: string | null; attributes?: Record<string, unknown> },
) {
  const [row] = await db
    .update(companies)
    .set({ ...input, domain: input.domain === undefined ? undefined : (input.domain?.toLowerCase() ?? null) })
    .where(and(eq(companies.workspaceId, WORKSPACE_ID), eq(companies.id, id)))
    .returning();
  if (!row) throw notFound('Company');
  return row;
}

export async function deleteCompany(db: Tx, id: number) {
  const [row] = await db
    .delete(companies)
    .where(and(eq(companies.workspaceId, WORKSPACE_ID), eq(companies.id, id)))
    .returning();
  if (!row) throw notFound('Company');
}

export async function listLists(db: Tx) {
  return rows<{ id: number; name: string; description: string | null; members: number; createdAt: Date }>(
    db,
    sql`SELECT l.id, l.name, l.description, l.created_at AS "createdAt", (SELECT count(*)::int FROM list_members m WHERE m.list_id = l.id) AS members
        FROM contact_lists l WHERE l.workspace_id = ${WORKSPACE_ID} ORDER BY l.name`,
  );
}

export async function createList(db: Tx, input: { name: string; description?: string | null }) {
  const [row] = await db
    .insert(contactLists)
    .values({ workspaceId: WORKSPACE_ID, name: input.name, description: input.description ?? null })
    .onConflictDoNothing()
    .returning();
  if (!row) throw conflict('list_exists', `A list named ${input.name} already exists.`);
  return row;
}

/** The list with this name, created if missing (imports). */
export async function ensureList(db: Tx, name: string): Promise<number> {
  await db.insert(contactLists).values({ workspaceId: WORKSPACE_ID, name }).onConflictDoNothing();
  const [row] = await db
    .select({ id: contactLists.id })
    .from(contactLists)
    .where(and(eq(contactLists.workspaceId, WORKSPACE_ID), eq(contactLists.name, name)));
  return row.id;
}

export async function deleteList(db: Tx, id: number) {
  const [row] = await db
    .delete(contactLists)
    .where(and(eq(contactLists.workspaceId, WORKSPACE_ID), eq(contactLists.id, id)))
    .returning();
  if (!row) throw notFound('List');
}

/**
 * Lock a list against deletion until the transaction ends (`FOR KEY SHARE`, what a foreign key's check took):
 * list_members has no foreign keys (schema.ts says why), so its writers lock the parents. False if it is gone.
 */
export async function lockList(tx: Tx, listId: number): Promise<boolean> {
  const r = await rows(tx, sql`SELECT 1 FROM contact_lists WHERE workspace_id = ${WORKSPACE_ID} AND id = ${listId} FOR KEY SHARE`);
  return r.length > 0;
}

export async function addListMembers(db: Tx, listId: number, contactIds: string[]): Promise<number> {
  if (contactIds.length === 0) return 0;
  // One statement, so the locks on the list and on the contacts hold until the rows are in.
  const [r] = await rows<{ lists: number; n: number }>(
    db,
    sql`WITH l AS (SELECT id FROM contact_lists WHERE workspace_id = ${WORKSPACE_ID} AND id = ${listId} FOR KEY SHARE),
        ins AS (INSERT INTO list_members (list_id, contact_id)
          SELECT l.id, c.id FROM l, contacts c WHERE c.workspace_id = ${WORKSPACE_ID} AND c.id = ANY(${sql.param(contactIds)}::uuid[])
          FOR KEY SHARE OF c
          ON CONFLICT DO NOTHING RETURNING 1)
        SELECT (SELECT count(*)::int FROM l) AS lists, (SELECT count(*)::int FROM ins) AS n`,
  );
  if (r.lists === 0) throw notFound('List');
  return r.n;
}

export async function removeListMember(db: Tx, listId: number, contactId: string) {
  await db
    .delete(listMembers)
    .where(and(eq(listMembers.listId, listId), eq(listMembers.contactId, contactId)));
}

export async function listsOfContact(db: Tx, contactId: string) {
  return db
    .select({ id: contactLists.id, name: contactLists.name })
    .from(listMembers)
    .innerJoin(contactLists, eq(contactLists.id, listMembers.listId))
    .where(eq(listMembers.contactId, contactId))
    .orderBy(asc(contactLists.name));
}

export async function createAttributeDef(
  db: Tx,
  input: { key: string; label: string; type: AttributeDef['type']; options?: string[]; sensitive: boolean },
) {
  if (input.type === 'enum' && !input.options?.length)
    throw fieldError('options', 'an enum attribute needs options');
  const [row] = await db
    .insert(attributeDefinitions)
    .values({ workspaceId: WORKSPACE_ID, ...input, options: input.options ?? [] })
    .onConflictDoNothing()
    .returning();
  if (!row) throw conflict('attribute_exists', `Attribute ${input.key} already exists.`);
  return row;
}

export async function deleteAttributeDef(db: Tx, key: string) {
  const [row] = await db
    .delete(attributeDefinitions)
    .where(and(eq(attributeDefinitions.workspaceId, WORKSPACE_ID), eq(attributeDefinitions.key, key)))
    .returning();
  if (!row) throw notFound('Attribute');
}
