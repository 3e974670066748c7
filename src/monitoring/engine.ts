// The monitor: one per database, fed by every ingest path (mailwarden's own
// audit entries, POST /api/events, the CLI). Per batch it enriches events with
// geo data, hands them to the database (COPY on PostgreSQL), runs the in-memory
// detectors while they are on their way, and writes the resulting alerts
// grouped per incident (alerts.ts) without waiting for the events' commit — no
// per-event round trips. On PostgreSQL only the holder of the detector lease
// runs detectors (lease.ts); state is rebuilt from the events table on start.
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
import { type AlertRow, AlertGroups } from './alerts.ts';
import { DetectorLease, LEASE_RETRY_MS, UnseenTail } from './lease.ts';
import { replayEvents, replayPlan, rowToEvent } from './replay.ts';
import { pruneEvents, writeEvents } from './store.ts';

export type { AlertRow } from './alerts.ts';
export type IngestResult = { accepted: number; alertsCreated: number; alertsUpdated: number };

const MAX_UNPERSISTED = 100_000;
/** How often the lease holder reads back events other processes stored. */
const TAIL_MS = 250;

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
  private readonly alerts: AlertGroups;
  private detections: Detection[] = [];
  private buffer: MonitorEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private sinceSweep = 0;
  private maxT = 0;
  private knownKeyIps = new Map<string, Set<string>>();
  private lease: DetectorLease | undefined;
  private tail: UnseenTail | undefined;
  private tailTimer: NodeJS.Timeout | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private leading = false;
  /** The last replay: rows read back, events some detector took (its window), time taken. */
  lastReplay = { rows: 0, observed: 0, ms: 0 };
  readonly ready: Promise<void>;
  boss: PgBoss | undefined;
  stopped = false;

  constructor(
    readonly database: Database,
    readonly opts: {
      logger?: Logger;
      flushMs?: number;
      replayHours?: number;
      prune?: boolean;
      /** On PostgreSQL, run the detectors only while holding the per-database lease (default); false: always. */
      lease?: boolean;
      /** How often the lease holder reads back events other processes stored (ms; 0: only through pollUnseen()). */
      tailMs?: number;
    } = {},
  ) {
    this.alerts = new AlertGroups(database, () => this.config.groupWindowMinutes);
    this.ready = this.start();
    this.ready.catch((err) => opts.logger?.error({ err }, 'monitoring: start failed'));
  }

  private async start() {
    await this.reloadConfig();
    const keyIps = await this.database.query<{ k: string; ip: string }>(
      `SELECT DISTINCT coalesce(actor_id, actor) AS k, ip FROM security_events WHERE type = 'apikey.used' AND ip IS NOT NULL`,
    );
    for (const r of keyIps) this.keyIps(r.k).add(r.ip);
    if (this.database.kind === 'postgres' && this.database.pool && this.opts.lease !== false) {
      this.lease = new DetectorLease(this.database.pool, (err) => this.stepDown(err));
      if (await this.lease.tryAcquire()) await this.lead();
      else
        this.leaseTimer = setInterval(
          () => void this.tryLead().catch(() => undefined),
          LEASE_RETRY_MS,
        ).unref();
    } else await this.lead();
    if (this.opts.prune !== false) {
      this.pruneTimer = setInterval(
        () => void this.prune().catch((err) => this.opts.logger?.error({ err }, 'monitoring: prune failed')),
        3_600_000,
      );
      this.pruneTimer.unref();
    }
  }

  /** Build detector state from the events table and start detecting (this process holds the lease, or needs none). */
  private async lead() {
    this.states.clear();
    this.alerts.clear();
    for (const d of detectors) this.states.set(d.id, d.create());
    const q = <T>(sql: string, params?: unknown[]) => this.database.query<T>(sql, params);
    const hours = this.opts.replayHours ?? 24;
    for (const s of this.states.values()) await s.warm?.(q, { replayHours: hours });
    const lastPage = await this.replay(hours);
    this.detections = [];
    await this.alerts.load();
    if (this.lease) {
      this.tail = new UnseenTail();
      this.tail.startAfter(lastPage.ids, lastPage.maxId);
      this.idPool = [];
      this.idHead = 0;
      const every = this.opts.tailMs ?? TAIL_MS;
      if (every > 0)
        this.tailTimer = setInterval(
          () =>
            void this.pollUnseen().catch((err) =>
              this.opts.logger?.error({ err }, 'monitoring: reading back events failed'),
            ),
          every,
        ).unref();
      if (this.leaseTimer) clearInterval(this.leaseTimer);
      this.leaseTimer = undefined;
      this.opts.logger?.info('monitoring: this process runs the detectors (lease taken)');
    }
    this.leading = true;
  }

  /** Replay recent events silently (replay.ts): each detector its own window. */
  private async replay(hours: number): Promise<{ ids: number[]; maxId: number }> {
    const plan = replayPlan(this.byType, (id) => this.contexts.get(id)!.params, hours);
    const r = await replayEvents((sql, params) => this.database.query(sql, params), plan, (e) => this.observe(e, plan.cutoff));
    this.lastReplay = r.stats;
    this.opts.logger?.info(r.stats, 'monitoring: detector state rebuilt from recent events');
    return { ids: r.headIds, maxId: r.maxId };
  }

  /** Try to take the lease (a follower does every LEASE_RETRY_MS); true when this process now runs the detectors. */
  tryLead(): Promise<boolean> {
    const run = this.stage.then(async () => {
      if (this.leading || this.stopped || !this.lease) return this.leading;
      if (await this.lease.tryAcquire()) await this.lead();
      return this.leading;
    });
    this.stage = run.catch(() => undefined);
    return run;
  }

  /** The lease's connection died: another process may take over; detect nothing until the lease is back. */
  private stepDown(err: Error) {
    this.opts.logger?.warn({ err }, 'monitoring: detector lease lost');
    this.leading = false;
    if (this.tailTimer) clearInterval(this.tailTimer);
    this.tailTimer = undefined;
    this.tail = undefined;
    if (!this.stopped && !this.leaseTimer)
      this.leaseTimer = setInterval(() => void this.tryLead().catch(() => undefined), LEASE_RETRY_MS).unref();
  }

  /** Run the detectors on events other processes stored (lease holder only); returns how many were read. */
  pollUnseen(): Promise<number> {
    const read = this.stage.then(async () => {
      if (!this.leading || !this.tail) return { n: 0, ds: [] as Detection[] };
      const rows = await this.tail.poll<Record<string, unknown>>((sql, params) =>
        this.database.query(sql, params),
      );
      this.detections = [];
      for (const r of rows) this.observe(rowToEvent(r));
      const ds = this.detections;
      this.detections = [];
      return { n: rows.length, ds };
    });
    this.stage = read.catch(() => undefined);
    return read.then(async ({ n, ds }) => {
      if (!ds.length) return n;
      const run = this.alertChain.then(() => this.alerts.write(ds));
      this.alertChain = run.catch(() => undefined);
      const { created } = await run;
      if (created.length) await this.afterNewAlerts(created);
      return n;
    });
  }

  /** False while another process holds the detector lease: events are only stored here. */
  get leads() {
    return this.leading;
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

  /**
   * Run the detectors over one stored event (detections collect in this.detections). While
   * replaying, `replayFrom` holds each detector's window start: older events are not its business.
   */
  private observe(e: StoredEvent, replayFrom?: Map<string, number>): boolean {
    const ds = this.byType.get(e.type);
    const t = e.at.getTime();
    let taken = false;
    if (ds)
      for (const d of ds)
        if (!replayFrom || t > (replayFrom.get(d.id) ?? 0)) {
          this.states.get(d.id)!.observe(e, this.contexts.get(d.id)!);
          taken = true;
        }
    if (t > this.maxT) this.maxT = t;
    if (++this.sinceSweep >= 20_000) {
      this.sinceSweep = 0;
      for (const d of detectors)
        this.states.get(d.id)?.sweep?.(this.maxT, this.config.detectors[d.id].params);
    }
    return taken;
  }

  /**
   * Store events, run detectors, write alerts. Ids are reserved from the
   * sequence up front, so the detectors run (in call order) while the batch's
   * INSERT/COPY is on the server, and the alerts are written as soon as the
   * detectors have run — they do not wait for the events to be committed
   * (evidence ids are plain numbers; first seen comes from the detectors).
   * Alert writes are serialised among themselves. The promise resolves once
   * the batch's events and alerts are both committed; `onAlerts` is called
   * when the alerts are (what event-to-alert latency measures).
   */
  ingest(
    events: MonitorEvent[],
    hooks: { onAlerts?: (r: { created: number; updated: number }) => void } = {},
  ): Promise<IngestResult> {
    const staged = this.stage.then(() => this.detect(events));
    this.stage = staged.then(() => undefined).catch(() => undefined);
    const alerted = staged.then(async ({ detections }) => {
      const run = this.alertChain.then(() =>
        detections.length ? this.alerts.write(detections) : { created: [], updated: 0 },
      );
      this.alertChain = run.then(() => undefined).catch(() => undefined);
      const { created, updated } = await run;
      hooks.onAlerts?.({ created: created.length, updated });
      if (created.length) await this.afterNewAlerts(created);
      return { created, updated };
    });
    const done = Promise.all([staged.then((s) => s.inserted), alerted]).then(([, { created, updated }]) => ({
      accepted: events.length,
      alertsCreated: created.length,
      alertsUpdated: updated,
    }));
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
  /** Events handed to the database and not yet committed; detection waits above MAX_UNPERSISTED (bounded memory when the database falls behind). */
  private unpersisted = 0;
  private persistQueue: Promise<unknown>[] = [];

  private async reserveIds(n: number): Promise<number[]> {
    if (this.idPool.length - this.idHead < n) {
      const want = Math.max(n, 20_000);
      const [{ ids }] = await this.database.query<{ ids: number[] | string }>(
        `SELECT array_agg(nextval('security_events_id_seq')) AS ids FROM generate_series(1, $1)`,
        [want],
      );
      // node-postgres parses int8[] into strings, PGlite into numbers.
      const fresh = typeof ids === 'string' ? ids.slice(1, -1).split(',') : ids;
      const rest = this.idPool.slice(this.idHead);
      const got = (fresh as (string | number)[]).map(Number);
      this.tail?.addOwn(got);
      for (const id of got) rest.push(id);
      this.idPool = rest;
      this.idHead = 0;
    }
    const ids = this.idPool.slice(this.idHead, this.idHead + n);
    this.idHead += n;
    return ids;
  }

  private async detect(events: MonitorEvent[]) {
    await this.ready;
    while (this.unpersisted > MAX_UNPERSISTED && this.persistQueue.length) await this.persistQueue[0];
    const leading = this.leading;
    // Events are enriched and numbered in place (callers hand over fresh objects): no per-event copy.
    const stored = events as StoredEvent[];
    // Not the lease holder: store only (ids from the sequence as written); the holder reads them back.
    const ids = leading ? await this.reserveIds(events.length) : null;
    for (let i = 0; i < stored.length; i++) {
      enrich(stored[i]);
      if (ids) stored[i].id = ids[i];
    }
    const inserted = stored.length ? writeEvents(this.database, stored, 'copy', leading) : Promise.resolve();
    this.unpersisted += stored.length;
    const tracked = inserted.then(
      () => undefined,
      () => undefined,
    );
    this.persistQueue.push(tracked);
    void tracked.then(() => {
      this.unpersisted -= stored.length;
      this.persistQueue.splice(this.persistQueue.indexOf(tracked), 1);
    });
    if (!leading) return { stored, detections: [] as Detection[], inserted };
    this.detections = [];
    for (const e of stored) this.observe(e);
    const detections = this.detections;
    this.detections = [];
    return { stored, detections, inserted };
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
    this.alerts.forget(id);
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
  noteApiKeyUse(
    key: { id: number; name: string; prefix: string },
    ip: string | undefined,
    userAgent: string | null | undefined,
  ) {
    if (!ip) return;
    const ips = this.keyIps(String(key.id));
    if (ips.has(ip)) return;
    const firstUse = ips.size === 0;
    ips.add(ip);
    this.enqueue({
      at: new Date(),
      type: 'apikey.used',
      source: 'app',
      actorType: 'api_key',
      actorId: String(key.id),
      actor: `${key.name} (${key.prefix})`.toLowerCase(),
      target: null,
      outcome: 'success',
      ip,
      userAgent: userAgent ?? null,
      country: null,
      city: null,
      lat: null,
      lon: null,
      asn: null,
      size: null,
      count: null,
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
    const exists = await this.database.query<{ t: string | null }>(
      `SELECT to_regclass('monitoring_outbox')::text AS t`,
    );
    if (!exists[0]?.t) return 0;
    const rows = await this.database.query<{ kind: string }>(
      `UPDATE monitoring_outbox SET consumed_at = now() WHERE consumed_at IS NULL RETURNING kind`,
    );
    return rows.length;
  }

  async stop() {
    if (this.stopped) return;
    await this.ready.catch(() => undefined);
    await this.flush().catch(() => undefined);
    this.stopped = true;
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    if (this.tailTimer) clearInterval(this.tailTimer);
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    await this.stage.catch(() => undefined);
    await this.alertChain.catch(() => undefined);
    await this.lease?.release();
  }
}
