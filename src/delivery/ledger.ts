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
//
// PostgreSQL's CPU per message is as much a limit on the send rate as the
// worker's (they share the machine), so the statements run per batch or per
// flush must cost the same whatever the size of the ledger:
// - "due" is one range of campaign_recipients_due_idx (campaign, coalesce(send_at,
//   -infinity) ≤ now()), read in key order up to the LIMIT — never every due row
//   of the campaign sorted per claim, or a sequential scan of the whole ledger
//   with its dead row versions (2 per sent message until vacuum);
// - the claim updates the rows it locked by ctid (a TID scan), and a flush
//   looks its rows up one by one by primary key: joins on the key were planned,
//   with stale statistics or as generic plans, as hash joins over every due row
//   of the campaign or the whole table;
// - the hot statements (claim, record, campaignsWithWork) are named prepared
//   statements: planning was about half the cost of recording a flush.
import { type SQL, sql } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import { type Db, rows, type Tx } from '../db/client.ts';
import type { DeliveryState } from '../campaigns/schema.ts';
import { redactAddresses } from './redact.ts';

export type Claimed = { contactId: string; attempts: number };

const dialect = new PgDialect();

/**
 * A statement run as a named prepared statement on PostgreSQL: parsed and planned once per connection, not
 * per call. The text behind a name must never change (node-postgres refuses a name reused for other text), so
 * every value is a parameter. PGlite runs it like any other query.
 */
async function prepared<T>(db: Db | Tx, name: string, query: SQL): Promise<T[]> {
  const r = await db._.session.prepareQuery(dialect.sqlToQuery(query), undefined, `mw_ledger_${name}`, false).execute();
  return (r as { rows: T[] }).rows;
}

/** The due_idx key: a row without send_at is due now. */
const dueKey = sql`coalesce(r.send_at, '-infinity'::timestamptz)`;
/** Due rows: queued or deferred and due, or sending with an expired lease (its worker died). */
const isDue = sql`r.state IN ('queued', 'deferred', 'sending') AND ${dueKey} <= now() AND (r.state <> 'sending' OR r.lease_until < now())`;

/** Campaigns with due work, oldest launch first. */
export async function campaignsWithWork(db: Db): Promise<number[]> {
  // LATERAL … ORDER BY the index key LIMIT 1: the first due row by the index; an EXISTS is planned as a
  // semi-join that can read every due row (or the whole ledger) on each engine turn.
  const out = await prepared<{ id: number }>(
    db,
    'campaigns_with_work',
    sql`SELECT c.id FROM campaigns c CROSS JOIN LATERAL (
          SELECT 1 FROM campaign_recipients r WHERE r.campaign_id = c.id AND ${isDue} ORDER BY ${dueKey} LIMIT 1) due
        WHERE c.state = 'sending'
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
  // The locked rows are updated by ctid: nobody else can update a row this statement holds FOR UPDATE, so its
  // ctid still names it, and `ctid = ANY (…)` is always a TID scan. (A join on the key was planned, once prepared
  // with an unknown LIMIT, as a hash join over a sequential scan of the whole ledger.)
  const out = await prepared<{ contact_id: string; attempts: number }>(
    db,
    'claim',
    sql`WITH due AS (
          SELECT r.ctid FROM campaign_recipients r
          WHERE r.campaign_id = ${campaignId} AND ${isDue}
            AND EXISTS (SELECT 1 FROM campaigns c WHERE c.id = ${campaignId} AND c.state = 'sending')
          ORDER BY ${dueKey}
          LIMIT ${limit}
          FOR UPDATE OF r SKIP LOCKED)
        UPDATE campaign_recipients r SET state = 'sending', worker = ${worker}, attempts = r.attempts + 1,
          lease_until = now() + make_interval(secs => ${leaseSeconds})
        WHERE r.ctid = ANY (ARRAY(SELECT ctid FROM due))
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

/**
 * Write outcomes of rows this worker still owns. Returns how many rows were updated.
 *
 * Committed asynchronously (synchronous_commit off for this statement's transaction only): the commit does not
 * wait for the WAL flush (the WAL writer flushes within ~0.6 s), which took a few milliseconds of every flush,
 * and some CPU. A killed worker loses nothing by it: the commit is in PostgreSQL's WAL buffers. Only a crash of
 * PostgreSQL itself in that window forgets the last outcomes — the rows are `sending` again and are sent again
 * after their lease (duplicates, with the same Message-ID; never a loss, never `sent` without a 250). Later
 * synchronous commits (campaign completion) flush the WAL before them, so nothing depends on a lost outcome.
 */
export async function record(
  // Not a Tx: the asynchronous commit would apply to the caller's whole transaction.
  db: Db,
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
  // The rows are looked up one by one by primary key (a LATERAL … LIMIT 1 per outcome, which the planner
  // cannot turn into anything else), then updated by TID. A plain join on the key let the planner read every
  // due row of the campaign (through campaign_recipients_due_idx — `state = 'sending'` implies its
  // predicate — or the primary key on campaign_id alone) and hash them, on each flush, whenever the ledger's
  // statistics were stale — always, with autovacuum off: a flush cost O(campaign). A row updated by someone
  // else in between is not updated here (its new version has another ctid): it is no longer this worker's.
  const res = await prepared<{ n: number }>(
    db,
    'record',
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
          FROM o WHERE r.ctid = ANY (ARRAY(
              SELECT k.ctid FROM o, LATERAL (
                SELECT x.ctid FROM campaign_recipients x WHERE x.campaign_id = ${campaignId} AND x.contact_id = o.contact_id LIMIT 1) k))
            AND r.contact_id = o.contact_id AND r.state = 'sending' AND r.worker = ${worker}
          RETURNING r.contact_id, r.state),
        -- "received" engagement for segments ("received campaign X"), in the same statement: never one without the other
        e AS (INSERT INTO engagement_events (campaign_id, contact_id, type) SELECT ${campaignId}::bigint, u.contact_id, 1 FROM u WHERE u.state = 'sent')
        SELECT count(*)::int AS n, (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit FROM u`,
  );
  return Number(res[0]?.n ?? 0);
}

/** Extend the lease of the claimed rows this worker is still working on (by key: the campaign's other rows are not read). */
export async function renewLease(
  db: Db,
  campaignId: number,
  worker: string,
  leaseSeconds: number,
  contactIds: string[],
): Promise<void> {
  if (contactIds.length === 0) return;
  await db.execute(sql`UPDATE campaign_recipients SET lease_until = now() + make_interval(secs => ${leaseSeconds})
    WHERE campaign_id = ${campaignId} AND contact_id = ANY (${sql.param(contactIds)}::uuid[]) AND state = 'sending' AND worker = ${worker}`);
}

// The housekeeping below runs every second in every engine loop. Each asks for one row of the campaign's due
// range as a scalar subquery ordered by the index key (LIMIT 1: the index, whatever the statistics say); an
// EXISTS / NOT EXISTS may be planned as a sequential scan of the ledger, which near the end of a large
// campaign reads every finished row (and its dead versions) to find none.

/** Scheduled campaigns whose first recipients are due start sending. Returns the ids started. */
export async function startDueCampaigns(db: Db): Promise<number[]> {
  const out = await rows<{ id: number }>(
    db,
    sql`UPDATE campaigns c SET state = 'sending', updated_at = now() WHERE c.state = 'scheduled' AND (
          SELECT 1 FROM campaign_recipients r WHERE r.campaign_id = c.id AND r.state IN ('queued', 'deferred') AND ${dueKey} <= now()
          ORDER BY ${dueKey} LIMIT 1) IS NOT NULL
        RETURNING c.id`,
  );
  return out.map((r) => Number(r.id));
}

/** Sending campaigns with nothing left to do are completed. Returns the ids completed. */
export async function completeFinished(db: Db): Promise<number[]> {
  const out = await rows<{ id: number }>(
    db,
    sql`UPDATE campaigns c SET state = 'completed', completed_at = now(), updated_at = now() WHERE c.state = 'sending' AND (
          SELECT 1 FROM campaign_recipients r WHERE r.campaign_id = c.id AND r.state IN ('queued', 'deferred', 'sending')
          ORDER BY ${dueKey} LIMIT 1) IS NULL
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
