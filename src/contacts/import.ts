// Streaming contact import: importRows (pure parsing/validation) → encryption
// → one transaction per batch that inserts/updates contacts, list membership,
// consent, timeline entries, the encrypted error rows and the import's
// progress counter together. A crash loses at most the batch in flight; a
// resumed import skips the `rows_done` rows already committed, and duplicates
// are impossible anyway because every row goes through the email uniqueness
// check (blind index + decrypt-compare, under the import's email lock).
// One batch's transaction is import-commit.ts; set-based SQL lives in import-store.ts.
import type { Readable } from 'node:stream';
import { eq, sql } from 'drizzle-orm';
import type { Actor } from '../audit/service.ts';
import { appendAudit } from '../audit/service.ts';
import type { Keyring } from '../crypto/field-cipher.ts';
import { rows, type Tx } from '../db/client.ts';
import { notFound, Problem } from '../http/problem.ts';
import type { EncodeInit } from './encode-pool.ts';
import { commitBatch } from './import-commit.ts';
import type { PreparedBatch } from './import-prepare.ts';
import { type BadRow, type ColumnMapping, ImportConfigError, type ImportStats, newImportStats } from './import-rows.ts';
import { seenEmails } from './import-seen.ts';
import { insertsByCopy } from './import-store.ts';
import { preparedSource } from './import-thread.ts';
import { type ConsentState, contactImportErrors, contactImports } from './schema.ts';
import { ensureList, listAttributeDefs } from './service.ts';
import { decText, uuidv7, type Vault, WORKSPACE_ID } from './vault.ts';

export interface ImportOptions {
  mapping: ColumnMapping;
  /** List to add every imported contact to (created if missing). */
  list?: string | null;
  onDuplicate: 'update' | 'skip';
  defaultCountry?: string | null;
  /** Consent to record for imported contacts (with the import file as evidence). */
  consent?: { purpose: string; state: ConsentState } | null;
  tags?: string[];
  ownerUserId?: number | null;
}

export type ImportRecord = typeof contactImports.$inferSelect;

export async function createImport(
  db: Tx,
  input: { filename: string; format: 'csv' | 'jsonl'; options: ImportOptions; createdBy: string },
): Promise<ImportRecord> {
  const [row] = await db
    .insert(contactImports)
    .values({
      id: uuidv7(),
      workspaceId: WORKSPACE_ID,
      state: 'created',
      filename: input.filename.slice(0, 255),
      format: input.format,
      options: input.options as unknown as Record<string, unknown>,
      createdBy: input.createdBy,
    })
    .returning();
  return row;
}

export async function getImport(db: Tx, id: string): Promise<ImportRecord> {
  const [row] = await db.select().from(contactImports).where(eq(contactImports.id, id));
  if (!row) throw notFound('Import');
  return row;
}

/** Batches parsed and encrypted ahead of the one committing (memory: a few batches of rows). */
const PREPARED_AHEAD = 2;

/** Rows an import must insert before it refreshes the planner statistics of the contact tables. */
const ANALYZE_AFTER_ROWS = 10_000;
/**
 * During a run, statistics are refreshed again each time the rows it inserted have grown this many times
 * (10,000, 40,000, 160,000, 640,000). Without them, a table that was empty when last analysed
 * gives every equality the default selectivity, and the duplicate probe's per-key subquery flipped to the
 * narrower domain index at ~70,000 rows: a gmail.com key then reads 30 % of the table (measured: four
 * probes of 4.5 s each, half of a 200,000-row import). Autovacuum would get there too, but not on time for
 * a first import, and PGlite has none.
 */
const ANALYZE_GROWTH = 4;
/**
 * What those growth ANALYZEs cover: the columns the duplicate probe's plan depends on (row counts come with any
 * ANALYZE). A full ANALYZE of contacts at 200,000 rows took 340–520 ms, this one 80–110 ms; the import ends
 * with a full one for everything else (segments filter attributes and tags).
 */
const ANALYZE_PROBE_COLUMNS = sql.raw(
  'ANALYZE contacts (workspace_id, email_bidx, email_domain_bidx, bidx_layout), list_members (list_id)',
);

export interface ImportProgress {
  rowsDone: number;
  inserted: number;
  updated: number;
  skipped: number;
  failed: number;
  suppressed: number;
  stats: ImportStats;
}

export interface RunImportOptions {
  batchSize?: number;
  onProgress?: (p: ImportProgress) => void;
  /**
   * Parse, validate and encrypt on a worker thread (import-thread.ts): true always, false never,
   * default when there are two or more cores and the file is larger than a few thousand rows.
   */
  worker?: boolean;
  /** Test hook: throw after this many committed batches (simulates a crash). */
  crashAfterBatches?: number;
  /** Test hook: awaited after each committed batch, before the next one commits (e.g. a concurrent edit). */
  afterBatch?: (batches: number) => Promise<void>;
}

/**
 * Run (or resume) an import from a byte stream. Commits one transaction per
 * batch; while a batch commits, the next one is parsed and encrypted.
 */
export async function runImport(
  db: Tx,
  vault: Vault,
  actor: Actor,
  importId: string,
  input: Readable,
  o: RunImportOptions = {},
): Promise<ImportRecord> {
  let imp = await getImport(db, importId);
  if (imp.state === 'completed')
    throw new Problem(409, 'import_finished', 'This import has already completed.');
  const opts = imp.options as unknown as ImportOptions;
  await db
    .update(contactImports)
    .set({ state: 'running', error: null, updatedAt: new Date() })
    .where(eq(contactImports.id, imp.id));
  const kr = await vault.keyring();
  const defs = await listAttributeDefs(db);
  const listId = opts.list ? await ensureList(db, opts.list) : null;
  const progress: ImportProgress = {
    rowsDone: imp.rowsDone,
    inserted: imp.inserted,
    updated: imp.updated,
    skipped: imp.skipped,
    failed: imp.failed,
    suppressed: imp.suppressed,
    stats: newImportStats(),
  };
  const imp0Inserted = imp.inserted;
  // This run's inserts (import-seen.ts), marked with its own number (contacts.import_run): rows a crashed earlier
  // run of the import inserted have another, so they are always checked.
  const [{ n: runNumber }] = await rows<{ n: string }>(db, sql`SELECT nextval('contact_import_run_seq')::text AS n`);
  const run = { importId: imp.id, run: Number(runNumber), seen: seenEmails() };
  let batches = 0;
  let inFlight: Promise<void> | null = null;
  const ahead: Promise<void>[] = [];
  const init: EncodeInit = { defs, ownerUserId: opts.ownerUserId ?? null, tags: opts.tags ?? [] };
  let nextAnalyze = ANALYZE_AFTER_ROWS;
  const commit = async (p: PreparedBatch) => {
    const c = await db.transaction((tx) => commitBatch(tx, kr, init, imp, opts, listId, p, run));
    progress.rowsDone += p.count;
    progress.inserted += c.inserted;
    progress.updated += c.updated;
    progress.skipped += c.skipped;
    progress.failed += c.failed;
    progress.suppressed += c.suppressed;
    Object.assign(progress.stats, p.stats);
    batches++;
    // Statistics while the table grows (see ANALYZE_GROWTH).
    const grown = progress.inserted - imp0Inserted;
    if (grown >= nextAnalyze) {
      await db.execute(ANALYZE_PROBE_COLUMNS);
      nextAnalyze = grown * ANALYZE_GROWTH;
    }
    o.onProgress?.(progress);
    if (o.crashAfterBatches !== undefined && batches >= o.crashAfterBatches)
      throw new Error('simulated crash');
    await o.afterBatch?.(batches);
  };
  const source = preparedSource(
    input,
    kr,
    init,
    {
      format: imp.format,
      mapping: opts.mapping,
      attributes: defs.map((d) => ({ key: d.key, type: d.type, options: d.options, sensitive: d.sensitive })),
      batchSize: o.batchSize ?? 1000,
      defaultCountry: opts.defaultCountry ?? undefined,
    },
    // A resumed run skips the rows committed before; the worker sends rows only when merges may need them.
    {
      skip: imp.rowsDone,
      copy: insertsByCopy(db),
      rows: opts.onDuplicate === 'update',
      importId: imp.id,
      importRun: run.run,
    },
    // PGlite runs on the main thread, and a worker would send it every row back: inline there unless asked.
    { worker: o.worker ?? (insertsByCopy(db) ? undefined : false), ahead: PREPARED_AHEAD },
  );
  try {
    for await (const prepared of source) {
      // Commits run one after another, in file order (each resumes after the previous one's rows_done); parsing
      // and encoding run up to PREPARED_AHEAD batches ahead of them (on the worker thread, or inline while a
      // commit waits for the database), so a slow commit does not idle the parser.
      const previous = inFlight;
      inFlight = (async () => {
        if (previous) await previous;
        await commit(prepared);
      })();
      inFlight.catch(() => {}); // observed through `ahead` or at the end
      ahead.push(inFlight);
      if (ahead.length > PREPARED_AHEAD) await ahead.shift();
    }
    if (inFlight) await inFlight;
  } catch (err) {
    if (inFlight) await inFlight.catch(() => {});
    const message =
      err instanceof ImportConfigError ? err.message : `import stopped: ${(err as Error).message}`;
    await db
      .update(contactImports)
      .set({ state: 'failed', error: message, updatedAt: new Date() })
      .where(eq(contactImports.id, imp.id));
    if (err instanceof ImportConfigError) throw new Problem(422, 'import_config', err.message);
    throw err;
  }
  [imp] = await db
    .update(contactImports)
    .set({ state: 'completed', finishedAt: new Date(), updatedAt: new Date() })
    .where(eq(contactImports.id, imp.id))
    .returning();
  // Fresh statistics after a bulk load: PGlite has no autovacuum, and without them the planner reads a keyset page of
  // 50 contacts through a sort of the whole table (measured: page p50 28 ms at 100,000 contacts).
  if (progress.inserted - imp0Inserted >= ANALYZE_AFTER_ROWS)
    await db.execute(sql`ANALYZE contacts, list_members`);
  await appendAudit(db, actor, {
    action: 'contacts.imported',
    target: `import ${imp.id}`,
    details: {
      file: imp.filename,
      rows: imp.rowsDone,
      inserted: imp.inserted,
      updated: imp.updated,
      skipped: imp.skipped,
      failed: imp.failed,
      suppressed: imp.suppressed,
    },
  });
  return imp;
}

/** The rejected rows of an import, decrypted, in line order (for the error file). */
export async function importErrors(db: Tx, kr: Keyring, importId: string): Promise<BadRow[]> {
  const r = await db
    .select()
    .from(contactImportErrors)
    .where(eq(contactImportErrors.importId, importId))
    .orderBy(contactImportErrors.line);
  return r.map((e) => ({
    line: e.line,
    reason: e.reason,
    raw: decText(kr, 'contact_import_errors', 'raw', e.id, e.rawEnc) ?? '',
  }));
}
