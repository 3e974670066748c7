// The monitor: one per database, fed by every ingest path (mailwarden's own
// audit entries, POST /api/events, the CLI). Per batch it enriches events with
// geo data, inserts them in one statement, runs the in-memory detectors, and
// writes the resulting alerts grouped per incident (detector + entity + time
// window) in batched statements — no per-event round trips. Detector state is
// rebuilt from the events table on start.
import type PgBoss from 'pg-boss';
import type { Logger } from '../config/logger.ts';
import type { Database } from '../db/client.ts';
import { loadConfig, type MonitoringConfig } from './config.ts';
import { detectors } from './detectors/index.ts';
import type { Detection, DetectorContext, DetectorDef, DetectorState } from './detectors/types.ts';
import type { MonitorEvent, StoredEvent } from './events.ts';
import { geoLookup } from './geo.ts';
import { notifyAlerts } from './notify.ts';
import { applyResponse } from './responses.ts';
import { monitoringAlerts, type Severity, severities } from './schema.ts';
import { insertEvents, pruneEvents } from './store.ts';

export type AlertRow = typeof monitoringAlerts.$inferSelect;
export type IngestResult = { accepted: number; alertsCreated: number; alertsUpdated: number };

const EVIDENCE_CAP = 500;
const sevRank = (s: Severity) => severities.indexOf(s);

type Group = { id: number; lastSeen: number; severity: Severity; evidence: Set<number>; stored: number };
type Pending = { key: string; d: Detection; severity: Severity; first: number; last: number; ids: Set<number> };

export function enrich(e: MonitorEvent): MonitorEvent {
  if (e.ip && e.lat == null) {
    const g = geoLookup(e.ip);
    if (g) {
      e.country ??= g.country;
      e.city ??= g.city;
      e.lat = g.lat;
      e.lon = g.lon;
    }
  }
  return e;
}

export class Monitor {
  config!: MonitoringConfig;
  private states = new Map<string, DetectorState>();
  private byType = new Map<string, DetectorDef[]>();
  private contexts = new Map<string, DetectorContext>();
  private groups = new Map<string, Group>();
  private detections: Detection[] = [];
  private buffer: MonitorEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private sinceSweep = 0;
  private maxT = 0;
  private knownKeyIps = new Map<string, Set<string>>();
  readonly ready: Promise<void>;
  boss: PgBoss | undefined;
  stopped = false;

  constructor(
    readonly database: Database,
    readonly opts: { logger?: Logger; flushMs?: number; replayHours?: number; prune?: boolean } = {},
  ) {
    this.ready = this.start();
    this.ready.catch((err) => opts.logger?.error({ err }, 'monitoring: start failed'));
  }

  private async start() {
    await this.reloadConfig();
    for (const d of detectors) this.states.set(d.id, d.create());
    const q = <T>(sql: string, params?: unknown[]) => this.database.query<T>(sql, params);
    for (const s of this.states.values()) await s.warm?.(q);
    const keyIps = await q<{ k: string; ip: string }>(`SELECT DISTINCT coalesce(actor_id, actor) AS k, ip FROM security_events WHERE type = 'apikey.used' AND ip IS NOT NULL`);
    for (const r of keyIps) this.keyIps(r.k).add(r.ip);
    // Replay recent events silently so windows and baselines continue where they were.
    const hours = this.opts.replayHours ?? 24;
    let last = 0;
    for (;;) {
      const rows = await q<Record<string, unknown>>(
        `SELECT * FROM security_events WHERE at > now() - make_interval(hours => $1) AND id > $2 ORDER BY id LIMIT 10000`,
        [hours, last],
      );
      if (!rows.length) break;
      for (const r of rows) this.observe(rowToEvent(r));
      last = Number(rows[rows.length - 1].id);
    }
    this.detections = [];
    const open = await q<{ id: number; detector: string; entity_type: string; entity: string; last_seen: Date | string; severity: Severity; evidence: number[] }>(
      `SELECT id, detector, entity_type, entity, last_seen, severity, evidence FROM monitoring_alerts WHERE state IN ('open', 'acknowledged') ORDER BY id DESC LIMIT 20000`,
    );
    for (const a of open.reverse())
      this.groups.set(`${a.detector}|${a.entity_type}|${a.entity}`, { id: Number(a.id), lastSeen: new Date(a.last_seen).getTime(), severity: a.severity, evidence: new Set(a.evidence), stored: a.evidence.length });
    if (this.opts.prune !== false) {
      this.pruneTimer = setInterval(() => void this.prune().catch((err) => this.opts.logger?.error({ err }, 'monitoring: prune failed')), 3_600_000);
      this.pruneTimer.unref();
    }
  }

  async reloadConfig() {
    this.config = await loadConfig(this.database.db);
    this.byType.clear();
    this.contexts.clear();
    for (const d of detectors) {
      const s = this.config.detectors[d.id];
      if (!s?.enabled) continue;
      for (const t of d.types) this.byType.set(t, [...(this.byType.get(t) ?? []), d]);
      this.contexts.set(d.id, {
        params: s.params,
        severity: s.severity,
        workingHours: this.config.workingHours,
        emit: (x) => this.detections.push({ ...x, detector: d.id, severity: x.severity ?? s.severity }),
      });
    }
  }

  private keyIps(k: string) {
    let s = this.knownKeyIps.get(k);
    if (!s) this.knownKeyIps.set(k, (s = new Set()));
    return s;
  }

  /** Run the detectors over one stored event (detections collect in this.detections). */
  private observe(e: StoredEvent) {
    const ds = this.byType.get(e.type);
    if (ds) for (const d of ds) this.states.get(d.id)!.observe(e, this.contexts.get(d.id)!);
    const t = e.at.getTime();
    if (t > this.maxT) this.maxT = t;
    if (++this.sinceSweep >= 20_000) {
      this.sinceSweep = 0;
      for (const d of detectors) this.states.get(d.id)?.sweep?.(this.maxT, this.config.detectors[d.id].params);
    }
  }

  /**
   * Store events, run detectors, write alerts. Ids are reserved from the
   * sequence up front so the detectors run (in call order) while the INSERT is
   * in flight; alert writes are serialised among themselves. The promise
   * resolves once the batch's events and alerts are committed.
   */
  ingest(events: MonitorEvent[]): Promise<IngestResult> {
    const staged = this.stage.then(() => this.detect(events));
    this.stage = staged.then(() => undefined).catch(() => undefined);
    const done = staged.then(async ({ stored, detections, inserted }) => {
      await inserted;
      const run = this.alertChain.then(() => (detections.length ? this.writeAlerts(detections) : { created: [], updated: 0 }));
      this.alertChain = run.then(() => undefined).catch(() => undefined);
      const { created, updated } = await run;
      if (created.length) await this.afterNewAlerts(created);
      return { accepted: stored.length, alertsCreated: created.length, alertsUpdated: updated };
    });
    const settled = done.then(
      () => undefined,
      () => undefined,
    );
    this.inflight.add(settled);
    void settled.then(() => this.inflight.delete(settled));
    return done;
  }

  private stage: Promise<unknown> = Promise.resolve();
  private alertChain: Promise<unknown> = Promise.resolve();
  private inflight = new Set<Promise<unknown>>();
  private idPool: number[] = [];
  private idHead = 0;

  private async reserveIds(n: number): Promise<number[]> {
    if (this.idPool.length - this.idHead < n) {
      const want = Math.max(n, 20_000);
      const rows = await this.database.query<{ id: number }>(`SELECT nextval('security_events_id_seq')::int8 AS id FROM generate_series(1, $1)`, [want]);
      this.idPool = [...this.idPool.slice(this.idHead), ...rows.map((r) => Number(r.id))];
      this.idHead = 0;
    }
    const ids = this.idPool.slice(this.idHead, this.idHead + n);
    this.idHead += n;
    return ids;
  }

  private async detect(events: MonitorEvent[]) {
    await this.ready;
    const ids = await this.reserveIds(events.length);
    const stored = events.map((e, i) => ({ ...enrich(e), id: ids[i] }));
    const inserted = stored.length ? insertEvents(this.database, stored) : Promise.resolve([]);
    inserted.catch(() => undefined);
    this.detections = [];
    for (const e of stored) this.observe(e);
    const detections = this.detections;
    this.detections = [];
    return { stored, detections, inserted };
  }

  /** Group detections per incident; insert new alerts and extend existing ones, two statements at most. */
  private async writeAlerts(ds: Detection[]): Promise<{ created: AlertRow[]; updated: number }> {
    const pending = new Map<string, Pending>();
    for (const d of ds) {
      const key = `${d.detector}|${d.entityType}|${d.entity}`;
      const t = d.at.getTime();
      let p = pending.get(key);
      if (!p) pending.set(key, (p = { key, d, severity: d.severity, first: t, last: t, ids: new Set() }));
      for (const id of d.eventIds) p.ids.add(id);
      if (t > p.last) {
        p.last = t;
        p.d = { ...d, details: d.details };
      }
      if (t < p.first) p.first = t;
      if (sevRank(d.severity) > sevRank(p.severity)) p.severity = d.severity;
    }
    const windowMs = this.config.groupWindowMinutes * 60_000;
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
              firstSeen: new Date(p.first),
              lastSeen: new Date(p.last),
              eventCount: p.ids.size,
              evidence: ids,
              details: p.d.details,
            };
          }),
        )
        .returning();
      // First seen = the earliest evidence event, not the moment the threshold was crossed.
      await this.database.query(
        `UPDATE monitoring_alerts a SET first_seen = s.m FROM (
           SELECT a2.id, min(e.at) AS m FROM monitoring_alerts a2
           CROSS JOIN LATERAL jsonb_array_elements_text(a2.evidence) AS x(v)
           JOIN security_events e ON e.id = x.v::bigint
           WHERE a2.id = ANY($1::int8[]) GROUP BY a2.id) s
         WHERE a.id = s.id AND s.m < a.first_seen`,
        [created.map((c) => c.id)],
      );
      created.forEach((row, i) => {
        const p = inserts[i];
        const ids = new Set([...p.ids].slice(0, EVIDENCE_CAP));
        this.groups.set(p.key, { id: row.id, lastSeen: p.last, severity: p.severity, evidence: ids, stored: ids.size });
      });
    }
    if (updates.length) {
      await this.database.query(
        `UPDATE monitoring_alerts a SET last_seen = GREATEST(a.last_seen, u.last_seen), event_count = a.event_count + u.n,
           evidence = a.evidence || u.ev, severity = u.sev, title = u.title, details = u.details, updated_at = now()
         FROM unnest($1::int8[], $2::timestamptz[], $3::int[], $4::jsonb[], $5::text[], $6::text[], $7::jsonb[]) AS u(id, last_seen, n, ev, sev, title, details)
         WHERE a.id = u.id`,
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
    }
    return { created, updated: updates.length };
  }

  private async afterNewAlerts(created: AlertRow[]) {
    try {
      await notifyAlerts(this.database, this.config, created, this.boss);
    } catch (err) {
      this.opts.logger?.error({ err }, 'monitoring: notification failed');
    }
    for (const a of created) {
      for (const action of this.config.detectors[a.detector]?.responses ?? []) {
        try {
          await applyResponse(this.database.db, a, action, { by: `detector:${a.detector}`, automatic: true });
        } catch (err) {
          this.opts.logger?.error({ err, alert: a.id, action }, 'monitoring: automatic response failed');
        }
      }
    }
  }

  /** An alert closed by a person: later detections start a new alert. */
  forgetAlert(id: number) {
    for (const [k, g] of this.groups) if (g.id === id) this.groups.delete(k);
  }

  /** Buffer one event (mailwarden's own activity); written within flushMs. */
  enqueue(e: MonitorEvent) {
    if (this.stopped) return;
    this.buffer.push(e);
    if (this.buffer.length >= 1000) void this.flush().catch(() => undefined);
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush().catch((err) => this.opts.logger?.error({ err }, 'monitoring: flush failed'));
      }, this.opts.flushMs ?? 100);
      this.timer.unref();
    }
  }

  /** Write buffered events now and wait for every ingest in flight. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.buffer;
    this.buffer = [];
    if (batch.length) await this.ingest(batch);
    await Promise.all([...this.inflight]);
  }

  /** Note an API key request: the first use of a key from an IP becomes an apikey.used event. */
  noteApiKeyUse(key: { id: number; name: string; prefix: string }, ip: string | undefined, userAgent: string | null | undefined) {
    if (!ip) return;
    const ips = this.keyIps(String(key.id));
    if (ips.has(ip)) return;
    const firstUse = ips.size === 0;
    ips.add(ip);
    this.enqueue({
      at: new Date(), type: 'apikey.used', source: 'app', actorType: 'api_key', actorId: String(key.id), actor: `${key.name} (${key.prefix})`.toLowerCase(),
      target: null, outcome: 'success', ip, userAgent: userAgent ?? null, country: null, city: null, lat: null, lon: null, asn: null, size: null, count: null,
      details: { newIp: true, firstUse },
    });
  }

  async prune(): Promise<number> {
    await this.drainContactsOutbox();
    return pruneEvents(this.database, this.config.retentionDays);
  }

  /**
   * The contacts domain also writes export events to `monitoring_outbox`. The
   * same exports reach us through the audit listener (with row counts), so
   * the outbox rows are only marked consumed (hourly, with the prune).
   */
  async drainContactsOutbox(): Promise<number> {
    const exists = await this.database.query<{ t: string | null }>(`SELECT to_regclass('monitoring_outbox')::text AS t`);
    if (!exists[0]?.t) return 0;
    const rows = await this.database.query<{ kind: string }>(`UPDATE monitoring_outbox SET consumed_at = now() WHERE consumed_at IS NULL RETURNING kind`);
    return rows.length;
  }

  async stop() {
    if (this.stopped) return;
    await this.ready.catch(() => undefined);
    await this.flush().catch(() => undefined);
    this.stopped = true;
    if (this.pruneTimer) clearInterval(this.pruneTimer);
  }
}

export function rowToEvent(r: Record<string, unknown>): StoredEvent {
  const n = (v: unknown) => (v == null ? null : Number(v));
  return {
    id: Number(r.id),
    at: new Date(r.at as string),
    type: r.type as string,
    source: r.source as string,
    actorType: (r.actor_type as string) ?? null,
    actorId: (r.actor_id as string) ?? null,
    actor: (r.actor as string) ?? null,
    target: (r.target as string) ?? null,
    outcome: (r.outcome as string) ?? null,
    ip: (r.ip as string) ?? null,
    userAgent: (r.user_agent as string) ?? null,
    country: (r.country as string) ?? null,
    city: (r.city as string) ?? null,
    lat: n(r.lat),
    lon: n(r.lon),
    asn: n(r.asn),
    size: n(r.size),
    count: n(r.count),
    details: (r.details as Record<string, unknown>) ?? {},
  };
}
