// The detector contract and the sliding-window helpers detectors share.
// Detectors are in-memory and fed event by event by the ingest path (engine.ts);
// windows are measured in event time, so a replayed log behaves like live traffic.
import type { StoredEvent } from '../events.ts';
import type { ResponseAction, Severity } from '../schema.ts';

export type Params = Record<string, number>;

export type Detection = {
  detector: string;
  severity: Severity;
  entityType: 'user' | 'ip' | 'asn' | 'api_key' | 'sender' | 'workspace';
  entity: string;
  title: string;
  at: Date;
  eventIds: number[];
  /** Epoch ms of the earliest evidence event when it is older than `at` (the alert's first seen, known without reading the events back). */
  since?: number;
  details: Record<string, unknown>;
};

export type WorkingHours = { timezone: string; start: number; end: number; days: number[] };

export type DetectorContext = { params: Params; severity: Severity; workingHours: WorkingHours; emit: (d: Omit<Detection, 'detector' | 'severity'> & { severity?: Severity }) => void };

export type DetectorState = {
  observe(e: StoredEvent, ctx: DetectorContext): void;
  /** Forget entities idle for longer than the detector's windows (bounded memory). */
  sweep?(nowMs: number, params: Params): void;
  /**
   * Load long-lived learned state (known countries, IPs, a size distribution…) from the events
   * table, with a query rather than a replay. `replayHours`: how far back the monitor replays.
   */
  warm?(query: <T>(sql: string, params?: unknown[]) => Promise<T[]>, opts: { replayHours: number }): Promise<void>;
};

export type DetectorDef = {
  id: string;
  title: string;
  /** What it looks for, and how. */
  logic: string;
  /** What it does not catch. */
  limits: string;
  types: string[];
  /**
   * How many minutes of recent events its state needs replayed when a process starts running the
   * detectors (its longest window). Absent: the monitor's whole replay window (24 h by default).
   * A busy type (mail.sent: one event per message) is then read back for as long as the detectors
   * consuming it need, not for a day.
   */
  replayMinutes?: (params: Params) => number;
  severity: Severity;
  params: Params;
  /** Responses that make sense for it (opt-in per workspace; none are on by default). */
  responses: ResponseAction[];
  create(): DetectorState;
};

/** Timestamps (and payloads) inside a sliding time window. */
export class Window<T = number> {
  private t: number[] = [];
  private v: T[] = [];
  private head = 0;
  push(t: number, v: T) {
    this.t.push(t);
    this.v.push(v);
  }
  /** Drop entries older than `from`; returns the dropped payloads. */
  evict(from: number, onDrop?: (v: T) => void) {
    while (this.head < this.t.length && this.t[this.head] < from) {
      onDrop?.(this.v[this.head]);
      this.head++;
    }
    if (this.head > 64 && this.head * 2 > this.t.length) {
      this.t = this.t.slice(this.head);
      this.v = this.v.slice(this.head);
      this.head = 0;
    }
  }
  get size() {
    return this.t.length - this.head;
  }
  get last(): number {
    return this.size ? this.t[this.t.length - 1] : Number.NEGATIVE_INFINITY;
  }
  get first(): number {
    return this.size ? this.t[this.head] : Number.POSITIVE_INFINITY;
  }
  values(): T[] {
    return this.v.slice(this.head);
  }
  clear() {
    this.t = [];
    this.v = [];
    this.head = 0;
  }
}

/** A window that also counts distinct keys in it. */
export class DistinctWindow {
  readonly w = new Window<{ key: string; id: number }>();
  readonly counts = new Map<string, number>();
  add(t: number, key: string, id: number, windowMs: number) {
    this.w.push(t, { key, id });
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.evict(t - windowMs);
  }
  evict(from: number) {
    this.w.evict(from, ({ key }) => {
      const n = (this.counts.get(key) ?? 1) - 1;
      if (n <= 0) this.counts.delete(key);
      else this.counts.set(key, n);
    });
  }
  get distinct() {
    return this.counts.size;
  }
  get first(): number {
    return this.w.first;
  }
  get size() {
    return this.w.size;
  }
  ids(): number[] {
    return this.w.values().map((x) => x.id);
  }
}

/** Per-entity map with idle-entity sweeping. */
export class Keyed<S> {
  readonly map = new Map<string, S>();
  constructor(private readonly make: () => S) {}
  get(key: string): S {
    let s = this.map.get(key);
    if (!s) {
      s = this.make();
      this.map.set(key, s);
    }
    return s;
  }
  sweep(isIdle: (s: S) => boolean) {
    for (const [k, s] of this.map) if (isIdle(s)) this.map.delete(k);
  }
}

/** Remembers when an entity last fired, so repeated crossings only add the new event as evidence. */
export class FireMemo {
  private last = new Map<string, number>();
  /** True when the entity fired within `windowMs` before `t` (and records this firing). */
  recent(key: string, t: number, windowMs: number): boolean {
    const prev = this.last.get(key);
    this.last.set(key, t);
    return prev !== undefined && t - prev <= windowMs;
  }
  sweep(now: number, windowMs: number) {
    for (const [k, t] of this.last) if (now - t > windowMs) this.last.delete(k);
  }
}

export const MIN = 60_000;
export const HOUR = 60 * MIN;
