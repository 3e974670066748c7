// Key rotation.
//  - Field data key: `startFieldKeyRotation` adds version n+1 (active) and marks
//    n 'retiring'; `runRotation` re-encrypts every encrypted column in batches
//    (one transaction per batch: rows + progress), then retires n. It is
//    resumable by construction: it selects rows whose key_version is not the
//    active one, so a crash just means the next run continues where the last
//    committed batch stopped. Runs as a pg-boss job or inline (CLI).
//  - Master key: `rotateMasterKey` re-wraps the data-key rows only.
import { and, eq, ne, sql } from 'drizzle-orm';
import { type Actor, appendAudit } from '../audit/service.ts';
import { availableParallelism } from 'node:os';
import pg from 'pg';
import { rewrapDataKeyRecord } from '../crypto/field-cipher.ts';
import type { KeyProvider } from '../crypto/key-provider.ts';
import { rows, type Tx } from '../db/client.ts';
import { EncodePool } from './encode-pool.ts';
import { type ReencryptJob, reencryptColumns } from './reencrypt.ts';
import { conflict, notFound } from '../http/problem.ts';
import { dataKeys, keyRotations } from './schema.ts';
import { newDataKeyRecord } from '../crypto/field-cipher.ts';
import { BIDX_LAYOUT, dataKeyRows, type Vault, WORKSPACE_ID } from './vault.ts';

export const ROTATION_QUEUE = 'keys.rotate-field';

/** Every encrypted column in the database, per table. Add new ones here. */
export const ENCRYPTED_TABLES = [
  {
    table: 'contacts',
    ws: true,
    columns: [
      ['email_enc', 'email'],
      ['first_name_enc', 'first_name'],
      ['last_name_enc', 'last_name'],
      ['phone_enc', 'phone'],
      ['notes_enc', 'notes'],
      ['sensitive_enc', 'sensitive'],
      ['profile_enc', 'profile'],
    ],
  },
  { table: 'contact_consents', ws: true, columns: [['evidence_enc', 'evidence']] },
  { table: 'contact_activities', ws: true, columns: [['body_enc', 'body']] },
  { table: 'contact_import_errors', ws: false, columns: [['raw_enc', 'raw']] },
] as const;

export type Rotation = typeof keyRotations.$inferSelect;

async function remaining(db: Tx, active: number): Promise<number> {
  let n = 0;
  for (const t of ENCRYPTED_TABLES) {
    const [r] = await rows<{ n: number }>(
      db,
      sql`SELECT count(*)::int AS n FROM ${sql.identifier(t.table)} WHERE key_version <> ${active}`,
    );
    n += r.n;
  }
  return n;
}

export async function startFieldKeyRotation(db: Tx, vault: Vault, actor: Actor): Promise<Rotation> {
  const rotation = await db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(727011)`);
    const [running] = await tx.select().from(keyRotations).where(eq(keyRotations.state, 'running'));
    if (running)
      throw conflict(
        'rotation_running',
        `Rotation ${running.id} (v${running.fromVersion} → v${running.toVersion}) is still running; wait for it or resume it.`,
      );
    const keys = await dataKeyRows(tx);
    const active = keys.find((k) => k.purpose === 'field' && k.state === 'active');
    if (!active) throw notFound('Active field key');
    const next = Math.max(...keys.filter((k) => k.purpose === 'field').map((k) => k.version)) + 1;
    const record = await newDataKeyRecord(vault.provider, String(WORKSPACE_ID), next, 'field');
    await tx
      .update(dataKeys)
      .set({ state: 'retiring' })
      .where(
        and(
          eq(dataKeys.workspaceId, WORKSPACE_ID),
          eq(dataKeys.purpose, 'field'),
          eq(dataKeys.version, active.version),
        ),
      );
    await tx.insert(dataKeys).values({ ...record, workspaceId: WORKSPACE_ID });
    const total = await remaining(tx, next);
    const [row] = await tx
      .insert(keyRotations)
      .values({
        workspaceId: WORKSPACE_ID,
        fromVersion: active.version,
        toVersion: next,
        state: 'running',
        total,
      })
      .returning();
    return row;
  });
  vault.invalidate();
  await appendAudit(db, actor, {
    action: 'keys.field_rotation_started',
    target: `field key v${rotation.fromVersion} → v${rotation.toVersion}`,
    details: { rotationId: rotation.id, rows: rotation.total },
  });
  return rotation;
}

export async function getRotation(db: Tx, id?: number): Promise<Rotation | null> {
  const q = db.select().from(keyRotations);
  const [row] = id
    ? await q.where(eq(keyRotations.id, id))
    : await q.orderBy(sql`${keyRotations.id} DESC`).limit(1);
  return row ?? null;
}

export interface RunRotationOptions {
  batchSize?: number;
  /** Stop after this many batches (tests: simulate a crash midway). */
  maxBatches?: number;
  /** Wait this long after the sweep before the final check and retiring (stale keyrings elsewhere). Default 2 × vault.cacheMs. */
  graceMs?: number;
  onProgress?: (r: Rotation) => void;
  /** Concurrent batch loops (default 2 on PostgreSQL, 1 on PGlite). */
  concurrency?: number;
  /** Worker threads re-encrypting (PostgreSQL only; default defaultRotationWorkers()). */
  workers?: number;
}

function isPostgres(db: Tx): boolean {
  return (db as { $client?: unknown }).$client instanceof pg.Pool;
}

/**
 * Re-encrypt one batch of one table, the rows after `cursor.id` in id order
 * (keyset: each batch starts where the last one stopped instead of re-reading
 * the rows already rotated). Returns the number of rows rewritten. Contacts
 * still on an old blind-index layout also get their email index recomputed:
 * the email is decrypted anyway, so the re-index costs one HMAC per such row.
 */
async function sweepBatch(
  db: Tx,
  vault: Vault,
  spec: (typeof ENCRYPTED_TABLES)[number],
  active: number,
  limit: number,
  rotationId: number,
  cursor: { id: string | null },
  pool: EncodePool | null,
): Promise<number> {
  const kr = await vault.keyring(); // outside the transaction: PGlite has one connection
  return db.transaction(async (tx) => {
    const cols = spec.columns.map(([c]) => sql.identifier(c));
    const isContacts = spec.table === 'contacts';
    const found = await rows<Record<string, unknown>>(
      tx,
      sql`SELECT id, ${isContacts ? sql`bidx_layout, ` : sql``}${sql.join(cols, sql`, `)} FROM ${sql.identifier(spec.table)}
          WHERE key_version <> ${active} ${spec.ws ? sql`AND workspace_id = ${WORKSPACE_ID}` : sql``}
          ${cursor.id === null ? sql`` : sql`AND id > ${cursor.id}`}
          ORDER BY id LIMIT ${limit} FOR UPDATE SKIP LOCKED`,
    );
    if (found.length === 0) return 0;
    // Claim the range at once: a concurrent sweep loop continues after it while this one encrypts.
    const last = found[found.length - 1].id as string;
    if (cursor.id === null || last > cursor.id) cursor.id = last; // hex uuids compare like PostgreSQL's uuid order
    const ids = found.map((r) => r.id as string);
    // PostgreSQL gets the arrays in binary (no hex text either side); PGlite takes them as arrays of Buffers.
    // Columns NULL in every row of the batch (the per-column PII of contacts written since profile_enc) stay as they are.
    const present = spec.columns.filter(([col]) => found.some((r) => r[col] != null));
    const job: ReencryptJob = {
      table: spec.table,
      columns: present,
      ids,
      values: present.map(([col]) => found.map((r) => (r[col] as Uint8Array | null) ?? null)),
      layouts: isContacts ? found.map((r) => r.bidx_layout as number) : undefined,
      binary: isPostgres(db),
    };
    const { columns, emailIdx } = pool ? await pool.reencrypt(job) : reencryptColumns(kr, job);
    const sets = present.map(([c], i) => sql`${sql.identifier(c)} = u.${sql.identifier(`c${i}`)}`);
    sets.push(sql`key_version = ${kr.activeVersion}`);
    const arrays = [sql`${sql.param(ids)}::uuid[]`, ...columns.map((vals) => sql`${sql.param(vals)}::bytea[]`)];
    const aliases = [sql`id`, ...present.map((_, i) => sql.identifier(`c${i}`))];
    if (isContacts) {
      sets.push(sql`email_bidx = coalesce(u.eb, t.email_bidx), bidx_layout = ${BIDX_LAYOUT}`);
      arrays.push(sql`${sql.param(emailIdx)}::int[]`);
      aliases.push(sql`eb`);
    }
    await tx.execute(sql`UPDATE ${sql.identifier(spec.table)} t SET ${sql.join(sets, sql`, `)}
      FROM unnest(${sql.join(arrays, sql`, `)}) AS u(${sql.join(aliases, sql`, `)})
      WHERE t.id = u.id`);
    await tx
      .update(keyRotations)
      .set({ done: sql`${keyRotations.done} + ${found.length}`, updatedAt: new Date() })
      .where(eq(keyRotations.id, rotationId));
    return found.length;
  });
}

/**
 * Sweep until every encrypted value uses the new key, then retire the old one.
 * Returns the rotation row ('running' if stopped early by maxBatches).
 */
export async function runRotation(
  db: Tx,
  vault: Vault,
  actor: Actor,
  rotationId: number,
  o: RunRotationOptions = {},
): Promise<Rotation> {
  let rotation = await getRotation(db, rotationId);
  if (!rotation) throw notFound('Rotation');
  if (rotation.state !== 'running') return rotation;
  vault.invalidate();
  const active = (await vault.keyring()).activeVersion;
  if (active !== rotation.toVersion)
    throw conflict('rotation_superseded', `Active field key is v${active}, not v${rotation.toVersion}.`);
  const batchSize = o.batchSize ?? 2000;
  let batches = 0;
  // On PostgreSQL two loops share the cursor: one encrypts a batch while the
  // other's UPDATE runs on the server. PGlite has one connection: one loop.
  const loops = o.concurrency ?? (isPostgres(db) ? 2 : 1);
  // Re-encryption on worker threads where there are cores to spare (PostgreSQL only: PGlite's one connection is the limit).
  const workers = isPostgres(db) ? (o.workers ?? defaultRotationWorkers()) : 0;
  const pool = workers > 0 ? new EncodePool(await vault.keyring(), { defs: [], ownerUserId: null, tags: [] }, workers) : null;
  try {
    const sweep = async (): Promise<boolean> => {
      for (const spec of ENCRYPTED_TABLES) {
        // Two passes: the second, from the start, catches rows skipped while another transaction held them.
        for (let pass = 0; pass < 2; pass++) {
          const cursor = { id: null as string | null };
          let stopped = false;
          const loop = async () => {
            for (;;) {
              // Counted when started, so concurrent loops stop at exactly maxBatches.
              if (o.maxBatches !== undefined && batches >= o.maxBatches) {
                stopped = true;
                return;
              }
              batches++;
              const n = await sweepBatch(db, vault, spec, active, batchSize, rotationId, cursor, pool);
              if (n === 0) {
                batches--;
                return;
              }
              if (o.onProgress) o.onProgress((await getRotation(db, rotationId))!);
            }
          };
          await Promise.all(Array.from({ length: loops }, loop));
          if (stopped) return false;
        }
      }
      return true;
    };
    if (!(await sweep())) return (await getRotation(db, rotationId))!;
    // Another process may still hold a keyring cached before the rotation and
    // write under the old version: wait out its cache, then sweep again.
    const grace = o.graceMs ?? 2 * vault.cacheMs;
    if (grace > 0) {
      await new Promise((r) => setTimeout(r, grace));
      if (!(await sweep())) return (await getRotation(db, rotationId))!;
    }
    [rotation] = await db.transaction(async (tx) => {
      if ((await remaining(tx, active)) > 0)
        throw new Error('rows under the old key appeared during the final check; run the rotation again');
      await tx
        .update(dataKeys)
        .set({ state: 'retired' })
        .where(
          and(
            eq(dataKeys.workspaceId, WORKSPACE_ID),
            eq(dataKeys.purpose, 'field'),
            eq(dataKeys.state, 'retiring'),
          ),
        );
      return tx
        .update(keyRotations)
        .set({ state: 'completed', finishedAt: new Date(), updatedAt: new Date() })
        .where(eq(keyRotations.id, rotationId))
        .returning();
    });
    vault.invalidate();
    await appendAudit(db, actor, {
      action: 'keys.field_rotation_completed',
      target: `field key v${rotation.fromVersion} → v${rotation.toVersion}`,
      details: { rotationId, rows: rotation.done, retired: rotation.fromVersion },
    });
    o.onProgress?.(rotation);
    return rotation;
  } finally {
    await pool?.close();
  }
}

/**
 * Rotation worker threads: `MAILWARDEN_ROTATION_WORKERS`, else one per core beyond two (at most 2). None on
 * 2 cores: measured there (100,000 contacts on PostgreSQL), a worker gave the same rate for ~25 % more CPU,
 * since this thread and the database backend already keep both cores busy.
 */
function defaultRotationWorkers(): number {
  const env = process.env.MAILWARDEN_ROTATION_WORKERS;
  if (env !== undefined && /^\d+$/.test(env)) return Number(env);
  return Math.max(0, Math.min(2, availableParallelism() - 2));
}

/**
 * Master-key rotation: re-wrap every data-key row not wrapped by the
 * provider's current master key. No field value changes.
 */
export async function rotateMasterKey(
  db: Tx,
  provider: KeyProvider,
  actor: Actor,
): Promise<{ rewrapped: number; masterKeyId: string }> {
  const stale = await db.select().from(dataKeys).where(ne(dataKeys.masterKeyId, provider.id));
  await db.transaction(async (tx) => {
    for (const row of stale) {
      const next = await rewrapDataKeyRecord(provider, provider, {
        ...row,
        workspaceId: String(row.workspaceId),
      });
      await tx
        .update(dataKeys)
        .set({ wrappedKey: next.wrappedKey, masterKeyId: next.masterKeyId })
        .where(
          and(
            eq(dataKeys.workspaceId, row.workspaceId),
            eq(dataKeys.purpose, row.purpose),
            eq(dataKeys.version, row.version),
          ),
        );
    }
  });
  await appendAudit(db, actor, {
    action: 'keys.master_rewrapped',
    target: `master key ${provider.id}`,
    details: { rewrapped: stale.length, from: [...new Set(stale.map((r) => r.masterKeyId))] },
  });
  return { rewrapped: stale.length, masterKeyId: provider.id };
}

export async function runningRotations(db: Tx): Promise<Rotation[]> {
  return db.select().from(keyRotations).where(eq(keyRotations.state, 'running'));
}
