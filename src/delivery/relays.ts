// SMTP relays configured per workspace (table smtp_relays) and the transport
// the engine sends through:
//
//   enabled relays in the database → a RelayPool over them (weights, failover,
//   cool-down from smtp.ts), with per-relay rate limits shared by every process;
//   else SMTP_URL (transport.ts `transportFor`); else the built-in outbox.
//
// `workspaceTransport` re-reads the relay rows at most every `checkMs` (5 s) and
// swaps the pool when their (id, updated_at) set changes, so a relay added,
// edited, disabled or deleted in the console reaches every worker within
// seconds without a restart. A replaced pool is closed once its in-flight sends
// are done.
//
// Per-relay limits: RelayPool picks the relay per message, and one database
// reservation per message would cost a round trip each. RelayQuota reserves
// small chunks from `rate-limit.ts` (scope `relay:<id>`) and hands them out
// locally; see `acquire` for why chunks are small and short-lived.
import { asc, eq } from 'drizzle-orm';
import nodemailer from 'nodemailer';
import type { Logger } from '../config/logger.ts';
import { deriveKey, openWithKey, sealWithKey } from '../crypto/aead.ts';
import type { Db } from '../db/client.ts';
import { type Limit, release, reserve } from './rate-limit.ts';
import { smtpRelays } from './schema.ts';
import {
  type MailTransport,
  type OutgoingMessage,
  type RelayConfig,
  type RelayGate,
  RelayPool,
  type SendResult,
  smtpOptions,
} from './smtp.ts';
import { transportFor } from './transport.ts';

export type RelayRow = typeof smtpRelays.$inferSelect;
export type RelaySecurity = RelayRow['security'];

/** The single workspace of a self-hosted install (as elsewhere in the code base). */
export const WORKSPACE_ID = 1;

export const relayKey = (masterKey: Buffer) => deriveKey(masterKey, 'smtp-relays');

/** The AAD binds a sealed password to its row: it cannot be copied onto another relay. */
export const sealRelayPassword = (key: Buffer, id: number, password: string) =>
  sealWithKey(key, password, `smtp-relay:${id}`);
export const openRelayPassword = (key: Buffer, id: number, sealed: Buffer) =>
  openWithKey(key, sealed, `smtp-relay:${id}`).toString('utf8');

/** Pool id of a database relay: also what the ledger's `relay` column records. */
export const poolId = (row: Pick<RelayRow, 'id' | 'name'>) => `${row.name}#${row.id}`;

export function relayLimitsOf(row: Pick<RelayRow, 'perSecond' | 'perHour' | 'perDay'>): Limit[] {
  const out: Limit[] = [];
  if (row.perSecond) out.push({ per: 'second', max: row.perSecond });
  if (row.perHour) out.push({ per: 'hour', max: row.perHour });
  if (row.perDay) out.push({ per: 'day', max: row.perDay });
  return out;
}

/** RelayConfig for smtp.ts: 'tls' is implicit TLS (smtps), 'starttls' requires STARTTLS, 'none' only on loopback. */
export function relayConfigOf(
  row: Pick<RelayRow, 'id' | 'name' | 'host' | 'port' | 'security' | 'username' | 'weight'>,
  password: string | null,
  opts: { maxConnections?: number; connectionTimeoutMs?: number } = {},
): RelayConfig {
  const host = row.host.includes(':') && !row.host.startsWith('[') ? `[${row.host}]` : row.host;
  const u = new URL(`${row.security === 'tls' ? 'smtps' : 'smtp'}://${host}:${row.port}`);
  if (row.username) {
    u.username = encodeURIComponent(row.username);
    u.password = encodeURIComponent(password ?? '');
  }
  return {
    id: poolId(row),
    url: u.toString(),
    weight: row.weight,
    requireTLS: row.security !== 'none',
    maxConnections: opts.maxConnections,
    connectionTimeoutMs: opts.connectionTimeoutMs,
  };
}

/**
 * "Send a NOOP/EHLO and verify TLS and auth": nodemailer's verify() connects,
 * greets, upgrades with STARTTLS when required and authenticates. The error
 * text is the server's answer; the password is blanked from it just in case.
 */
export async function testRelay(
  cfg: RelayConfig,
  password: string | null,
): Promise<{ ok: boolean; error?: string; durationMs: number }> {
  const started = Date.now();
  const t = nodemailer.createTransport({
    ...smtpOptions({ ...cfg, connectionTimeoutMs: cfg.connectionTimeoutMs ?? 10_000 }),
    pool: false,
  });
  try {
    await t.verify();
    return { ok: true, durationMs: Date.now() - started };
  } catch (e) {
    const err = e as Error & { code?: string; response?: string };
    let text = `${err.code ?? 'ERROR'}: ${err.response ?? err.message}`.slice(0, 500);
    if (password) text = text.split(password).join('***');
    return { ok: false, error: text, durationMs: Date.now() - started };
  } finally {
    t.close();
  }
}

type Allowance = {
  limits: Limit[];
  scope: string;
  available: number;
  reservedAt: number;
  blockedUntil: number;
  refill: Promise<void> | null;
};

/**
 * Per-relay quota shared by every process, handed out locally from small
 * reservations (a RelayGate for RelayPool).
 *
 * - Chunk size: a tenth of the relay's smallest limit (1…50), so one process
 *   cannot take the whole window while others starve (5/s → 1 at a time).
 * - Lifetime: reserved sends are counted in the database at reservation time;
 *   one spent much later would fall outside the window that counted it and
 *   allow bursts above the limit. So an allowance is valid for half a bucket of
 *   the smallest window (50 ms for per-second limits) and the unused rest is
 *   given back with `release`.
 * - A relay refused by the database is skipped until its `retryAt`.
 */
export class RelayQuota implements RelayGate {
  private readonly relays = new Map<string, Allowance>();
  private readonly now: () => number;
  private readonly logger?: Logger;

  constructor(
    private readonly db: Db,
    relays: { id: string; scope: string; limits: Limit[] }[],
    opts: { now?: () => number; logger?: Logger } = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.logger = opts.logger;
    for (const r of relays)
      if (r.limits.length)
        this.relays.set(r.id, {
          limits: r.limits,
          scope: r.scope,
          available: 0,
          reservedAt: 0,
          blockedUntil: 0,
          refill: null,
        });
  }

  private chunk(a: Allowance): number {
    return Math.max(1, Math.min(50, Math.floor(Math.min(...a.limits.map((l) => l.max)) / 10)));
  }

  private ttl(a: Allowance): number {
    const bucketMs = { second: 100, minute: 5_000, hour: 60_000, day: 3_600_000 } as const;
    return Math.min(...a.limits.map((l) => bucketMs[l.per])) / 2;
  }

  async acquire(relayId: string): Promise<boolean> {
    const a = this.relays.get(relayId);
    if (!a) return true; // no limits on this relay
    for (;;) {
      const now = this.now();
      if (a.available > 0 && now - a.reservedAt > this.ttl(a)) await this.giveBack(a);
      if (a.available > 0) {
        a.available--;
        return true;
      }
      if (now < a.blockedUntil) return false;
      // Concurrent senders share one reservation round trip.
      a.refill ??= this.reserveChunk(a)
        .catch((err) => {
          // Without the database we cannot know the quota: skip the relay (the message is deferred, not failed).
          this.logger?.error({ err, scope: a.scope }, 'relay quota reservation failed');
          a.blockedUntil = this.now() + 1_000;
        })
        .finally(() => {
          a.refill = null;
        });
      await a.refill;
      if (a.available === 0 && this.now() < a.blockedUntil) return false;
    }
  }

  release(relayId: string): void {
    const a = this.relays.get(relayId);
    if (a) a.available++;
  }

  private async reserveChunk(a: Allowance): Promise<void> {
    const now = this.now();
    const r = await reserve(this.db, a.scope, a.limits, this.chunk(a), now);
    a.available += r.granted;
    a.reservedAt = now;
    if (r.granted === 0) a.blockedUntil = r.retryAt ?? now + 1_000;
  }

  private async giveBack(a: Allowance): Promise<void> {
    const n = a.available;
    a.available = 0;
    await release(this.db, a.scope, a.limits, n, a.reservedAt);
  }

  /** Return every unused reservation (pool replaced or process stopping). */
  async close(): Promise<void> {
    for (const a of this.relays.values()) if (a.available > 0) await this.giveBack(a).catch(() => {});
  }
}

/** A RelayPool over database rows, with its quota; null when no relay can be used. */
export function poolFromRows(
  db: Db,
  key: Buffer,
  rows: RelayRow[],
  opts: {
    maxConnections?: number;
    logger?: Logger;
    now?: () => number;
    random?: () => number;
    cooldownMs?: number;
    failureThreshold?: number;
  } = {},
): { pool: RelayPool; quota: RelayQuota } | null {
  const cfgs: RelayConfig[] = [];
  const limited: { id: string; scope: string; limits: Limit[] }[] = [];
  for (const row of rows) {
    let password: string | null = null;
    try {
      if (row.passwordEnc) password = openRelayPassword(key, row.id, row.passwordEnc);
      const cfg = relayConfigOf(row, password, opts);
      smtpOptions(cfg); // refuses TLS off on a non-loopback host (rows written before a rule change)
      cfgs.push(cfg);
      limited.push({ id: cfg.id, scope: `relay:${row.id}`, limits: relayLimitsOf(row) });
    } catch (err) {
      // Never log the row: it carries the sealed password.
      opts.logger?.error(
        { relay: poolId(row), reason: (err as Error).message },
        'SMTP relay skipped: unusable configuration',
      );
    }
  }
  if (cfgs.length === 0) return null;
  const quota = new RelayQuota(db, limited, { now: opts.now, logger: opts.logger });
  return {
    pool: new RelayPool(cfgs, {
      gate: quota,
      now: opts.now,
      random: opts.random,
      cooldownMs: opts.cooldownMs,
      failureThreshold: opts.failureThreshold,
    }),
    quota,
  };
}

export type WorkspaceTransport = MailTransport & {
  /** Re-read the relay rows now (tests; the engine relies on the periodic check). */
  refresh(): Promise<void>;
  /** Which transport sends right now. */
  source(): 'relays' | 'smtp_url' | 'outbox';
};

/**
 * The engine's transport: the workspace's enabled relays, else SMTP_URL, else
 * the outbox. Same interface as RelayPool, so the engine does not change.
 */
export function workspaceTransport(
  db: Db,
  masterKey: Buffer,
  smtpUrl: string | undefined,
  opts: { maxConnections?: number; checkMs?: number; logger?: Logger; now?: () => number } = {},
): WorkspaceTransport {
  const key = relayKey(masterKey);
  const checkMs = opts.checkMs ?? 5_000;
  let fallback: MailTransport | null = null;
  type Current = {
    transport: MailTransport;
    quota?: RelayQuota;
    inFlight: number;
    retired: boolean;
    closed?: boolean;
    source: 'relays' | 'smtp_url' | 'outbox';
  };
  let current: Current | null = null;
  let signature: string | null = null;
  let checkedAt = 0;
  let loading: Promise<void> | null = null;

  const fallbackTransport = (): Current => {
    fallback ??= transportFor(smtpUrl, db, { masterKey, maxConnections: opts.maxConnections });
    return { transport: fallback, inFlight: 0, retired: false, source: smtpUrl ? 'smtp_url' : 'outbox' };
  };

  const retire = async (c: Current | null) => {
    if (!c || c.transport === fallback) return;
    c.retired = true;
    if (c.inFlight === 0 && !c.closed) {
      c.closed = true;
      await c.quota?.close();
      await c.transport.close();
    }
  };

  async function load() {
    const rows = await db
      .select()
      .from(smtpRelays)
      .where(eq(smtpRelays.workspaceId, WORKSPACE_ID))
      .orderBy(asc(smtpRelays.id));
    const enabled = rows.filter((r) => r.enabled);
    const sig = enabled.map((r) => `${r.id}@${r.updatedAt.getTime()}`).join(',');
    checkedAt = Date.now();
    if (sig === signature && current) return;
    const built = enabled.length ? poolFromRows(db, key, enabled, opts) : null;
    const next: Current = built
      ? { transport: built.pool, quota: built.quota, inFlight: 0, retired: false, source: 'relays' }
      : fallbackTransport();
    const old = current;
    current = next;
    signature = sig;
    opts.logger?.info({ source: next.source, relays: enabled.map(poolId) }, 'delivery transport selected');
    await retire(old);
  }

  async function ensure(force = false): Promise<Current> {
    if (force || !current || Date.now() - checkedAt >= checkMs) {
      loading ??= load()
        .catch((err) => {
          // Keep sending through what we have; without anything yet, use the fallback.
          opts.logger?.error({ err }, 'reading SMTP relays failed');
          checkedAt = Date.now();
          current ??= fallbackTransport();
        })
        .finally(() => {
          loading = null;
        });
      await loading;
    }
    return current!;
  }

  return {
    async send(m: OutgoingMessage): Promise<SendResult> {
      const c = await ensure();
      c.inFlight++;
      try {
        return await c.transport.send(m);
      } finally {
        c.inFlight--;
        if (c.retired && c.inFlight === 0) void retire(c);
      }
    },
    refresh: async () => {
      await ensure(true);
    },
    source: () => current?.source ?? (smtpUrl ? 'smtp_url' : 'outbox'),
    async close() {
      await loading?.catch(() => {});
      if (current && current.transport !== fallback) {
        await current.quota?.close();
        await current.transport.close();
      }
      await fallback?.close();
      current = null;
    },
  };
}
