// Alert notifications. Both channels go through the `notifications` outbox:
//  - email: rows wait for the delivery engine, which drains them through
//    `claimEmailNotifications` / `markNotification` (mailwarden has no sender yet);
//  - webhook: a signed POST sent by the `monitoring.webhook` pg-boss job
//    (timeout, retried with backoff by pg-boss).
// Signature: header `X-Mailwarden-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type PgBoss from 'pg-boss';
import type { Database, Tx } from '../db/client.ts';
import type { JobDefinition } from '../jobs/boss.ts';
import type { MonitoringConfig } from './config.ts';
import { type monitoringAlerts, notifications, type Severity, severities } from './schema.ts';

type Alert = typeof monitoringAlerts.$inferSelect;
export type NotificationRow = typeof notifications.$inferSelect;
export const WEBHOOK_QUEUE = 'monitoring.webhook';
export const SIGNATURE_HEADER = 'x-mailwarden-signature';
export const REPLAY_WINDOW_SEC = 300;

const atLeast = (s: Severity, min: Severity) => severities.indexOf(s) >= severities.indexOf(min);

export function alertPayload(a: Alert, publicUrl?: string) {
  return {
    event: 'alert.created',
    alert: {
      id: a.id,
      detector: a.detector,
      severity: a.severity,
      title: a.title,
      entityType: a.entityType,
      entity: a.entity,
      firstSeen: a.firstSeen,
      lastSeen: a.lastSeen,
      eventCount: a.eventCount,
      url: publicUrl ? `${publicUrl.replace(/\/$/, '')}/monitoring/alerts/${a.id}` : undefined,
    },
  };
}

/** Write outbox rows for new alerts, per channel and severity; queue webhook sends. */
export async function notifyAlerts(database: Database, config: MonitoringConfig, alerts: Alert[], boss?: PgBoss): Promise<number> {
  const rows: (typeof notifications.$inferInsert)[] = [];
  for (const a of alerts) {
    const subject = `[mailwarden ${a.severity}] ${a.title}`;
    const body = `${a.title}\n\nDetector: ${a.detector}\nEntity: ${a.entityType} ${a.entity}\nSeverity: ${a.severity}\nEvents: ${a.eventCount}\nFirst seen: ${a.firstSeen.toISOString()}\nLast seen: ${a.lastSeen.toISOString()}\n\nOpen the alert in mailwarden: Monitoring → Alerts → #${a.id}`;
    const payload = alertPayload(a);
    if (atLeast(a.severity, config.notify.email.minSeverity))
      for (const to of config.notify.email.recipients) rows.push({ channel: 'email', recipient: to, subject, body, payload, alertId: a.id, severity: a.severity });
    for (const w of config.notify.webhooks)
      if (atLeast(a.severity, w.minSeverity)) rows.push({ channel: 'webhook', recipient: w.url, subject, body: JSON.stringify(payload), payload, alertId: a.id, severity: a.severity });
  }
  if (!rows.length) return 0;
  const inserted = await database.db.insert(notifications).values(rows).returning({ id: notifications.id, channel: notifications.channel });
  if (boss)
    for (const r of inserted)
      if (r.channel === 'webhook') await boss.send(WEBHOOK_QUEUE, { id: r.id }, { retryLimit: 6, retryDelay: 10, retryBackoff: true, expireInSeconds: 60 });
  return inserted.length;
}

export function signWebhook(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

/** For receivers: true when the signature matches and its timestamp is within the replay window. */
export function verifyWebhookSignature(secret: string, header: string | undefined, body: string, nowSec = Math.floor(Date.now() / 1000), windowSec = REPLAY_WINDOW_SEC): boolean {
  if (!header) return false;
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(nowSec - t) > windowSec || !parts.v1) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  const got = Buffer.from(parts.v1);
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/** Send one webhook notification; throws on failure so pg-boss retries it. */
export async function deliverWebhook(db: Tx, config: MonitoringConfig, id: number, timeoutMs = 5000): Promise<'sent' | 'skipped'> {
  const [n] = await db.select().from(notifications).where(eq(notifications.id, id));
  if (n?.channel !== 'webhook' || n.status === 'sent') return 'skipped';
  const target = config.notify.webhooks.find((w) => w.url === n.recipient);
  if (!target) {
    await db.update(notifications).set({ status: 'failed', lastError: 'webhook no longer configured' }).where(eq(notifications.id, id));
    return 'skipped';
  }
  const body = n.body;
  try {
    const res = await fetch(n.recipient, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'mailwarden-webhook/1', [SIGNATURE_HEADER]: signWebhook(target.secret, body), 'x-mailwarden-delivery': String(id) },
      body,
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    await db.update(notifications).set({ status: 'sent', sentAt: new Date(), attempts: sql`${notifications.attempts} + 1`, lastError: null }).where(eq(notifications.id, id));
    return 'sent';
  } catch (err) {
    await db.update(notifications).set({ attempts: sql`${notifications.attempts} + 1`, lastError: String((err as Error).message ?? err).slice(0, 500) }).where(eq(notifications.id, id));
    throw err;
  }
}

/** For the delivery engine: take up to `limit` pending e-mail notifications (oldest first). */
export async function claimEmailNotifications(db: Tx, limit = 100): Promise<NotificationRow[]> {
  return db.select().from(notifications).where(and(eq(notifications.channel, 'email'), eq(notifications.status, 'pending'))).orderBy(asc(notifications.id)).limit(limit);
}

/** For the delivery engine: record the outcome of sending notifications. */
export async function markNotification(db: Tx, ids: number[], outcome: { sent: true } | { sent: false; error: string }): Promise<void> {
  if (!ids.length) return;
  await db
    .update(notifications)
    .set(outcome.sent ? { status: 'sent', sentAt: new Date() } : { status: 'failed', lastError: outcome.error, attempts: sql`${notifications.attempts} + 1` })
    .where(inArray(notifications.id, ids));
}

let jobDatabase: Database | undefined;
let jobConfig: (() => Promise<MonitoringConfig>) | undefined;
export function configureWebhookJob(database: Database, config: () => Promise<MonitoringConfig>) {
  jobDatabase = database;
  jobConfig = config;
}

export const webhookJob: JobDefinition = {
  queue: WEBHOOK_QUEUE,
  async handler(jobs) {
    if (!jobDatabase || !jobConfig) throw new Error('monitoring webhook job not configured');
    const config = await jobConfig();
    for (const job of jobs) await deliverWebhook(jobDatabase.db, config, Number((job.data as { id: number }).id));
  },
};
