// Segments: CRUD, live count with exclusion reasons, masked sample, EXPLAIN,
// and freezing as a static list. All counting and freezing is one statement.
import { and, desc, eq, inArray } from 'drizzle-orm';
import type { Actor } from '../audit/service.ts';
import { appendAudit } from '../audit/service.ts';
import type { Keyring } from '../crypto/field-cipher.ts';
import { rows, type Tx } from '../db/client.ts';
import { fieldError, notFound } from '../http/problem.ts';
import { contactLists, contacts } from '../contacts/schema.ts';
import { type Contact, decodeContact, listAttributeDefs } from '../contacts/service.ts';
import { domainLookup, WORKSPACE_ID } from '../contacts/vault.ts';
import type { AudienceCounts } from '../campaigns/guardrails.ts';
import { CompileError, type CompileContext, countQuery, sampleIdsQuery, segmentWhere, snapshotInsert } from './compile.ts';
import type { Rule } from './rules.ts';
import { segments } from './schema.ts';
import { sql } from 'drizzle-orm';

export type Segment = typeof segments.$inferSelect;

export async function compileContext(db: Tx, kr: Keyring): Promise<CompileContext> {
  const defs = await listAttributeDefs(db);
  return { workspaceId: WORKSPACE_ID, attributes: defs, domainLookup: (d) => domainLookup(kr, d) };
}

/** Run a compile step, turning CompileError into a 422 naming the rule's path. */
export function compiled<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CompileError) throw fieldError(err.path, err.message);
    throw err;
  }
}

export async function listSegments(db: Tx): Promise<Segment[]> {
  return db.select().from(segments).where(eq(segments.workspaceId, WORKSPACE_ID)).orderBy(desc(segments.updatedAt));
}

export async function getSegment(db: Tx, id: number): Promise<Segment> {
  const [s] = await db.select().from(segments).where(and(eq(segments.id, id), eq(segments.workspaceId, WORKSPACE_ID)));
  if (!s) throw notFound('Segment');
  return s;
}

export async function createSegment(db: Tx, kr: Keyring, actor: Actor, input: { name: string; description?: string | null; rule: Rule }): Promise<Segment> {
  const ctx = await compileContext(db, kr);
  compiled(() => segmentWhere(input.rule, ctx)); // refuse rules that cannot compile
  const [s] = await db
    .insert(segments)
    .values({ workspaceId: WORKSPACE_ID, name: input.name, description: input.description ?? null, rule: input.rule, createdBy: actor.type === 'user' ? Number(actor.id) : null })
    .returning();
  await appendAudit(db, actor, { action: 'segment.created', target: `segment:${s.id}`, details: { name: s.name } });
  return s;
}

export async function updateSegment(db: Tx, kr: Keyring, actor: Actor, id: number, patch: { name?: string; description?: string | null; rule?: Rule }): Promise<Segment> {
  await getSegment(db, id);
  if (patch.rule) {
    const ctx = await compileContext(db, kr);
    compiled(() => segmentWhere(patch.rule!, ctx));
  }
  const [s] = await db
    .update(segments)
    .set({ ...patch, updatedAt: new Date() })
    .where(eq(segments.id, id))
    .returning();
  await appendAudit(db, actor, { action: 'segment.updated', target: `segment:${id}`, details: { fields: Object.keys(patch) } });
  return s;
}

export async function deleteSegment(db: Tx, actor: Actor, id: number): Promise<void> {
  await getSegment(db, id);
  await db.delete(segments).where(eq(segments.id, id));
  await appendAudit(db, actor, { action: 'segment.deleted', target: `segment:${id}` });
}

export async function countSegment(db: Tx, kr: Keyring, rule: Rule): Promise<AudienceCounts> {
  const ctx = await compileContext(db, kr);
  const [r] = await rows<{ matched: number; eligible: number; suppressed: number; unsubscribed: number; pending: number; no_consent: number }>(
    db,
    compiled(() => countQuery(rule, ctx)),
  );
  return {
    matched: Number(r.matched),
    eligible: Number(r.eligible),
    excluded: { suppressed: Number(r.suppressed), unsubscribed: Number(r.unsubscribed), pending: Number(r.pending), noConsent: Number(r.no_consent) },
  };
}

/** Up to `limit` eligible members, decrypted (the caller masks them for the viewer). */
export async function sampleSegment(db: Tx, kr: Keyring, rule: Rule, limit = 20): Promise<Contact[]> {
  const ctx = await compileContext(db, kr);
  const ids = (await rows<{ id: string }>(db, compiled(() => sampleIdsQuery(rule, ctx, limit)))).map((r) => r.id);
  if (ids.length === 0) return [];
  const found = await db.select().from(contacts).where(inArray(contacts.id, ids)).orderBy(desc(contacts.id));
  return found.map((r) => decodeContact(kr, r));
}

/** The PostgreSQL plan of the count statement (admins). */
export async function explainSegment(db: Tx, kr: Keyring, rule: Rule): Promise<string> {
  const ctx = await compileContext(db, kr);
  const q = compiled(() => sql`EXPLAIN SELECT count(*) FROM contacts c WHERE ${segmentWhere(rule, ctx)}`);
  const r = await rows<Record<string, string>>(db, q);
  return r.map((x) => Object.values(x)[0]).join('\n');
}

/** Freeze the segment's current members as a new contact list. */
export async function freezeSegment(db: Tx, kr: Keyring, actor: Actor, id: number, listName: string): Promise<{ listId: number; members: number }> {
  const seg = await getSegment(db, id);
  const ctx = await compileContext(db, kr);
  return db.transaction(async (tx) => {
    const [list] = await tx
      .insert(contactLists)
      .values({ workspaceId: WORKSPACE_ID, name: listName, description: `Snapshot of segment "${seg.name}" at ${new Date().toISOString()}` })
      .onConflictDoNothing()
      .returning();
    if (!list) throw fieldError('name', 'a list with this name already exists');
    const res = (await tx.execute(compiled(() => snapshotInsert(seg.rule, ctx, list.id)))) as unknown as { rowCount?: number; affectedRows?: number };
    const members = Number(res.rowCount ?? res.affectedRows ?? 0);
    await appendAudit(tx, actor, { action: 'segment.frozen', target: `segment:${id}`, details: { listId: list.id, members } });
    return { listId: list.id, members };
  });
}
