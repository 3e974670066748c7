// Appending to and reading the audit trail. Appends serialise on a transaction-
// scoped advisory lock so concurrent writers (threads or processes) never fork
// the chain: each append reads the current head under the lock and links to it.
import { and, asc, desc, eq, gt, gte, ilike, lt, lte, or, type SQL, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { auditLog } from './schema.ts';
import { entryHash, GENESIS_HASH } from './chain.ts';

const AUDIT_LOCK = 727_003;

/** Who did something: a signed-in user, an API key, the system, or nobody known. */
export type Actor = {
  type: 'user' | 'api_key' | 'system' | 'anonymous';
  id?: string | number | null;
  label?: string | null;
  ip?: string | null;
  userAgent?: string | null;
};

export const systemActor = (label = 'system'): Actor => ({ type: 'system', label });

export type AuditInput = {
  action: string;
  target?: string | null;
  outcome?: 'success' | 'failure' | 'denied';
  details?: Record<string, unknown>;
};

export type AuditEntry = typeof auditLog.$inferSelect;

/** Called with each appended entry (monitoring turns security-relevant ones into events). */
export const auditListeners: ((db: Tx, entry: AuditEntry) => void | Promise<void>)[] = [];

export async function appendAudit(db: Tx, actor: Actor, input: AuditInput): Promise<AuditEntry> {
  const entry = await db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${AUDIT_LOCK})`);
    const [head] = await tx.select({ hash: auditLog.hash }).from(auditLog).orderBy(desc(auditLog.id)).limit(1);
    const prevHash = head?.hash ?? GENESIS_HASH;
    const fields = {
      at: new Date(),
      actorType: actor.type,
      actorId: actor.id == null ? null : String(actor.id),
      actorLabel: actor.label ?? null,
      action: input.action,
      target: input.target ?? null,
      outcome: input.outcome ?? 'success',
      ip: actor.ip ?? null,
      userAgent: actor.userAgent ? actor.userAgent.slice(0, 512) : null,
      details: input.details ?? {},
    };
    const [row] = await tx
      .insert(auditLog)
      .values({ ...fields, prevHash, hash: entryHash(fields, prevHash) })
      .returning();
    return row;
  });
  for (const listener of auditListeners) await listener(db, entry);
  return entry;
}

export type VerifyResult = { ok: true; checked: number } | { ok: false; checked: number; brokenAt: { id: number; reason: string } };

/** Recompute the whole chain in id order; name the first entry that does not fit. */
export async function verifyAuditChain(db: Tx, batchSize = 2000): Promise<VerifyResult> {
  let prevHash = GENESIS_HASH;
  let lastId = 0;
  let checked = 0;
  for (;;) {
    const batch = await db.select().from(auditLog).where(gt(auditLog.id, lastId)).orderBy(asc(auditLog.id)).limit(batchSize);
    if (batch.length === 0) return { ok: true, checked };
    for (const row of batch) {
      if (row.prevHash !== prevHash)
        return { ok: false, checked, brokenAt: { id: row.id, reason: 'previous-hash link broken (an entry before it was removed or inserted)' } };
      if (entryHash(row, row.prevHash) !== row.hash)
        return { ok: false, checked, brokenAt: { id: row.id, reason: 'content does not match its hash (entry altered)' } };
      prevHash = row.hash;
      lastId = row.id;
      checked++;
    }
  }
}

export type AuditFilter = {
  actor?: string;
  action?: string;
  outcome?: 'success' | 'failure' | 'denied';
  from?: Date;
  to?: Date;
  before?: number;
  limit?: number;
};

function filterWhere(f: AuditFilter): SQL | undefined {
  const conds: SQL[] = [];
  if (f.actor) {
    const like = `%${f.actor.replace(/[%_\\]/g, (c) => `\\${c}`)}%`;
    conds.push(or(ilike(auditLog.actorLabel, like), eq(auditLog.actorId, f.actor))!);
  }
  if (f.action) conds.push(f.action.endsWith('*') ? ilike(auditLog.action, `${f.action.slice(0, -1)}%`) : eq(auditLog.action, f.action));
  if (f.outcome) conds.push(eq(auditLog.outcome, f.outcome));
  if (f.from) conds.push(gte(auditLog.at, f.from));
  if (f.to) conds.push(lte(auditLog.at, f.to));
  if (f.before) conds.push(lt(auditLog.id, f.before));
  return conds.length ? and(...conds) : undefined;
}

/** Newest first, keyset-paginated by id. */
export async function listAudit(db: Tx, f: AuditFilter): Promise<{ items: AuditEntry[]; nextBefore: number | null }> {
  const limit = Math.min(f.limit ?? 50, 1000);
  const items = await db.select().from(auditLog).where(filterWhere(f)).orderBy(desc(auditLog.id)).limit(limit + 1);
  const more = items.length > limit;
  if (more) items.pop();
  return { items, nextBefore: more ? items[items.length - 1].id : null };
}

/** Every matching entry, oldest first, in batches (exports stream this). */
export async function* iterateAudit(db: Tx, f: AuditFilter, batchSize = 1000): AsyncGenerator<AuditEntry> {
  let lastId = 0;
  for (;;) {
    const where = and(filterWhere({ ...f, before: undefined }), gt(auditLog.id, lastId));
    const batch = await db.select().from(auditLog).where(where).orderBy(asc(auditLog.id)).limit(batchSize);
    if (batch.length === 0) return;
    yield* batch;
    lastId = batch[batch.length - 1].id;
  }
}
