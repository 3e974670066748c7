// Outbound mail and transfers: large messages/attachments, per-sender volume
// and recipient spikes, delivery-failure bursts and new forwarding (the last
// three mostly from ingested mail-server logs).
import { type DetectorDef, DistinctWindow, FireMemo, Keyed, MIN, Window } from './types.ts';

const SENT = 'mail.sent';

/** Log-scale histogram: approximate quantiles of sizes in O(1) memory. */
class SizeHistogram {
  private buckets = new Map<number, number>();
  n = 0;
  static readonly growth = 1.05;
  private static readonly base = Math.log(SizeHistogram.growth);
  add(size: number) {
    this.addBucket(Math.floor(Math.log(Math.max(size, 1)) / SizeHistogram.base), 1);
  }
  addBucket(b: number, n: number) {
    this.buckets.set(b, (this.buckets.get(b) ?? 0) + n);
    this.n += n;
  }
  quantile(q: number): number {
    const keys = [...this.buckets.keys()].sort((a, b) => a - b);
    let seen = 0;
    const rank = q * this.n;
    for (const k of keys) {
      seen += this.buckets.get(k)!;
      if (seen >= rank) return Math.exp((k + 1) * SizeHistogram.base);
    }
    return Number.POSITIVE_INFINITY;
  }
}

export const largeTransfer: DetectorDef = {
  id: 'large_transfer',
  title: 'Large message or attachment',
  logic: 'A sent message or uploaded attachment of ≥ `absBytes`, or ≥ `minBytes` and ≥ `p99Factor` × the organisation\'s 99th percentile size (learned from the traffic once `minSamples` sizes are known) fires, per sender.',
  limits: 'Data split into many ordinary-sized messages (see outbound_volume); compressed or linked (not attached) data.',
  types: [SENT, 'attachment.uploaded'],
  // The size distribution is read with one aggregate query (warm), not by replaying every message.
  replayMinutes: () => 0,
  severity: 'medium',
  params: { absBytes: 25 * 1024 * 1024, minBytes: 2 * 1024 * 1024, p99Factor: 1.5, minSamples: 1000 },
  responses: ['pause_campaigns'],
  create() {
    const hist = new SizeHistogram();
    let p99 = Number.POSITIVE_INFINITY;
    const seenQueue = new Set<string>();
    return {
      observe(e, { params, emit }) {
        if (e.size == null) return;
        // One message to many recipients is logged once per recipient: count its size once.
        const q = typeof e.details.queueId === 'string' ? e.details.queueId : null;
        const first = !q || !seenQueue.has(q);
        if (q && first) {
          seenQueue.add(q);
          if (seenQueue.size > 100_000) seenQueue.clear();
        }
        const overP99 = hist.n >= params.minSamples && e.size >= params.minBytes && e.size >= p99 * params.p99Factor;
        if (first) {
          hist.add(e.size);
          if (hist.n % 500 === 0) p99 = hist.quantile(0.99);
        }
        if (e.size < params.absBytes && !overP99) return;
        const who = e.actor ?? 'unknown';
        emit({
          entityType: 'sender',
          entity: who,
          title: `${who}: ${e.type === SENT ? 'message' : 'attachment'} of ${(e.size / 1048576).toFixed(1)} MB`,
          at: e.at,
          eventIds: [e.id],
          details: { size: e.size, p99: Number.isFinite(p99) ? Math.round(p99) : null, to: e.target },
        });
      },
      // The same histogram as observe() builds, computed in the database over the replay window: one
      // row per size bucket instead of every message of the day read back (a message logged once per
      // recipient counts once, by its queue id).
      async warm(query, { replayHours }) {
        const rows = await query<{ b: number; n: number }>(
          `SELECT floor(ln(greatest(size, 1)) / ln($1::float8))::int AS b,
                  count(DISTINCT coalesce(details->>'queueId', 'id:' || id))::int AS n
           FROM security_events WHERE type = ANY($2::text[]) AND size IS NOT NULL AND at > now() - make_interval(hours => $3)
           GROUP BY 1`,
          [SizeHistogram.growth, largeTransfer.types, replayHours],
        );
        for (const r of rows) hist.addBucket(Number(r.b), Number(r.n));
        p99 = hist.quantile(0.99);
      },
    };
  },
};

export const outboundVolume: DetectorDef = {
  id: 'outbound_volume',
  title: 'Outbound volume spike per sender',
  logic: 'Counts recipients per sender in `bucketMinutes` buckets and keeps `historyBuckets` of history; the current bucket fires when ≥ `minCount` and its z-score against the history (σ floored at √mean and 1) ≥ `z`. Senders with less than `minHistory` buckets of history fire only above `absCount`.',
  limits: 'Gradual ramps (the baseline follows); spikes spread evenly over many senders; campaigns sent by the platform itself look like spikes if scheduled unusually (tune `z`).',
  types: [SENT],
  replayMinutes: (p) => p.bucketMinutes * (p.historyBuckets + 1),
  severity: 'medium',
  params: { bucketMinutes: 10, historyBuckets: 36, minHistory: 6, z: 4, minCount: 200, absCount: 2000 },
  responses: ['pause_campaigns', 'revoke_sessions'],
  create() {
    type S = { bucket: number; count: number; hist: number[]; ids: number[]; firstT: number };
    const st = new Keyed<S>(() => ({ bucket: -1, count: 0, hist: [], ids: [], firstT: Number.POSITIVE_INFINITY }));
    const memo = new FireMemo();
    return {
      observe(e, { params, emit }) {
        const who = e.actor;
        if (!who) return;
        const span = params.bucketMinutes * MIN;
        const t = e.at.getTime();
        const b = Math.floor(t / span);
        const s = st.get(who);
        if (s.bucket === -1) s.bucket = b;
        if (b > s.bucket) {
          s.hist.push(s.count);
          for (let i = s.bucket + 1; i < b && i - s.bucket <= params.historyBuckets; i++) s.hist.push(0);
          while (s.hist.length > params.historyBuckets) s.hist.shift();
          s.bucket = b;
          s.count = 0;
          s.ids = [];
          s.firstT = Number.POSITIVE_INFINITY;
        } else if (b < s.bucket) return; // late event for a closed bucket
        s.count += e.count ?? 1;
        if (s.ids.length < 200) {
          s.ids.push(e.id);
          if (t < s.firstT) s.firstT = t;
        }
        if (s.count < params.minCount) return;
        let fire = false;
        let z = 0;
        let mean = 0;
        if (s.hist.length >= params.minHistory) {
          mean = s.hist.reduce((a, c) => a + c, 0) / s.hist.length;
          const sd = Math.sqrt(s.hist.reduce((a, c) => a + (c - mean) ** 2, 0) / s.hist.length);
          z = (s.count - mean) / Math.max(sd, Math.sqrt(mean), 1);
          fire = z >= params.z;
        } else fire = s.count >= params.absCount;
        if (!fire) return;
        emit({
          entityType: 'sender',
          entity: who,
          title: `${who}: ${s.count} recipients in ${params.bucketMinutes} min (usual ${mean.toFixed(0)})`,
          at: e.at,
          ...(memo.recent(who, t, span) ? { eventIds: [e.id] } : { eventIds: s.ids, since: s.firstT }),
          details: { count: s.count, baselineMean: Math.round(mean), z: Math.round(z * 10) / 10 },
        });
      },
      sweep(now, params) {
        const idle = now - params.historyBuckets * params.bucketMinutes * MIN;
        st.sweep((s) => s.bucket * params.bucketMinutes * MIN < idle);
      },
    };
  },
};

export const recipientSpike: DetectorDef = {
  id: 'recipient_spike',
  title: 'Distinct-recipient spike per sender',
  logic: 'Counts distinct recipients per sender within `windowMinutes`; fires at `recipients`. Meant for mail-server logs, where a compromised mailbox sending to its whole address book shows up.',
  limits: 'Mass mail to few recipients (see outbound_volume); events without a recipient (target).',
  types: [SENT, 'mail.deferred', 'mail.bounced'],
  replayMinutes: (p) => p.windowMinutes,
  severity: 'high',
  params: { recipients: 1000, windowMinutes: 60 },
  responses: ['pause_campaigns', 'revoke_sessions'],
  create() {
    const st = new Keyed(() => new DistinctWindow());
    const memo = new FireMemo();
    return {
      observe(e, { params, emit }) {
        if (!e.actor || !e.target) return;
        const span = params.windowMinutes * MIN;
        const t = e.at.getTime();
        const w = st.get(e.actor);
        w.add(t, e.target, e.id, span);
        if (w.distinct < params.recipients) return;
        const recent = memo.recent(e.actor, t, span);
        emit({ entityType: 'sender', entity: e.actor, title: `${e.actor}: ${w.distinct} distinct recipients within ${params.windowMinutes} min`, at: e.at, eventIds: recent ? [e.id] : w.ids().slice(-200), since: recent ? t : w.first, details: { recipients: w.distinct } });
      },
      sweep(now, params) {
        st.sweep((w) => w.w.last < now - params.windowMinutes * MIN);
      },
    };
  },
};

export const deliveryFailures: DetectorDef = {
  id: 'delivery_failures_burst',
  title: 'Burst of rejected, deferred or bounced mail',
  logic: 'Counts rejected, deferred and bounced deliveries across the mail server within `windowMinutes`; fires at `messages` (2,000 an hour mirrors the point where Microsoft 365 raises its own alert for held mail).',
  limits: 'Per-sender bursts below the server-wide threshold; failures the log does not show (silently dropped mail).',
  types: ['mail.rejected', 'mail.deferred', 'mail.bounced'],
  replayMinutes: (p) => p.windowMinutes,
  severity: 'high',
  params: { messages: 2000, windowMinutes: 60 },
  responses: [],
  create() {
    const w = new Window<number>();
    const byType = new Map<string, number>();
    const typeOf = new Map<number, string>();
    const memo = new FireMemo();
    return {
      observe(e, { params, emit }) {
        const t = e.at.getTime();
        const span = params.windowMinutes * MIN;
        w.push(t, e.id);
        typeOf.set(e.id, e.type);
        byType.set(e.type, (byType.get(e.type) ?? 0) + 1);
        w.evict(t - span, (id) => {
          const ty = typeOf.get(id)!;
          typeOf.delete(id);
          byType.set(ty, (byType.get(ty) ?? 1) - 1);
        });
        if (w.size < params.messages) return;
        const recent = memo.recent('x', t, span);
        emit({ entityType: 'workspace', entity: 'mail-server', title: `${w.size} messages rejected, deferred or bounced within ${params.windowMinutes} min`, at: e.at, eventIds: recent ? [e.id] : w.values().slice(-200), since: recent ? t : w.first, details: Object.fromEntries(byType) });
      },
    };
  },
};

export const newForwarding: DetectorDef = {
  id: 'new_forwarding',
  title: 'New forwarding to an outside domain',
  logic: 'A mail.forwarded event (Postfix logs `orig_to=` with a different final recipient) to a domain outside `orig_to`\'s domain that this mailbox has not forwarded to before fires once per mailbox and destination domain.',
  limits: 'Forwarding done by the mailbox provider or a client rule that re-sends as a new message (no orig_to in the log).',
  types: ['mail.forwarded'],
  severity: 'high',
  params: {},
  responses: [],
  create() {
    const seen = new Set<string>();
    return {
      observe(e, { emit }) {
        const from = String(e.details.origTo ?? e.actor ?? '').toLowerCase();
        const to = (e.target ?? '').toLowerCase();
        const fromDomain = from.split('@')[1];
        const toDomain = to.split('@')[1];
        if (!fromDomain || !toDomain || fromDomain === toDomain) return;
        const key = `${from}>${toDomain}`;
        if (seen.has(key)) return;
        seen.add(key);
        emit({ entityType: 'user', entity: from, title: `${from} now forwards to ${toDomain}`, at: e.at, eventIds: [e.id], details: { to, domain: toDomain } });
      },
      async warm(query) {
        const rows = await query<{ k: string }>(
          `SELECT DISTINCT lower(coalesce(details->>'origTo', actor)) || '>' || split_part(lower(target), '@', 2) AS k FROM security_events WHERE type = 'mail.forwarded'`,
        );
        for (const r of rows) seen.add(r.k);
      },
    };
  },
};

export const transferDetectors = [largeTransfer, outboundVolume, recipientSpike, deliveryFailures, newForwarding];
