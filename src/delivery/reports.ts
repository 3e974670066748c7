// Apply inbound reports (bounces: DSN; complaints: ARF) to the ledger, the
// contact and the suppression list. Called by the inbound listener for each
// stored report (`onReport`) and by a periodic sweep for reports left with
// processed_at null (listener handler failed, process died, ledger row not
// visible yet).
//
// Matching: the VERP return path first (its MAC proves we sent that message to
// that contact), then the original Message-ID (also MACed, compose.ts). A report
// that matches nothing we sent, or that could not be parsed, keeps
// processed_at null and stays in inbound_reports for review — never dropped.
//
// Effects:
//   hard bounce  → ledger row 'bounced' (if it was sent), suppression
//                  'hard_bounced', the contact's queued rows suppressed,
//                  engagement 'bounced', timeline.
//   soft bounce  → ledger row 'bounced' (this message did not arrive),
//                  engagement 'bounced', timeline; SOFT_BOUNCE_THRESHOLD soft
//                  bounces within SOFT_BOUNCE_WINDOW_DAYS suppress the address
//                  like a hard bounce. 'delayed' DSNs are warnings: no effect.
//   complaint    → suppression 'complained', marketing consent unsubscribed,
//                  queued rows suppressed, engagement 'complained', timeline.
import { redactAddresses } from './redact.ts';
import { and, asc, eq, gte, inArray, isNull, sql } from 'drizzle-orm';
import type PgBoss from 'pg-boss';
import { type Actor, appendAudit, systemActor } from '../audit/service.ts';
import { campaignRecipients } from '../campaigns/schema.ts';
import type { Logger } from '../config/logger.ts';
import { contactActivities } from '../contacts/schema.ts';
import { addActivity, decodeContact, getContactRow, suppress } from '../contacts/service.ts';
import type { Keyring } from '../crypto/field-cipher.ts';
import { countAll, type Db, type Tx } from '../db/client.ts';
import type { JobDefinition } from '../jobs/boss.ts';
import {
  type DsnRecipient,
  messageIdKey,
  parseMessageId,
  parseVerp,
  type Report,
  verpKey,
} from './bounces.ts';
import {
  auditOptOut,
  ledgerKey,
  ledgerRow,
  type OptOut,
  optOutTx,
  recordOnce,
  suppressQueued,
} from './feedback.ts';
import type { StoredReport } from './inbound.ts';
import { inboundReports } from './schema.ts';

/** Soft bounces of one address within the window that make it undeliverable (suppressed as hard_bounced). */
export const SOFT_BOUNCE_THRESHOLD = 3;
export const SOFT_BOUNCE_WINDOW_DAYS = 30;
/** The sweep retries unprocessed parsed reports this long; older ones wait for a person. */
export const SWEEP_MAX_AGE_DAYS = 7;

export type ReportContext = {
  db: Db;
  keyring: () => Promise<Keyring>;
  masterKey: Buffer;
  bounceDomain: string;
  logger?: Logger;
};

export type ApplyOutcome =
  | {
      status: 'applied';
      effect:
        | 'hard_bounce'
        | 'soft_bounce'
        | 'soft_bounce_suppressed'
        | 'complaint'
        | 'delayed'
        | 'delivered'
        | 'ignored';
    }
  | { status: 'unmatched' | 'unparseable' | 'skipped' };

const actor: Actor = systemActor('bounce processor');

/** The (campaign, contact) of a report: VERP first, then the original Message-ID. */
export function matchReport(
  ctx: Pick<ReportContext, 'masterKey' | 'bounceDomain'>,
  report: Report,
  envelopeTo: string[] = [],
) {
  const vk = verpKey(ctx.masterKey);
  for (const address of [report.verp, ...envelopeTo]) {
    const m = parseVerp(vk, address, ctx.bounceDomain);
    if (m) return { ...m, via: 'verp' as const };
  }
  const m = parseMessageId(messageIdKey(ctx.masterKey), report.originalMessageId);
  return m ? { ...m, via: 'message_id' as const } : null;
}

/** The recipient that decides: any hard failure, else a failure, else a delay, else success. */
function decisive(recipients: DsnRecipient[]): DsnRecipient | null {
  return (
    recipients.find((r) => r.class === 'hard') ??
    recipients.find((r) => r.action === 'failed') ??
    recipients.find((r) => r.action === 'delayed') ??
    recipients[0] ??
    null
  );
}

/** The ledger holds no PII: addresses in a diagnostic ("<bob@x>: no such user") are blanked. */
export function ledgerResponse(r: DsnRecipient): { code: number; text: string } {
  const diagnostic = redactAddresses(r.diagnosticCode ?? '');
  const code = Number(/\b([45]\d\d)\b/.exec(diagnostic)?.[1] ?? (r.class === 'hard' ? 550 : 450));
  return { code, text: `${r.status ?? ''} ${diagnostic}`.trim().slice(0, 500) };
}

async function suppressContact(tx: Tx, kr: Keyring, contactId: string, note: string): Promise<boolean> {
  const row = await getContactRow(tx, contactId);
  if (!row) return false;
  await suppress(tx, kr, decodeContact(kr, row).email, 'hard_bounced', note);
  return true;
}

async function softBouncesRecently(tx: Tx, contactId: string): Promise<number> {
  const since = new Date(Date.now() - SOFT_BOUNCE_WINDOW_DAYS * 86400_000);
  const [r] = await tx
    .select({ n: countAll })
    .from(contactActivities)
    .where(
      and(
        eq(contactActivities.contactId, contactId),
        eq(contactActivities.kind, 'mail'),
        gte(contactActivities.at, since),
        sql`${contactActivities.details}->>'event' = 'soft_bounce'`,
      ),
    );
  return r?.n ?? 0;
}

type Pending = {
  audit?: { action: string; contactId: string; details: Record<string, unknown> };
  optOut?: { o: OptOut; result: Awaited<ReturnType<typeof optOutTx>> };
};

async function applyDsn(
  tx: Tx,
  kr: Keyring,
  campaignId: number,
  contactId: string,
  report: Extract<Report, { kind: 'dsn' }>,
  pending: Pending,
) {
  const r = decisive(report.recipients);
  if (!r || r.class === 'success') return 'delivered' as const;
  if (r.action === 'delayed') return 'delayed' as const;
  const { code, text } = ledgerResponse(r);
  await tx
    .update(campaignRecipients)
    .set({ state: 'bounced', lastCode: code, lastResponse: text })
    .where(
      and(
        eq(campaignRecipients.campaignId, campaignId),
        eq(campaignRecipients.contactId, contactId),
        eq(campaignRecipients.state, 'sent'),
      ),
    );
  await recordOnce(tx, campaignId, contactId, 'bounced');
  const hard = r.class === 'hard';
  const exists = (await getContactRow(tx, contactId)) !== null;
  if (exists)
    await addActivity(tx, kr, actor, {
      contactId,
      kind: 'mail',
      details: {
        event: hard ? 'bounced' : 'soft_bounce',
        campaignId,
        status: r.status,
        category: r.category,
      },
    });
  let suppressed = hard;
  if (!hard && exists) suppressed = (await softBouncesRecently(tx, contactId)) >= SOFT_BOUNCE_THRESHOLD;
  if (!suppressed) return 'soft_bounce' as const;
  const note = hard
    ? `hard bounce ${r.status ?? ''}`.trim()
    : `${SOFT_BOUNCE_THRESHOLD} soft bounces within ${SOFT_BOUNCE_WINDOW_DAYS} days`;
  await suppressContact(tx, kr, contactId, note);
  const rows = await suppressQueued(tx, contactId, 'hard_bounced');
  pending.audit = {
    action: 'contact.suppressed',
    contactId,
    details: { reason: 'hard_bounced', note, campaignId, status: r.status, ledgerRowsSuppressed: rows },
  };
  return hard ? ('hard_bounce' as const) : ('soft_bounce_suppressed' as const);
}

/** Feedback types that are not a person's complaint (RFC 5965/6591): a "not spam" vote, an authentication failure report. */
const NOT_COMPLAINTS = new Set(['not-spam', 'auth-failure']);

async function applyArf(
  tx: Tx,
  kr: Keyring,
  campaignId: number,
  contactId: string,
  report: Extract<Report, { kind: 'arf' }>,
  pending: Pending,
) {
  if (NOT_COMPLAINTS.has(report.feedbackType)) return 'ignored' as const;
  const o: OptOut = {
    campaignId,
    contactId,
    reason: 'complained',
    source: 'complaint',
    evidence: { feedbackType: report.feedbackType, reporter: report.userAgent },
  };
  const result = await optOutTx(tx, kr, actor, o);
  if (result.contactFound)
    await addActivity(tx, kr, actor, {
      contactId,
      kind: 'mail',
      details: { event: 'complained', campaignId, feedbackType: report.feedbackType },
    });
  pending.optOut = { o, result };
  return 'complaint' as const;
}

/**
 * Apply one stored report, once: the row is locked (SKIP LOCKED, so the
 * listener and a sweep in another process never both apply it) and
 * processed_at is set in the same transaction as the effects.
 */
export async function applyStoredReport(ctx: ReportContext, id: number): Promise<ApplyOutcome> {
  const kr = await ctx.keyring();
  const pending: Pending = {};
  const outcome = await ctx.db.transaction(async (tx): Promise<ApplyOutcome> => {
    const [row] = await tx
      .select()
      .from(inboundReports)
      .where(eq(inboundReports.id, id))
      .for('update', { skipLocked: true });
    if (!row || row.processedAt) return { status: 'skipped' };
    if (row.parseStatus !== 'parsed' || !row.summary) return { status: 'unparseable' };
    const report = row.summary as unknown as Report;
    const match = matchReport(ctx, report, row.envelopeTo);
    const key = match ? ledgerKey(match.campaignId, match.contactId) : null;
    if (!key || !(await ledgerRow(tx, key.campaignId, key.contactId))) return { status: 'unmatched' };
    const effect =
      report.kind === 'dsn'
        ? await applyDsn(tx, kr, key.campaignId, key.contactId, report, pending)
        : await applyArf(tx, kr, key.campaignId, key.contactId, report, pending);
    await tx.update(inboundReports).set({ processedAt: new Date() }).where(eq(inboundReports.id, id));
    return { status: 'applied', effect };
  });
  if (pending.audit)
    await appendAudit(ctx.db, actor, {
      action: pending.audit.action,
      target: `contact:${pending.audit.contactId}`,
      details: pending.audit.details,
    });
  if (pending.optOut) await auditOptOut(ctx.db, actor, pending.optOut.o, pending.optOut.result);
  if (outcome.status === 'unmatched' || outcome.status === 'unparseable')
    ctx.logger?.info({ report: id, status: outcome.status }, 'inbound report kept for review');
  return outcome;
}

/** The listener's `onReport`. */
export function reportHandler(ctx: ReportContext): (r: StoredReport) => Promise<void> {
  return async (r) => {
    await applyStoredReport(ctx, r.id);
  };
}

/** Apply parsed reports still unprocessed (oldest first). Unparseable ones wait for a person. */
export async function sweepReports(
  ctx: ReportContext,
  limit = 500,
): Promise<Record<ApplyOutcome['status'], number>> {
  const since = new Date(Date.now() - SWEEP_MAX_AGE_DAYS * 86400_000);
  const ids = await ctx.db
    .select({ id: inboundReports.id })
    .from(inboundReports)
    .where(
      and(
        isNull(inboundReports.processedAt),
        inArray(inboundReports.parseStatus, ['parsed']),
        gte(inboundReports.receivedAt, since),
      ),
    )
    .orderBy(asc(inboundReports.id))
    .limit(limit);
  const counts = { applied: 0, unmatched: 0, unparseable: 0, skipped: 0 };
  for (const { id } of ids) {
    try {
      counts[(await applyStoredReport(ctx, id)).status]++;
    } catch (err) {
      ctx.logger?.error({ err, report: id }, 'inbound report could not be applied');
    }
  }
  return counts;
}

// ---- the sweep job ------------------------------------------------------------------------

export const REPORT_SWEEP_QUEUE = 'delivery-report-sweep';
let runtime: ReportContext | null = null;

export const reportSweepJob: JobDefinition = {
  queue: REPORT_SWEEP_QUEUE,
  options: { batchSize: 1 },
  async handler() {
    if (!runtime) return; // a process without report processing configured (no bounce domain)
    const counts = await sweepReports(runtime);
    if (counts.applied) runtime.logger?.info(counts, 'inbound reports applied by the sweep');
  },
};

/**
 * `serve`/`worker`: give the sweep job its context, run it every 5 minutes
 * (pg-boss cron: once per cluster, not per process) and once now for reports
 * a previous run left behind.
 */
export async function startReportProcessing(boss: PgBoss, ctx: ReportContext): Promise<void> {
  runtime = ctx;
  try {
    await boss.schedule(REPORT_SWEEP_QUEUE, '*/5 * * * *');
    await boss.send(REPORT_SWEEP_QUEUE, {}, { singletonKey: 'start' });
  } catch (err) {
    ctx.logger?.warn({ err }, 'inbound report sweep not scheduled');
  }
}
