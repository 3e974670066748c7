// The delivery engine: one loop per process (`serve` runs one, every
// `mailwarden worker` runs one more), all sharing the ledger in the database.
//
// Each turn: transactional messages first (they take priority), then scheduled
// campaigns that became due are started, then one batch of one sending
// campaign is claimed (ledger.ts: SKIP LOCKED + lease), its recipients are
// decrypted, checked against the suppression list again (an address suppressed
// after launch is never mailed), rate limits are reserved for the batch
// (rate-limit.ts, shared by all processes), and messages are built and handed
// to the transport with bounded concurrency. Outcomes are written in small
// batches as they come in, so a killed process leaves at most the accepted but
// unrecorded messages of one flush window to be sent again.
//
// While a batch runs, the campaign's state is re-read every `statePollMs`: a
// pause or cancel from any process stops the batch before its next message, and
// the untried rows go back (paused → queued, cancelled → cancelled).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { eq, sql } from 'drizzle-orm';
import { appendAudit, systemActor } from '../audit/service.ts';
import { campaigns } from '../campaigns/schema.ts';
import { type Vault, suppressionHash } from '../contacts/vault.ts';
import { suppress } from '../contacts/service.ts';
import type { Logger } from '../config/logger.ts';
import { type Db, rows } from '../db/client.ts';
import { classifyStatus } from './bounces.ts';
import {
  buildMessage,
  type CampaignMessage,
  CampaignNotSendable,
  loadRecipients,
  prepareCampaign,
  type SendKeys,
} from './campaign-message.ts';
import {
  campaignsWithWork,
  claim,
  completeFinished,
  type Outcome,
  record,
  renewLease,
  retryDelayMs,
  startDueCampaigns,
} from './ledger.ts';
import { type Limit, reserve, withWarmup } from './rate-limit.ts';
import type { MailTransport, SendResult } from './smtp.ts';
import { runTestSends } from './test-sends.ts';
import { runTransactional } from './transactional.ts';

export type EngineLimits = {
  /** Limits of the relay (all relays together), e.g. [{ per: 'second', max: 100 }]. */
  relay: Limit[];
  /** Per recipient domain, e.g. { 'gmail.com': [{ per: 'second', max: 20 }] }. */
  domains: Record<string, Limit[]>;
  /** Sending domains on the warm-up schedule, counted from their verification day. */
  warmupDomains?: string[];
};

export type EngineOptions = {
  db: Db;
  vault: Vault;
  transport: MailTransport;
  keys: SendKeys;
  publicUrl: string;
  bounceDomain: string;
  logger?: Logger;
  worker?: string;
  batchSize?: number;
  /** Claim-and-send loops per process (default 2); concurrency is shared by them. */
  lanes?: number;
  concurrency?: number;
  leaseSeconds?: number;
  idleMs?: number;
  statePollMs?: number;
  /** Deferred messages are retried until this long after launch, then failed. */
  retryDeadlineHours?: number;
  limits?: EngineLimits;
};

export type Engine = { worker: string; stop(): Promise<void>; kick(): void; sent(): number };

/** Sleep that `wake()` ends early (a kick, or stop). */
function sleeper() {
  const wakers = new Set<() => void>();
  return {
    sleep: (ms: number) =>
      new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          wakers.delete(done);
          resolve();
        };
        const t = setTimeout(done, ms);
        wakers.add(done);
      }),
    wake: () => {
      for (const w of [...wakers]) w();
    },
  };
}

export function startDeliveryEngine(o: EngineOptions): Engine {
  const worker = o.worker ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const opts = {
    batchSize: o.batchSize ?? 200,
    lanes: o.lanes ?? 2,
    concurrency: o.concurrency ?? 8,
    leaseSeconds: o.leaseSeconds ?? 60,
    idleMs: o.idleMs ?? 500,
    statePollMs: o.statePollMs ?? 500,
    deadlineMs: (o.retryDeadlineHours ?? 72) * 3_600_000,
    limits: o.limits ?? { relay: [], domains: {} },
  };
  const cache = new Map<number, CampaignMessage>();
  const idle = sleeper();
  let stopped = false;
  let sentCount = 0;
  let turn = 0;
  let lastHousekeeping = 0;

  const audit = (action: string, id: number, details: Record<string, unknown> = {}) =>
    appendAudit(o.db, systemActor('delivery'), {
      action,
      target: `campaign:${id}`,
      details: { worker, ...details },
    });

  async function campaignMessage(id: number): Promise<CampaignMessage> {
    const [c] = await o.db
      .select({ updatedAt: campaigns.updatedAt })
      .from(campaigns)
      .where(eq(campaigns.id, id));
    const hit = cache.get(id);
    if (hit && c && hit.version === c.updatedAt.getTime()) return hit;
    const cm = await prepareCampaign(o.db, o.keys, id, o.publicUrl);
    cache.set(id, cm);
    return cm;
  }

  async function housekeeping() {
    if (Date.now() - lastHousekeeping < 1_000) return;
    lastHousekeeping = Date.now();
    for (const id of await startDueCampaigns(o.db)) await audit('campaign.started', id);
    for (const id of await completeFinished(o.db)) {
      cache.delete(id);
      await audit('campaign.completed', id);
    }
  }

  async function loop() {
    while (!stopped) {
      let did = 0;
      try {
        did += await runTransactional(o.db, o.transport, o.keys, worker, {
          batchSize: 50,
          leaseSeconds: opts.leaseSeconds,
          deadlineMs: opts.deadlineMs,
        });
        did += await runTestSends(o.db, o.transport, o.keys, o.bounceDomain);
        await housekeeping();
        const ids = await campaignsWithWork(o.db);
        if (ids.length > 0) did += await runBatch(ids[turn++ % ids.length]);
      } catch (err) {
        o.logger?.error({ err }, 'delivery engine turn failed');
        did = 0;
      }
      if (!did && !stopped) await idle.sleep(opts.idleMs);
    }
  }

  async function runBatch(campaignId: number): Promise<number> {
    let cm: CampaignMessage;
    try {
      cm = await campaignMessage(campaignId);
    } catch (err) {
      if (!(err instanceof CampaignNotSendable)) throw err;
      // Not sendable as configured: pause it (visible in the console) rather than fail every recipient.
      const paused = await rows<{ id: number }>(
        o.db,
        sql`UPDATE campaigns SET state = 'paused', updated_at = now() WHERE id = ${campaignId} AND state = 'sending' RETURNING id`,
      );
      if (paused.length) await audit('campaign.paused', campaignId, { reason: err.message });
      o.logger?.warn({ campaignId, reason: err.message }, 'campaign paused: not sendable');
      return 0;
    }
    const claimed = await claim(o.db, campaignId, worker, opts.batchSize, opts.leaseSeconds);
    if (claimed.length === 0) return 0;
    const attempts = new Map(claimed.map((c) => [c.contactId, c.attempts]));
    const kr = await o.vault.keyring();
    const recipients = await loadRecipients(
      o.db,
      kr,
      claimed.map((c) => c.contactId),
    );
    const outcomes: Outcome[] = [];
    const flush = async () => {
      const batch = outcomes.splice(0);
      if (!batch.length) return;
      try {
        await record(o.db, campaignId, worker, batch);
      } catch (err) {
        // Keep them for the next flush: a row left 'sending' would only come back after its lease, and be sent twice.
        outcomes.unshift(...batch);
        throw err;
      }
    };

    // Erased contacts and addresses suppressed since launch are not mailed.
    const emailOf = new Map<string, string>();
    for (const [id, r] of recipients) emailOf.set(id, r.contact.email.toLowerCase());
    const hashes = [...emailOf.entries()].map(([id, e]) => [id, suppressionHash(kr, e)] as const);
    const suppressed = new Set<string>();
    if (hashes.length) {
      const hit = await rows<{ email_hash: Buffer }>(
        o.db,
        sql`SELECT email_hash FROM suppressions WHERE workspace_id = 1 AND email_hash IN (SELECT decode(h, 'hex') FROM unnest(${sql.param(hashes.map(([, h]) => h.toString('hex')))}::text[]) h)`,
      );
      const hex = new Set(hit.map((h) => Buffer.from(h.email_hash).toString('hex')));
      for (const [id, h] of hashes) if (hex.has(h.toString('hex'))) suppressed.add(id);
    }
    const todo: string[] = [];
    for (const { contactId } of claimed) {
      if (!recipients.has(contactId))
        outcomes.push({ contactId, state: 'suppressed', response: 'contact erased' });
      else if (suppressed.has(contactId) || recipients.get(contactId)?.contact.suppressed)
        outcomes.push({ contactId, state: 'suppressed', response: 'address suppressed' });
      else todo.push(contactId);
    }

    // Rate limits for the whole batch: what is not granted goes back to the queue for later.
    const allowed = await reserveBatch(todo, (id) => emailOf.get(id) ?? '', outcomes, cm);

    let state = 'sending';
    let lastPoll = Date.now();
    // Flushes and lease renewals run one after the other on this chain: a flush finds its rows by their
    // current row version (ledger.ts record) and would skip a row whose lease a renewal committed in the
    // middle of it — an outcome lost, the message sent again after the lease.
    let flushing = Promise.resolve();
    const lease = setInterval(() => {
      flushing = flushing
        .then(() => renewLease(o.db, campaignId, worker, opts.leaseSeconds, [...attempts.keys()]))
        .catch((err) => o.logger?.warn({ err }, 'renewing the lease failed'));
    }, (opts.leaseSeconds * 1000) / 3);
    // The last flush is retried briefly: giving up leaves the rows to their lease (sent again later).
    const finalFlush = async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await flush();
        } catch (err) {
          if (attempt >= 3) throw err;
          await new Promise((r) => setTimeout(r, 200 * attempt));
        }
      }
    };
    // At most one flush waits behind the one in flight, and it takes every outcome there is when it starts:
    // queueing one per message beyond 10 only added tiny flushes of what arrived in between (a transaction each).
    let flushQueued = false;
    const queueFlush = () => {
      if (flushQueued) return;
      flushQueued = true;
      flushing = flushing
        .then(() => {
          flushQueued = false;
          return flush();
        })
        .catch((err) => o.logger?.error({ err }, 'recording outcomes failed'));
    };
    // Small, frequent flushes: what a killed worker accepted but had not recorded is what can go out twice.
    // A flush goes when 10 outcomes wait or the oldest has waited 25 ms — timed from that outcome, not by a
    // periodic tick, which also sent off the two or three outcomes that came in since the last 10-row flush
    // (half of all flushes were such tiny ones: a statement and a commit each in PostgreSQL).
    let flushDue: NodeJS.Timeout | null = null;
    const maybeFlush = () => {
      if (outcomes.length >= 10) {
        if (flushDue) clearTimeout(flushDue);
        flushDue = null;
        queueFlush();
      } else if (outcomes.length > 0 && !flushDue)
        flushDue = setTimeout(() => {
          flushDue = null;
          if (outcomes.length) queueFlush();
        }, 25);
    };
    // Outcomes decided before sending (erased, suppressed, over a rate limit) go out within the same window.
    maybeFlush();
    let next = 0;
    const runOne = async () => {
      while (next < allowed.length) {
        if (Date.now() - lastPoll >= opts.statePollMs) {
          lastPoll = Date.now();
          const [c] = await o.db
            .select({ state: campaigns.state })
            .from(campaigns)
            .where(eq(campaigns.id, campaignId));
          state = c?.state ?? 'cancelled';
        }
        if (state !== 'sending' || stopped) return;
        const contactId = allowed[next++];
        const r = recipients.get(contactId)!;
        let result: SendResult;
        try {
          const m = await buildMessage(cm, o.keys, r, {
            publicUrl: o.publicUrl,
            bounceDomain: o.bounceDomain,
          });
          result = await o.transport.send({ ...m, tags: { campaignId, contactId } } as Parameters<
            MailTransport['send']
          >[0]);
        } catch (err) {
          outcomes.push({
            contactId,
            state: 'failed',
            response: `could not build the message: ${(err as Error).message}`.slice(0, 300),
          });
          maybeFlush();
          continue;
        }
        outcomes.push(
          await outcomeOf(contactId, result, attempts.get(contactId) ?? 1, cm, r.contact.email, kr),
        );
        if (result.status === 'accepted') sentCount++;
        maybeFlush();
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(opts.concurrency, allowed.length || 1) }, runOne));
    } finally {
      if (flushDue) clearTimeout(flushDue);
      clearInterval(lease);
      // Rows never tried (pause, cancel, shutdown) go back without counting an attempt.
      for (const id of allowed.slice(next))
        outcomes.push({
          contactId: id,
          state: state === 'cancelled' ? 'cancelled' : 'queued',
          untried: true,
          response: state === 'cancelled' ? 'campaign cancelled' : null,
        });
      await flushing.catch(() => {});
      await finalFlush();
    }
    return claimed.length;
  }

  /** Reserve relay and per-domain quota; outcomes get 'queued' with a retry time for what was not granted. */
  async function reserveBatch(
    todo: string[],
    emailOf: (id: string) => string,
    outcomes: Outcome[],
    cm: CampaignMessage,
  ): Promise<string[]> {
    if (todo.length === 0) return todo;
    const now = Date.now();
    const requeue = (ids: string[], at: number | null) => {
      for (const contactId of ids)
        outcomes.push({ contactId, state: 'queued', untried: true, retryAt: new Date(at ?? now + 1_000) });
    };
    let ok = todo;
    const byDomain = new Map<string, string[]>();
    for (const id of ok) {
      const d = emailOf(id).split('@')[1] ?? '';
      if (opts.limits.domains[d]) byDomain.set(d, [...(byDomain.get(d) ?? []), id]);
    }
    for (const [d, ids] of byDomain) {
      const r = await reserve(o.db, `domain:${d}`, opts.limits.domains[d], ids.length, now);
      if (r.granted < ids.length) {
        const refused = new Set(ids.slice(r.granted));
        requeue([...refused], r.retryAt);
        ok = ok.filter((id) => !refused.has(id));
      }
    }
    // A sending domain in warm-up gets the daily cap of its day in the schedule (rate-limit.ts DEFAULT_WARMUP).
    const warmup = opts.limits.warmupDomains?.includes(cm.domain) ? withWarmup([], cm.domainSince, now) : [];
    if (ok.length && warmup.length) {
      const r = await reserve(o.db, `warmup:${cm.domain}`, warmup, ok.length, now);
      if (r.granted < ok.length) {
        requeue(ok.slice(r.granted), r.retryAt);
        ok = ok.slice(0, r.granted);
      }
    }
    if (ok.length && opts.limits.relay.length) {
      const r = await reserve(o.db, 'relay:all', opts.limits.relay, ok.length, now);
      if (r.granted < ok.length) {
        requeue(ok.slice(r.granted), r.retryAt);
        ok = ok.slice(0, r.granted);
      }
    }
    return ok;
  }

  async function outcomeOf(
    contactId: string,
    r: SendResult,
    attempt: number,
    cm: CampaignMessage,
    email: string,
    kr: Awaited<ReturnType<Vault['keyring']>>,
  ): Promise<Outcome> {
    const base = { contactId, code: r.code ?? null, response: r.response ?? null, relay: r.relay || null };
    if (r.status === 'accepted') return { ...base, state: 'sent' };
    if (r.rateLimited) return { contactId, state: 'queued', untried: true, retryAt: new Date(Date.now() + 1_000), response: r.response ?? null };
    if (r.status === 'deferred') {
      const launched = cm.campaign.launchedAt?.getTime() ?? Date.now();
      const at = Date.now() + retryDelayMs(attempt);
      if (at - launched > opts.deadlineMs)
        return {
          ...base,
          state: 'failed',
          response: `retry deadline passed; last reply: ${r.response ?? ''}`,
        };
      return { ...base, state: 'deferred', retryAt: new Date(at) };
    }
    // A permanent refusal of the address itself suppresses it (hard bounce at SMTP time).
    const cls = classifyStatus(r.enhanced ?? (r.code && r.code >= 500 ? '5.0.0' : null));
    if (
      cls.class === 'hard' &&
      (cls.category === 'invalid_recipient' || cls.category === 'mailbox_disabled')
    ) {
      await suppress(
        o.db,
        kr,
        email.toLowerCase(),
        'hard_bounced',
        `SMTP ${r.code ?? ''} ${r.enhanced ?? ''}`.trim(),
      ).catch((err) => o.logger?.error({ err }, 'suppression failed'));
    }
    return { ...base, state: 'failed' };
  }

  // Several lanes per process: one lane's database round trips (claim, load, record) overlap another's sending.
  const running = Promise.all(Array.from({ length: opts.lanes }, () => loop()));
  return {
    worker,
    kick: () => idle.wake(),
    sent: () => sentCount,
    async stop() {
      stopped = true;
      idle.wake();
      await running;
    },
  };
}
