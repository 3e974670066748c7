// The analyst queue: store reported/quarantined messages with their score, scan with the
// workspace's learned adjustment and blocklist, record analyst verdicts (which feed
// learnFromVerdicts), and the per-sender/per-domain history and daily trend.
import { and, desc, eq, gte, inArray, lt, lte, or, type SQL, sql } from 'drizzle-orm';
import type { Db, Tx } from '../db/client.ts';
import { dedupeKeyOf, messageIdOf } from './cases.ts';
import { domainOf } from './domains.ts';
import { learnFromVerdicts } from './learn.ts';
import { scanMessage } from './scan.ts';
import {
  type PhishingSource,
  type PhishingState,
  phishingBlocklist,
  phishingMessages,
  phishingModels,
  type ReporterEntry,
} from './schema.ts';
import type { ModelAdjustment, Reason, ScanOptions, ScanResult, Verdict, WorkspaceConfig } from './types.ts';

/** Self-hosted: one workspace. */
export const PHISHING_WORKSPACE = 1;
/** Stored evidence is bounded: bytes beyond this are cut and the row marked `truncated`. */
export const MAX_STORED_BYTES = 10 * 1024 * 1024;
/** Distinct reporters listed per case; further reports still count. */
export const MAX_REPORTERS = 50;

export type ScanContext = {
  adjustment?: ModelAdjustment;
  workspace: WorkspaceConfig;
  blocklist: { kind: 'sender' | 'domain'; value: string }[];
};

/** The workspace's stored adjustment, configuration and blocklist: what every scanMessage caller should load. */
export async function loadScanContext(db: Tx, workspaceId = PHISHING_WORKSPACE): Promise<ScanContext> {
  const [model] = await db.select().from(phishingModels).where(eq(phishingModels.workspaceId, workspaceId));
  const blocklist = await db
    .select({ kind: phishingBlocklist.kind, value: phishingBlocklist.value })
    .from(phishingBlocklist)
    .where(eq(phishingBlocklist.workspaceId, workspaceId));
  return { adjustment: model?.adjustment ?? undefined, workspace: model?.config ?? {}, blocklist };
}

/** A blocklisted sender or domain (From address, or the envelope sender) always scores as phishing. */
export function applyBlocklist(
  result: ScanResult,
  blocklist: ScanContext['blocklist'],
  envelopeFrom?: string,
): ScanResult {
  if (!blocklist.length) return result;
  const addresses = [result.from?.address, envelopeFrom]
    .filter((a): a is string => !!a)
    .map((a) => a.toLowerCase());
  const domains = addresses.map((a) => domainOf(a)).filter(Boolean);
  const hit =
    blocklist.find((b) => b.kind === 'sender' && addresses.includes(b.value)) ??
    blocklist.find(
      (b) => b.kind === 'domain' && domains.some((d) => d === b.value || d.endsWith(`.${b.value}`)),
    );
  if (!hit) return result;
  const reason: Reason = {
    signal: 'blocklist',
    detail: `The ${hit.kind} ${hit.value} is on the workspace blocklist`,
    weight: 100 - result.score,
  };
  return { ...result, score: 100, verdict: 'phishing', reasons: [reason, ...result.reasons] };
}

/** scanMessage with the workspace's learned adjustment, configuration and blocklist. */
export async function scanForWorkspace(
  db: Tx,
  raw: Buffer,
  options: ScanOptions = {},
  envelopeFrom?: string,
): Promise<ScanResult> {
  const ctx = await loadScanContext(db);
  const result = await scanMessage(raw, { workspace: ctx.workspace, adjustment: ctx.adjustment, ...options });
  return applyBlocklist(result, ctx.blocklist, envelopeFrom);
}

export type EnqueueInput = {
  raw: Buffer;
  source: PhishingSource;
  result: ScanResult;
  reporter?: string;
  /** Whether the reporter is known staff (see verifyReporter); API submissions are authenticated. */
  reporterVerified?: boolean;
  reportRaw?: Buffer;
  extraction?: string;
  envelope?: { from: string; to: string[] };
  remoteAddress?: string;
};

function bounded(buf: Buffer): { bytes: Buffer; truncated: boolean } {
  return buf.length > MAX_STORED_BYTES
    ? { bytes: buf.subarray(0, MAX_STORED_BYTES), truncated: true }
    : { bytes: buf, truncated: false };
}

export type EnqueueOutcome = { id: number; duplicate: boolean; reportCount: number };

export { dedupeKeyOf, verifyReporter } from './cases.ts';

export async function enqueue(db: Tx, input: EnqueueInput): Promise<number> {
  return (await enqueueCase(db, input)).id;
}

/**
 * Store a message for the analysts. Reports (mailbox, API) of a message that is already a case
 * join that case — the report count goes up and the reporter is added — whatever its state, so
 * an analyst's decision stands and the queue shows one row per message. Gateway quarantines are
 * always new rows: each holds a delivery (envelope) to release.
 */
export async function enqueueCase(db: Tx, input: EnqueueInput): Promise<EnqueueOutcome> {
  const { bytes, truncated } = bounded(input.raw);
  const r = input.result;
  const fromAddress = (r.from?.address ?? '').toLowerCase().slice(0, 500);
  const reporter = input.reporter?.toLowerCase().slice(0, 500) ?? null;
  const isReport = input.source !== 'gateway';
  const entry: ReporterEntry[] = reporter ? [{ address: reporter, verified: !!input.reporterVerified }] : [];
  const insert = db.insert(phishingMessages).values({
    workspaceId: PHISHING_WORKSPACE,
    source: input.source,
    raw: bytes,
    size: input.raw.length,
    truncated,
    reportRaw: input.reportRaw ? bounded(input.reportRaw).bytes : null,
    extraction: input.extraction ?? null,
    reporter,
    reporterVerified: isReport ? !!input.reporterVerified : null,
    reporters: isReport ? entry : null,
    dedupeKey: isReport ? dedupeKeyOf(input.raw) : null,
    lastReportedAt: isReport ? new Date() : null,
    envelopeFrom: input.envelope?.from ?? null,
    envelopeTo: input.envelope?.to ?? null,
    remoteAddress: input.remoteAddress ?? null,
    messageId: messageIdOf(input.raw),
    subject: (r.subject ?? '').slice(0, 1000),
    fromAddress,
    fromName: (r.from?.name ?? '').slice(0, 500),
    senderDomain: domainOf(fromAddress) || domainOf(input.envelope?.from),
    score: r.score,
    verdict: r.verdict,
    reasons: r.reasons.slice(0, 100),
    auth: r.auth,
  });
  const reporters = sql.raw(`"phishing_messages"."reporters"`);
  const [row] = await (isReport
    ? insert.onConflictDoUpdate({
        target: [phishingMessages.workspaceId, phishingMessages.dedupeKey],
        set: {
          reportCount: sql`${phishingMessages.reportCount} + 1`,
          lastReportedAt: new Date(),
          // Add the reporter once; the list is bounded, the count is not.
          reporters: sql`CASE WHEN coalesce(${reporters}, '[]'::jsonb) @> ${JSON.stringify(entry)}::jsonb
              OR jsonb_array_length(coalesce(${reporters}, '[]'::jsonb)) >= ${MAX_REPORTERS}
            THEN coalesce(${reporters}, '[]'::jsonb) ELSE coalesce(${reporters}, '[]'::jsonb) || ${JSON.stringify(entry)}::jsonb END`,
        },
      })
    : insert
  ).returning({ id: phishingMessages.id, reportCount: phishingMessages.reportCount });
  return { id: row.id, duplicate: row.reportCount > 1, reportCount: row.reportCount };
}

export type QueueFilter = {
  state?: PhishingState;
  verdict?: Verdict;
  source?: PhishingSource;
  domain?: string;
  sender?: string;
  since?: Date;
  until?: Date;
  before?: number;
  limit?: number;
};

export const listColumns = {
  id: phishingMessages.id,
  source: phishingMessages.source,
  state: phishingMessages.state,
  score: phishingMessages.score,
  verdict: phishingMessages.verdict,
  subject: phishingMessages.subject,
  fromAddress: phishingMessages.fromAddress,
  fromName: phishingMessages.fromName,
  senderDomain: phishingMessages.senderDomain,
  reporter: phishingMessages.reporter,
  reporterVerified: phishingMessages.reporterVerified,
  reportCount: phishingMessages.reportCount,
  reasons: phishingMessages.reasons,
  analyst: phishingMessages.analyst,
  size: phishingMessages.size,
  createdAt: phishingMessages.createdAt,
  decidedAt: phishingMessages.decidedAt,
};

export async function listQueue(db: Tx, f: QueueFilter = {}) {
  const conds: SQL[] = [eq(phishingMessages.workspaceId, PHISHING_WORKSPACE)];
  if (f.state) conds.push(eq(phishingMessages.state, f.state));
  if (f.verdict) conds.push(eq(phishingMessages.verdict, f.verdict));
  if (f.source) conds.push(eq(phishingMessages.source, f.source));
  if (f.domain) conds.push(eq(phishingMessages.senderDomain, f.domain.toLowerCase()));
  if (f.sender) conds.push(eq(phishingMessages.fromAddress, f.sender.toLowerCase()));
  if (f.since) conds.push(gte(phishingMessages.createdAt, f.since));
  if (f.until) conds.push(lte(phishingMessages.createdAt, f.until));
  if (f.before !== undefined) conds.push(lt(phishingMessages.id, f.before));
  const limit = f.limit ?? 50;
  const rows = await db
    .select(listColumns)
    .from(phishingMessages)
    .where(and(...conds))
    .orderBy(desc(phishingMessages.id))
    .limit(limit + 1);
  const items = rows.slice(0, limit).map((r) => ({ ...r, reasons: r.reasons.slice(0, 5) }));
  return { items, nextBefore: rows.length > limit ? items[limit - 1].id : null };
}

export async function getQueueRow(db: Tx, id: number) {
  const [row] = await db
    .select()
    .from(phishingMessages)
    .where(and(eq(phishingMessages.id, id), eq(phishingMessages.workspaceId, PHISHING_WORKSPACE)));
  return row ?? null;
}

export type AnalystVerdict = 'confirmed_phishing' | 'legitimate' | 'released';

/**
 * Record an analyst's decision and learn from it: the workspace adjustment is updated with
 * learnFromVerdicts (under a row lock, so concurrent decisions accumulate) and stored.
 */
export async function decide(db: Db, id: number, state: AnalystVerdict, analyst: string, note?: string) {
  const row = await getQueueRow(db, id);
  if (!row) return null;
  const label = state === 'confirmed_phishing' ? 'phishing' : 'legitimate';
  const previousLabel =
    row.state === 'confirmed_phishing' ? 'phishing' : row.state === 'new' ? null : 'legitimate';
  // Saying the same thing twice (e.g. release after "legitimate") is recorded but not learned twice.
  const learn = previousLabel !== label;
  let examples = 0;
  await db.transaction(async (tx) => {
    await tx.insert(phishingModels).values({ workspaceId: PHISHING_WORKSPACE }).onConflictDoNothing();
    const [model] = await tx
      .select()
      .from(phishingModels)
      .where(eq(phishingModels.workspaceId, PHISHING_WORKSPACE))
      .for('update');
    // A truncated message is still learned from: the parser bounds what it reads anyway.
    if (learn) {
      const adjustment = await learnFromVerdicts([{ raw: row.raw, label }], {
        previous: model.adjustment ?? undefined,
        workspace: model.config,
      });
      await tx
        .update(phishingModels)
        .set({ adjustment, updatedAt: new Date() })
        .where(eq(phishingModels.workspaceId, PHISHING_WORKSPACE));
      examples = adjustment.examples;
    } else examples = model.adjustment?.examples ?? 0;
    await tx
      .update(phishingMessages)
      .set({
        state,
        analyst,
        note: note ?? row.note,
        decidedAt: new Date(),
        ...(state === 'released' ? { releasedAt: new Date() } : {}),
      })
      .where(eq(phishingMessages.id, id));
  });
  return { previous: row.state, state, learned: learn, learnedExamples: examples };
}

/** Store the workspace's scanner configuration (own domains, staff names, brands, thresholds). */
export async function saveWorkspaceConfig(
  db: Tx,
  config: WorkspaceConfig,
): Promise<{ before: WorkspaceConfig; after: WorkspaceConfig }> {
  const before = (await loadScanContext(db)).workspace;
  await db
    .insert(phishingModels)
    .values({ workspaceId: PHISHING_WORKSPACE, config })
    .onConflictDoUpdate({ target: phishingModels.workspaceId, set: { config, updatedAt: new Date() } });
  return { before, after: config };
}

export async function modelSummary(db: Tx) {
  const [model] = await db
    .select()
    .from(phishingModels)
    .where(eq(phishingModels.workspaceId, PHISHING_WORKSPACE));
  const weights = Object.entries(model?.adjustment?.weights ?? {}).sort(
    (a, b) => Math.abs(b[1]) - Math.abs(a[1]),
  );
  return {
    examples: model?.adjustment?.examples ?? 0,
    features: weights.length,
    top: weights.slice(0, 20).map(([feature, delta]) => ({ feature, delta })),
    updatedAt: model?.updatedAt ?? null,
  };
}

// ---- blocklist -------------------------------------------------------------------------

export function normaliseBlockValue(kind: 'sender' | 'domain', value: string): string | null {
  const v = value.trim().toLowerCase();
  if (kind === 'sender') return /^[^\s@]{1,200}@[a-z0-9.-]{1,253}\.[a-z0-9-]{2,63}$/i.test(v) ? v : null;
  const d = v.replace(/^@/, '');
  return /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/.test(d) ? d : null;
}

export async function addBlock(
  db: Tx,
  kind: 'sender' | 'domain',
  value: string,
  createdBy: string,
  reason?: string,
) {
  const [row] = await db
    .insert(phishingBlocklist)
    .values({ workspaceId: PHISHING_WORKSPACE, kind, value, createdBy, reason: reason ?? null })
    .onConflictDoUpdate({
      target: [phishingBlocklist.workspaceId, phishingBlocklist.kind, phishingBlocklist.value],
      set: { reason: reason ?? null },
    })
    .returning();
  return row;
}

export async function listBlocks(db: Tx) {
  return db
    .select()
    .from(phishingBlocklist)
    .where(eq(phishingBlocklist.workspaceId, PHISHING_WORKSPACE))
    .orderBy(desc(phishingBlocklist.id));
}

export async function removeBlock(db: Tx, id: number) {
  const [row] = await db
    .delete(phishingBlocklist)
    .where(and(eq(phishingBlocklist.id, id), eq(phishingBlocklist.workspaceId, PHISHING_WORKSPACE)))
    .returning();
  return row ?? null;
}

// ---- history and trend -----------------------------------------------------------------

const day = (col: typeof phishingMessages.createdAt | typeof phishingMessages.decidedAt) =>
  sql<string>`to_char((${col} AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD')`;

type DayRow = { day: string; reported: number; confirmed: number; legitimate: number };

function daysBetween(since: Date, until: Date): string[] {
  const out: string[] = [];
  const d = new Date(Date.UTC(since.getUTCFullYear(), since.getUTCMonth(), since.getUTCDate()));
  for (; d <= until && out.length < 400; d.setUTCDate(d.getUTCDate() + 1))
    out.push(d.toISOString().slice(0, 10));
  return out;
}

async function perDay(db: Tx, since: Date, until: Date, where: SQL[]): Promise<DayRow[]> {
  const base = [eq(phishingMessages.workspaceId, PHISHING_WORKSPACE), ...where];
  const reported = await db
    .select({ day: day(phishingMessages.createdAt), n: sql<number>`count(*)::int` })
    .from(phishingMessages)
    .where(and(...base, gte(phishingMessages.createdAt, since), lte(phishingMessages.createdAt, until)))
    .groupBy(sql`1`);
  const decided = await db
    .select({
      day: day(phishingMessages.decidedAt),
      state: phishingMessages.state,
      n: sql<number>`count(*)::int`,
    })
    .from(phishingMessages)
    .where(
      and(
        ...base,
        inArray(phishingMessages.state, ['confirmed_phishing', 'legitimate', 'released']),
        gte(phishingMessages.decidedAt, since),
        lte(phishingMessages.decidedAt, until),
      ),
    )
    .groupBy(sql`1`, phishingMessages.state);
  const rows = new Map<string, DayRow>(
    daysBetween(since, until).map((d) => [d, { day: d, reported: 0, confirmed: 0, legitimate: 0 }]),
  );
  const at = (d: string) =>
    rows.get(d) ?? rows.set(d, { day: d, reported: 0, confirmed: 0, legitimate: 0 }).get(d)!;
  for (const r of reported) at(r.day).reported += Number(r.n);
  for (const r of decided) {
    if (r.state === 'confirmed_phishing') at(r.day).confirmed += Number(r.n);
    else at(r.day).legitimate += Number(r.n);
  }
  return [...rows.values()].sort((a, b) => a.day.localeCompare(b.day));
}

/** Per day: messages reported/quarantined, and analyst decisions (confirmed phishing; legitimate or released). */
export async function trend(db: Tx, days = 30, now = new Date()) {
  const since = new Date(now.getTime() - (days - 1) * 86_400_000);
  since.setUTCHours(0, 0, 0, 0);
  return perDay(db, since, now, []);
}

/** Counts by state and verdict for one sender address or domain, and per day over `days`. */
export async function senderHistory(
  db: Tx,
  by: { sender?: string; domain?: string },
  days = 90,
  now = new Date(),
) {
  const where = by.sender
    ? [eq(phishingMessages.fromAddress, by.sender.toLowerCase())]
    : [
        or(
          eq(phishingMessages.senderDomain, (by.domain ?? '').toLowerCase()),
          sql`${phishingMessages.senderDomain} LIKE ${`%.${(by.domain ?? '').toLowerCase()}`}`,
        ) as SQL,
      ];
  const counts = await db
    .select({
      state: phishingMessages.state,
      verdict: phishingMessages.verdict,
      n: sql<number>`count(*)::int`,
    })
    .from(phishingMessages)
    .where(and(eq(phishingMessages.workspaceId, PHISHING_WORKSPACE), ...where))
    .groupBy(phishingMessages.state, phishingMessages.verdict);
  const byState: Record<string, number> = { new: 0, confirmed_phishing: 0, legitimate: 0, released: 0 };
  const byVerdict: Record<string, number> = { phishing: 0, suspicious: 0, clean: 0 };
  let total = 0;
  for (const c of counts) {
    byState[c.state] = (byState[c.state] ?? 0) + Number(c.n);
    byVerdict[c.verdict] = (byVerdict[c.verdict] ?? 0) + Number(c.n);
    total += Number(c.n);
  }
  const since = new Date(now.getTime() - (days - 1) * 86_400_000);
  since.setUTCHours(0, 0, 0, 0);
  const perDayRows = (await perDay(db, since, now, where)).filter(
    (d) => d.reported || d.confirmed || d.legitimate,
  );
  const blocked = await db
    .select({ id: phishingBlocklist.id, kind: phishingBlocklist.kind, value: phishingBlocklist.value })
    .from(phishingBlocklist)
    .where(
      and(
        eq(phishingBlocklist.workspaceId, PHISHING_WORKSPACE),
        by.sender
          ? eq(phishingBlocklist.value, by.sender.toLowerCase())
          : eq(phishingBlocklist.value, (by.domain ?? '').toLowerCase()),
      ),
    );
  return { total, byState, byVerdict, days: perDayRows, blocked };
}
