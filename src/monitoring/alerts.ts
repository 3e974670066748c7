// Alert grouping: detections of the same detector + entity join the open (or
// acknowledged) alert whose last event is within the group window; otherwise a
// new alert starts. Written in at most two statements per batch (one UPDATE …
// FROM unnest for the alerts that grow, one multi-row INSERT for new ones).
import type { Database } from '../db/client.ts';
import type { Detection } from './detectors/types.ts';
import { monitoringAlerts, type Severity, severities } from './schema.ts';

export type AlertRow = typeof monitoringAlerts.$inferSelect;

const EVIDENCE_CAP = 500;
const sevRank = (s: Severity) => severities.indexOf(s);

type Group = { id: number; lastSeen: number; severity: Severity; evidence: Set<number>; stored: number };
/** first: earliest detection (grouping); since: earliest evidence event (the alert's first seen). */
type Pending = {
  key: string;
  d: Detection;
  severity: Severity;
  first: number;
  since: number;
  last: number;
  ids: Set<number>;
};

export class AlertGroups {
  private groups = new Map<string, Group>();
  constructor(
    private readonly database: Database,
    private readonly windowMinutes: () => number,
  ) {}

  clear() {
    this.groups.clear();
  }

  /** The open alerts, so detections after a restart keep joining them. */
  async load() {
    const open = await this.database.query<{
      id: number;
      detector: string;
      entity_type: string;
      entity: string;
      last_seen: Date | string;
      severity: Severity;
      evidence: number[];
    }>(
      `SELECT id, detector, entity_type, entity, last_seen, severity, evidence FROM monitoring_alerts WHERE state IN ('open', 'acknowledged') ORDER BY id DESC LIMIT 20000`,
    );
    for (const a of open.reverse())
      this.groups.set(`${a.detector}|${a.entity_type}|${a.entity}`, {
        id: Number(a.id),
        lastSeen: new Date(a.last_seen).getTime(),
        severity: a.severity,
        evidence: new Set(a.evidence),
        stored: a.evidence.length,
      });
  }

  /** An alert closed by a person: later detections start a new alert. */
  forget(id: number) {
    for (const [k, g] of this.groups) if (g.id === id) this.groups.delete(k);
  }

  /** Group detections per incident; extend open alerts and insert new ones, two statements at most. */
  async write(ds: Detection[]): Promise<{ created: AlertRow[]; updated: number }> {
    const pending = new Map<string, Pending>();
    for (const d of ds) {
      const key = `${d.detector}|${d.entityType}|${d.entity}`;
      const t = d.at.getTime();
      const since = d.since != null && d.since < t ? d.since : t;
      let p = pending.get(key);
      if (!p)
        pending.set(key, (p = { key, d, severity: d.severity, first: t, since, last: t, ids: new Set() }));
      for (const id of d.eventIds) p.ids.add(id);
      if (t > p.last) {
        p.last = t;
        p.d = { ...d, details: d.details };
      }
      if (t < p.first) p.first = t;
      if (since < p.since) p.since = since;
      if (sevRank(d.severity) > sevRank(p.severity)) p.severity = d.severity;
    }
    const windowMs = this.windowMinutes() * 60_000;
    const inserts: Pending[] = [];
    const updates: { g: Group; p: Pending; newIds: number[]; n: number }[] = [];
    for (const p of pending.values()) {
      const g = this.groups.get(p.key);
      if (g && p.first - g.lastSeen <= windowMs) {
        const fresh = [...p.ids].filter((id) => !g.evidence.has(id));
        const room = Math.max(0, EVIDENCE_CAP - g.stored);
        const newIds = fresh.slice(0, room);
        for (const id of newIds) g.evidence.add(id);
        g.stored += newIds.length;
        g.lastSeen = Math.max(g.lastSeen, p.last);
        if (sevRank(p.severity) > sevRank(g.severity)) g.severity = p.severity;
        updates.push({ g, p, newIds, n: fresh.length });
      } else inserts.push(p);
    }
    let updated = 0;
    if (updates.length) {
      const still = await this.database.query<{ id: number }>(
        `UPDATE monitoring_alerts a SET last_seen = GREATEST(a.last_seen, u.last_seen), event_count = a.event_count + u.n,
           evidence = a.evidence || u.ev, severity = u.sev, title = u.title, details = u.details, updated_at = now()
         FROM unnest($1::int8[], $2::timestamptz[], $3::int[], $4::jsonb[], $5::text[], $6::text[], $7::jsonb[]) AS u(id, last_seen, n, ev, sev, title, details)
         WHERE a.id = u.id AND a.state IN ('open', 'acknowledged') RETURNING a.id`,
        [
          updates.map((u) => u.g.id),
          updates.map((u) => new Date(u.p.last).toISOString()),
          updates.map((u) => u.n),
          updates.map((u) => JSON.stringify(u.newIds)),
          updates.map((u) => u.g.severity),
          updates.map((u) => u.p.d.title),
          updates.map((u) => JSON.stringify(u.p.d.details)),
        ],
      );
      // Closed meanwhile (by an analyst, possibly through another process): the detections start a new alert.
      const open = new Set(still.map((r) => Number(r.id)));
      for (const u of updates) {
        if (open.has(u.g.id)) updated++;
        else {
          this.groups.delete(u.p.key);
          inserts.push(u.p);
        }
      }
    }
    let created: AlertRow[] = [];
    if (inserts.length) {
      created = await this.database.db
        .insert(monitoringAlerts)
        .values(
          inserts.map((p) => {
            const ids = [...p.ids].slice(0, EVIDENCE_CAP);
            return {
              detector: p.d.detector,
              severity: p.severity,
              entityType: p.d.entityType,
              entity: p.d.entity,
              title: p.d.title,
              firstSeen: new Date(p.since),
              lastSeen: new Date(p.last),
              eventCount: p.ids.size,
              evidence: ids,
              details: p.d.details,
            };
          }),
        )
        .returning();
      created.forEach((row, i) => {
        const p = inserts[i];
        const ids = new Set([...p.ids].slice(0, EVIDENCE_CAP));
        this.groups.set(p.key, {
          id: row.id,
          lastSeen: p.last,
          severity: p.severity,
          evidence: ids,
          stored: ids.size,
        });
      });
    }
    return { created, updated };
  }
}
