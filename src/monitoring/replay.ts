// Rebuilding detector state when a process starts running the detectors (start-up, or taking the
// lease over): recent events are replayed silently so windows and baselines continue where they
// were. Each detector gets the events of its own window (DetectorDef.replayMinutes, at most the
// replay limit), and the database returns only those rows, so a day of mail.sent (one event per
// message) is not read back for detectors that look at the last hour. The newest ~10,000 ids (the
// head) come back whatever their type, so the lease holder's tail (lease.ts) can tell ids it has
// seen from gaps left by transactions still open.
import type { DetectorDef, Params } from './detectors/types.ts';
import type { StoredEvent } from './events.ts';

type Query = <T>(sql: string, params?: unknown[]) => Promise<T[]>;

export type ReplayPlan = {
  /** Per detector id: events at or before this time (epoch ms) are older than its window. */
  cutoff: Map<string, number>;
  /** Per event type: the longest window (minutes) of the detectors that consume it. */
  minutesByType: Map<string, number>;
};

export function replayPlan(byType: Map<string, DetectorDef[]>, paramsOf: (detectorId: string) => Params, hours: number, now = Date.now()): ReplayPlan {
  const full = hours * 60;
  const cutoff = new Map<string, number>();
  const minutesByType = new Map<string, number>();
  for (const [type, ds] of byType)
    for (const d of ds) {
      const m = Math.min(full, d.replayMinutes?.(paramsOf(d.id)) ?? full);
      cutoff.set(d.id, now - m * 60_000);
      if (m > (minutesByType.get(type) ?? 0)) minutesByType.set(type, m);
    }
  return { cutoff, minutesByType };
}

export type ReplayStats = { rows: number; observed: number; ms: number };

/**
 * Read the plan's events in id order and hand each to `observe` (true when some detector took it).
 * Returns the head's ids, the highest id when the replay began, and what it read.
 */
export async function replayEvents(
  q: Query,
  plan: ReplayPlan,
  observe: (e: StoredEvent) => boolean,
): Promise<{ headIds: number[]; maxId: number; stats: ReplayStats }> {
  const [{ m: maxId, head }] = await q<{ m: number; head: number }>(
    `SELECT coalesce(max(id), 0)::int8 AS m,
            coalesce((SELECT min(id) FROM (SELECT id FROM security_events ORDER BY id DESC LIMIT 10000) h), 1)::int8 - 1 AS head
     FROM security_events`,
  );
  const longest = Math.max(0, ...plan.minutesByType.values());
  // Start at the first event of the longest window (the `at` index), not at the first id.
  const [{ first }] = await q<{ first: number | null }>(
    'SELECT min(id)::int8 AS first FROM security_events WHERE at > now() - make_interval(mins => $1)',
    [longest],
  );
  let last = Math.min(Number(first ?? Number(maxId) + 1), Number(head) + 1) - 1;
  const types = [...plan.minutesByType.keys()];
  const minutes = types.map((t) => plan.minutesByType.get(t)!);
  const headIds: number[] = [];
  const started = performance.now();
  let read = 0;
  let observed = 0;
  for (;;) {
    const rows = await q<Record<string, unknown>>(
      `SELECT e.* FROM security_events e LEFT JOIN unnest($1::text[], $2::int[]) AS w(type, minutes) ON w.type = e.type
       WHERE e.id > $3 AND (e.id > $4 OR e.at > now() - make_interval(mins => w.minutes))
       ORDER BY e.id LIMIT 10000`,
      [types, minutes, last, Number(head)],
    );
    if (!rows.length) break;
    for (const r of rows) {
      const e = rowToEvent(r);
      if (e.id > Number(head)) headIds.push(e.id);
      if (observe(e)) observed++;
    }
    read += rows.length;
    last = Number(rows[rows.length - 1].id);
  }
  return { headIds, maxId: Number(maxId), stats: { rows: read, observed, ms: Math.round(performance.now() - started) } };
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
