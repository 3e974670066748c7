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
import {
  CompileError,
  type CompileContext,
  countQuery,
  sampleIdsQuery,
  segmentWhere,
  snapshotInsert,
} from './compile.ts';
import { type Rule, ruleDomains } from './rules.ts';
import { exactDomains } from './domains.ts';
import { segments } from './schema.ts';
import { sql } from 'drizzle-orm';

export type Segment = typeof segments.$inferSelect;

/** Above this many contacts in an email domain's blind-index bucket the live count stays approximate (decrypting costs ~µs per address). */
export const LIVE_EXACT_DOMAIN_ROWS = 50_000;

export type SegmentContext = CompileContext & { approximateDomains: string[] };

/**
 * Attribute definitions and blind-index lookups for compiling. With `rule`,
 * email-domain conditions become exact (domains.ts: the bucket is decrypted
 * once) unless a bucket has more than `maxDecrypt` contacts; such domains are
 * listed in `approximateDomains`. Without `rule` they match by bucket.
 */
export async function compileContext(
  db: Tx,
  kr: Keyring,
  rule?: Rule,
  opts: { maxDecrypt?: number } = {},
): Promise<SegmentContext> {
  const defs = await listAttributeDefs(db);
  const ctx: SegmentContext = {
    workspaceId: WORKSPACE_ID,
    attributes: defs,
    domainLookup: (d) => domainLookup(kr, d),
    approximateDomains: [],
  };
  const domains = rule ? ruleDomains(rule) : [];
  if (domains.length === 0) return ctx;
  const exact = await exactDomains(db, kr, WORKSPACE_ID, domains, opts.maxDecrypt);
  return { ...ctx, exactDomains: exact.falsePositives, approximateDomains: exact.approximate };
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
  return db
    .select()
    .from(segments)
    .where(eq(segments.workspaceId, WORKSPACE_ID))
    .orderBy(desc(segments.updatedAt));
}

export async function getSegment(db: Tx, id: number): Promise<Segment> {
  const [s] = await db
    .select()
    .from(segments)
    .where(and(eq(segments.id, id), eq(segments.workspaceId, WORKSPACE_ID)));
  if (!s) throw notFound('Segment');
  return s;
}

export async function createSegment(
  db: Tx,
  kr: Keyring,
  actor: Actor,
  input: { name: string; description?: string | null; rule: Rule },
): Promise<Segment> {
  const ctx = await compileContext(db, kr);
  compiled(() => segmentWhere(input.rule, ctx)); // refuse rules that cannot compile
  const [s] = await db
    .insert(segments)
    .values({
      workspaceId: WORKSPACE_ID,
      name: input.name,
      description: input.description ?? null,
      rule: input.rule,
      createdBy: actor.type === 'user' ? Number(actor.id) : null,
    })
    .returning();
  await appendAudit(db, actor, {
    action: 'segment.created',
    target: `segment:${s.id}`,
    details: { name: s.name },
  });
  return s;
}

export async function updateSegment(
  db: Tx,
  kr: Keyring,
  actor: Actor,
  id: number,
  patch: { name?: string; description?: string | null; rule?: Rule },
): Promise<Segment> {
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
  await appendAudit(db, actor, {
    action: 'segment.updated',
    target: `segment:${id}`,
    details: { fields: Object.keys(patch) },
  });
  return s;
}

export async function deleteSegment(db: Tx, actor: Actor, id: number): Promise<void> {
  await getSegment(db, id);
  await db.delete(segments).where(eq(segments.id, id));
  await appendAudit(db, actor, { action: 'segment.deleted', target: `segment:${id}` });
}

/** Live count: exact unless an email domain's bucket is too big to decrypt on every keystroke (`approximateDomains`). */
export async function countSegmentLive(
  db: Tx,
  kr: Keyring,
  rule: Rule,
): Promise<AudienceCounts & { approximateDomains: string[] }> {
  const ctx = await compileContext(db, kr, rule, { maxDecrypt: LIVE_EXACT_DOMAIN_ROWS });
  const [r] = await rows<{
    matched: number;
    eligible: number;
    suppressed: number;
    unsubscribed: number;
    pending: number;
    no_consent: number;
  }>(
    db,
    compiled(() => countQuery(rule, ctx)),
  );
  return {
    matched: Number(r.matched),
    eligible: Number(r.eligible),
    excluded: {
      suppressed: Number(r.suppressed),
      unsubscribed: Number(r.unsubscribed),
      pending: Number(r.pending),
      noConsent: Number(r.no_consent),
    },
    approximateDomains: ctx.approximateDomains,
  };
}

/** Audience counts (guardrails): as the live count, without the notes. */
export async function countSegment(db: Tx, kr: Keyring, rule: Rule): Promise<AudienceCounts> {
  const { approximateDomains: _notes, ...counts } = await countSegmentLive(db, kr, rule);
  return counts;
}

/** Up to `limit` eligible members, decrypted (the caller masks them for the viewer). */
export async function sampleSegment(db: Tx, kr: Keyring, rule: Rule, limit = 20): Promise<Contact[]> {
  const ctx = await compileContext(db, kr, rule);
  const ids = (
    await rows<{ id: string }>(
      db,
      compiled(() => sampleIdsQuery(rule, ctx, limit)),
    )
  ).map((r) => r.id);
  if (ids.length === 0) return [];
  const found = await db.select().from(contacts).where(inArray(contacts.id, ids)).orderBy(desc(contacts.id));
  return found.map((r) => decodeContact(kr, r));
}

export type BuilderOptions = {
  attributes: { key: string; label: string; type: string; options: string[] }[];
  tags: string[];
  lists: { id: number; name: string }[];
  campaigns: { id: number; name: string }[];
  purposes: string[];
};

/**
 * What the rule builder offers: plaintext attribute definitions (sensitive ones
 * cannot be queried, so they are not offered), tags, lists, launched campaigns
 * and consent purposes. Tags and purposes are read from a bounded prefix of the
 * tables so the page stays fast at 10^6 contacts; the inputs accept other values.
 */
export async function builderOptions(db: Tx): Promise<BuilderOptions> {
  const defs = (await listAttributeDefs(db)).filter((d) => !d.sensitive);
  const tags = await rows<{ t: string }>(
    db,
    sql`SELECT DISTINCT t FROM (SELECT tags FROM contacts WHERE workspace_id = ${WORKSPACE_ID}::int AND tags <> '{}' LIMIT 20000) c, unnest(c.tags) t ORDER BY t LIMIT 500`,
  );
  const lists = await rows<{ id: string; name: string }>(
    db,
    sql`SELECT id, name FROM contact_lists WHERE workspace_id = ${WORKSPACE_ID}::int ORDER BY name LIMIT 1000`,
  );
  const camps = await rows<{ id: string; name: string }>(
    db,
    sql`SELECT id, name FROM campaigns WHERE workspace_id = ${WORKSPACE_ID}::int AND launched_at IS NOT NULL ORDER BY launched_at DESC LIMIT 200`,
  );
  const purposes = await rows<{ purpose: string }>(
    db,
    sql`SELECT DISTINCT purpose FROM (SELECT purpose FROM contact_consent_current LIMIT 20000) p ORDER BY purpose`,
  );
  return {
    attributes: defs.map((d) => ({ key: d.key, label: d.label, type: d.type, options: d.options ?? [] })),
    tags: tags.map((r) => r.t),
    lists: lists.map((r) => ({ id: Number(r.id), name: r.name })),
    campaigns: camps.map((r) => ({ id: Number(r.id), name: r.name })),
    purposes: [...new Set(['marketing_email', ...purposes.map((r) => r.purpose)])],
  };
}

/** The PostgreSQL plan of the count statement (admins). */
export async function explainSegment(db: Tx, kr: Keyring, rule: Rule): Promise<string> {
  const ctx = await compileContext(db, kr);
  const q = compiled(() => sql`EXPLAIN SELECT count(*) FROM contacts c WHERE ${segmentWhere(rule, ctx)}`);
  const r = await rows<Record<string, string>>(db, q);
  return r.map((x) => Object.values(x)[0]).join('\n');
}

/** Freeze the segment's current members as a new contact list. */
export async function freezeSegment(
  db: Tx,
  kr: Keyring,
  actor: Actor,
  id: number,
  listName: string,
): Promise<{ listId: number; members: number }> {
  const seg = await getSegment(db, id);
  const ctx = await compileContext(db, kr, seg.rule);
  return db.transaction(async (tx) => {
    const [list] = await tx
      .insert(contactLists)
      .values({
        workspaceId: WORKSPACE_ID,
        name: listName,
        description: `Snapshot of segment "${seg.name}" at ${new Date().toISOString()}`,
      })
      .onConflictDoNothing()
      .returning();
    if (!list) throw fieldError('name', 'a list with this name already exists');
    const res = (await tx.execute(compiled(() => snapshotInsert(seg.rule, ctx, list.id)))) as unknown as {
      rowCount?: number;
      affectedRows?: number;
    };
    const members = Number(res.rowCount ?? res.affectedRows ?? 0);
    await appendAudit(tx, actor, {
      action: 'segment.frozen',
      target: `segment:${id}`,
      details: { listId: list.id, members },
    });
    return { listId: list.id, members };
  });
}
