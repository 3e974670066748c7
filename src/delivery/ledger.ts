// The recipient ledger as a work queue (campaign_recipients).
//
// Claiming: a worker takes up to N due rows of one campaign with
// `FOR UPDATE SKIP LOCKED` — concurrent workers never get the same row, and
// never wait on each other — and marks them `sending` with a lease. The claim
// only succeeds while the campaign is `sending`, so pause and cancel stop new
// claims at once. A row whose lease ran out (its worker was killed) is due again:
// nothing is lost. A row becomes `sent` only after the relay accepted it, so
// nothing is marked sent that was not accepted; a killed worker's accepted but
// not yet recorded rows are the only ones that can go out twice.
//
// Results are written in batches (one UPDATE … FROM unnest per flush) with the
// claiming worker's id in the WHERE clause: a worker whose lease was taken over
// cannot overwrite the new owner's outcome.
import { sql } from 'drizzle-orm';
import { type Db, rows, type Tx } from '../db/client.ts';
import type { DeliveryState } from '../campaigns/schema.ts';
import { redactAddresses } from './redact.ts';

export type Claimed = { contactId: string; attempts: number };

/** Campaigns with due work, oldest launch first. */
export async function campaignsWithWork(db: Db): Promise<number[]> {
  const out = await rows<{ id: number }>(
    db,
    sql`SELECT c.id FROM campaigns c WHERE c.state = 'sending' AND EXISTS (
          SELECT 1 FROM campaign_recipients r WHERE r.campaign_id = c.id AND r.state IN ('queued', 'deferred', 'sending')
            AND (r.send_at IS NULL OR r.send_at <= now()) AND (r.state <> 'sending' OR r.lease_until < now()))
        ORDER BY c.launched_at NULLS LAST, c.id LIMIT 20`,
  );
  return out.map((r) => Number(r.id));
}

export async function claim(
  db: Db,
  campaignId: number,
  worker: string,
  limit: number,
  leaseSeconds: number,
): Promise<Claimed[]> {
  const out = await rows<{ contact_id: string; attempts: number }>(
    db,
    sql`WITH due AS (
          SELECT r.campaign_id, r.contact_id FROM campaign_recipients r
          WHERE r.campaign_id = ${campaignId} AND r.state IN ('queued', 'deferred', 'sending')
            AND (r.send_at IS NULL OR r.send_at <= now()) AND (r.state <> 'sending' OR r.lease_until < now())
            AND EXISTS (SELECT 1 FROM campaigns c WHERE c.id = ${campaignId} AND c.state = 'sending')
          ORDER BY r.send_at NULLS FIRST
          LIMIT ${limit}
          FOR UPDATE OF r SKIP LOCKED)
        UPDATE campaign_recipients r SET state = 'sending', worker = ${worker}, attempts = r.attempts + 1,
          lease_until = now() + make_interval(secs => ${leaseSeconds})
        FROM due WHERE r.campaign_id = due.campaign_id AND r.contact_id = due.contact_id
        RETURNING r.contact_id, r.attempts`,
  );
  return out.map((r) => ({ contactId: r.contact_id, attempts: Number(r.attempts) }));
}

export type Outcome = {
  contactId: string;
  state: Extract<DeliveryState, 'sent' | 'deferred' | 'failed' | 'suppressed' | 'cancelled' | 'queued'>;
  code?: number | null;
  response?: string | null;
  relay?: string | null;
  /** For deferred and re-queued rows: when to try again. */
  retryAt?: Date | null;
  /** Give back the attempt counted at claim (the row was not tried: rate limit, pause). */
  untried?: boolean;
};

/** Write outcomes of rows this worker still owns. Returns how many rows were updated. */
export async function record(
  db: Db | Tx,
  campaignId: number,
  worker: string,
  outcomes: Outcome[],
): Promise<number> {
  if (outcomes.length === 0) return 0;
  const ids = outcomes.map((o) => o.contactId);
  const states = outcomes.map((o) => o.state);
  const codes = outcomes.map((o) => (o.code === undefined || o.code === null ? null : Math.trunc(o.code)));
  const responses = outcomes.map((o) => (o.response ? redactAddresses(o.response).slice(0, 500) : null));
  const relays = outcomes.map((o) => o.relay ?? null);
  const retry = outcomes.map((o) => (o.retryAt ? o.retryAt.toISOString() : null));
  const untried = outcomes.map((o) => Boolean(o.untried));
  const res = await rows<{ n: number }>(
    db,
    sql`WITH o AS (
          SELECT * FROM unnest(${sql.param(ids)}::uuid[], ${sql.param(states)}::text[], ${sql.param(codes)}::int[], ${sql.param(responses)}::text[], ${sql.param(relays)}::text[], ${sql.param(retry)}::timestamptz[], ${sql.param(untried)}::boolean[])
            AS o(contact_id, state, code, response, relay, retry_at, untried)),
        u AS (
          UPDATE campaign_recipients r SET
            state = o.state,
            last_code = coalesce(o.code, r.last_code),
            last_response = coalesce(o.response, r.last_response),
            relay = coalesce(o.relay, r.relay),
            sent_at = CASE WHEN o.state = 'sent' THEN now() ELSE r.sent_at END,
            send_at = coalesce(o.retry_at, r.send_at),
            attempts = CASE WHEN o.untried THEN greatest(r.attempts - 1, 0) ELSE r.attempts END,
            lease_until = NULL, worker = NULL
          FROM o WHERE r.campaign_id = ${campaignId} AND r.contact_id = o.contact_id AND r.state = 'sending' AND r.worker = ${worker}
          RETURNING r.contact_id, r.state),
        -- "received" engagement for segments ("received campaign X"), in the same statement: never one without the other
        e AS (INSERT INTO engagement_events (campaign_id, contact_id, type) SELECT ${campaignId}::bigint, u.contact_id, 1 FROM u WHERE u.state = 'sent')
        SELECT count(*)::int AS n FROM u`,
  );
  return Number(res[0]?.n ?? 0);
}

/** Extend the lease of rows this worker is still working on. */
export async function renewLease(
  db: Db,
  campaignId: number,
  worker: string,
  leaseSeconds: number,
): Promise<void> {
  await db.execute(sql`UPDATE campaign_recipients SET lease_until = now() + make_interval(secs => ${leaseSeconds})
    WHERE campaign_id = ${campaignId} AND state = 'sending' AND worker = ${worker}`);
}

/** Scheduled campaigns whose first recipients are due start sending. Returns the ids started. */
export async function startDueCampaigns(db: Db): Promise<number[]> {
  const out = await rows<{ id: number }>(
    db,
    sql`UPDATE campaigns c SET state = 'sending', updated_at = now() WHERE c.state = 'scheduled' AND EXISTS (
          SELECT 1 FROM campaign_recipients r WHERE r.campaign_id = c.id AND r.state IN ('queued', 'deferred') AND r.send_at <= now())
        RETURNING c.id`,
  );
  return out.map((r) => Number(r.id));
}

/** Sending campaigns with nothing left to do are completed. Returns the ids completed. */
export async function completeFinished(db: Db): Promise<number[]> {
  const out = await rows<{ id: number }>(
    db,
    sql`UPDATE campaigns c SET state = 'completed', completed_at = now(), updated_at = now() WHERE c.state = 'sending' AND NOT EXISTS (
          SELECT 1 FROM campaign_recipients r WHERE r.campaign_id = c.id AND r.state IN ('queued', 'deferred', 'sending'))
        RETURNING c.id`,
  );
  return out.map((r) => Number(r.id));
}

/** On cancel: every row not yet handed to a relay is cancelled (rows in flight finish and record their outcome). */
export async function cancelPending(db: Db | Tx, campaignId: number): Promise<number> {
  const res = await rows<{ n: number }>(
    db,
    sql`WITH u AS (UPDATE campaign_recipients SET state = 'cancelled', last_response = 'campaign cancelled'
          WHERE campaign_id = ${campaignId} AND state IN ('queued', 'deferred') RETURNING 1) SELECT count(*)::int AS n FROM u`,
  );
  return Number(res[0]?.n ?? 0);
}

export type Progress = Record<DeliveryState, number> & { total: number };

export async function progressCounts(db: Db | Tx, campaignId: number): Promise<Progress> {
  const out = await rows<{ state: DeliveryState; n: number }>(
    db,
    sql`SELECT state, count(*)::int AS n FROM campaign_recipients WHERE campaign_id = ${campaignId} GROUP BY state`,
  );
  const p = {
    queued: 0,
    sending: 0,
    sent: 0,
    deferred: 0,
    failed: 0,
    bounced: 0,
    suppressed: 0,
    cancelled: 0,
    total: 0,
  } as Progress;
  for (const r of out) {
    p[r.state] = Number(r.n);
    p.total += Number(r.n);
  }
  return p;
}

/** Exponential back-off with full jitter: base × 2^(attempt-1), capped, randomised in [50 %, 100 %]. */
export function retryDelayMs(
  attempt: number,
  opts: { baseMs?: number; maxMs?: number; random?: () => number } = {},
): number {
  const base = opts.baseMs ?? 60_000;
  const max = opts.maxMs ?? 4 * 3_600_000;
  const raw = Math.min(max, base * 2 ** Math.max(0, attempt - 1));
  return Math.round(raw * (0.5 + 0.5 * (opts.random ?? Math.random)()));
}
