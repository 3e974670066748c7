// Reads for the console and the API: activity explorer, alerts inbox, trend.
import { and, desc, eq, gte, inArray, lt, lte, type SQL, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { rows } from '../db/client.ts';
import { alertResponses, type AlertState, monitoringAlerts, securityEvents, type Severity } from './schema.ts';

export type EventFilter = { user?: string; ip?: string; country?: string; type?: string; source?: string; from?: Date; to?: Date; before?: number; limit?: number };

export async function listEvents(db: Tx, f: EventFilter) {
  const conds: SQL[] = [];
  if (f.user) conds.push(eq(securityEvents.actor, f.user.toLowerCase()));
  if (f.ip) conds.push(eq(securityEvents.ip, f.ip));
  if (f.country) conds.push(eq(securityEvents.country, f.country.toUpperCase()));
  if (f.type) conds.push(f.type.endsWith('*') ? sql`${securityEvents.type} LIKE ${`${f.type.slice(0, -1)}%`}` : eq(securityEvents.type, f.type));
  if (f.source) conds.push(eq(securityEvents.source, f.source));
  if (f.from) conds.push(gte(securityEvents.at, f.from));
  if (f.to) conds.push(lte(securityEvents.at, f.to));
  if (f.before) conds.push(lt(securityEvents.id, f.before));
  const limit = Math.min(f.limit ?? 100, 1000);
  const items = await db.select().from(securityEvents).where(conds.length ? and(...conds) : undefined).orderBy(desc(securityEvents.id)).limit(limit + 1);
  const more = items.length > limit;
  if (more) items.pop();
  return { items, nextBefore: more ? items[items.length - 1].id : null };
}

export type AlertFilter = { state?: AlertState[]; severity?: Severity[]; detector?: string; entity?: string; from?: Date; to?: Date; before?: number; limit?: number };

export async function listAlerts(db: Tx, f: AlertFilter) {
  const conds: SQL[] = [];
  if (f.state?.length) conds.push(inArray(monitoringAlerts.state, f.state));
  if (f.severity?.length) conds.push(inArray(monitoringAlerts.severity, f.severity));
  if (f.detector) conds.push(eq(monitoringAlerts.detector, f.detector));
  if (f.entity) conds.push(sql`${monitoringAlerts.entity} ILIKE ${`%${f.entity.replace(/[%_\\]/g, (c) => `\\${c}`)}%`}`);
  if (f.from) conds.push(gte(monitoringAlerts.lastSeen, f.from));
  if (f.to) conds.push(lte(monitoringAlerts.firstSeen, f.to));
  if (f.before) conds.push(lt(monitoringAlerts.id, f.before));
  const limit = Math.min(f.limit ?? 50, 500);
  const items = await db.select().from(monitoringAlerts).where(conds.length ? and(...conds) : undefined).orderBy(desc(monitoringAlerts.id)).limit(limit + 1);
  const more = items.length > limit;
  if (more) items.pop();
  return { items, nextBefore: more ? items[items.length - 1].id : null };
}

export async function getAlert(db: Tx, id: number) {
  const [alert] = await db.select().from(monitoringAlerts).where(eq(monitoringAlerts.id, id));
  if (!alert) return null;
  const evidence = alert.evidence.length
    ? await db.select().from(securityEvents).where(inArray(securityEvents.id, alert.evidence)).orderBy(securityEvents.at, securityEvents.id)
    : [];
  const responses = await db.select().from(alertResponses).where(eq(alertResponses.alertId, id)).orderBy(alertResponses.id);
  return { alert, evidence, responses: responses.map(({ undo: _undo, ...r }) => r) };
}

/** Alerts created per day and severity over the last `days` days. */
export async function alertTrend(db: Tx, days: number) {
  return rows<{ day: string; severity: Severity; n: number }>(
    db,
    sql`SELECT to_char(date_trunc('day', first_seen), 'YYYY-MM-DD') AS day, severity, count(*)::int AS n
        FROM monitoring_alerts WHERE first_seen > now() - make_interval(days => ${days})
        GROUP BY 1, 2 ORDER BY 1`,
  );
}
