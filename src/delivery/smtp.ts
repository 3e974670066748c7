// Sending pre-built messages through one or more SMTP relays.
//
// Each relay is a pool of reused connections (smtp-pool.ts: nodemailer's
// SMTPConnection, `maxConnections`/`maxMessages` per relay). Messages are handed
// over as `envelope` + `raw` bytes, so nothing is composed or signed again here.
//
// Relay choice: weighted random among healthy relays; when a relay fails at the
// relay level (cannot connect, TLS/auth failure, timeout, 421 "service not
// available") the message is tried on the next one. A relay that fails
// `failureThreshold` times in a row is skipped for `cooldownMs`.
// Result: accepted (2xx) | deferred (4xx, or every relay unavailable) |
// failed (5xx for the recipient or the message).
//
// TLS: STARTTLS is required (requireTLS) unless the relay is explicitly marked
// `requireTLS: false`, which is only allowed for a relay on the loopback
// interface (a local postfix/smtp-sink). smtps:// uses implicit TLS.
//
// An optional `gate` (relays.ts RelayQuota: per-relay rate limits) may refuse a
// relay for one message; it is then skipped without counting as a failure, and
// when every relay is refused the message is deferred.
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import { ConnectionPool, type ConnectionPoolOptions } from './smtp-pool.ts';

export type OutgoingMessage = { envelope: { from: string; to: string[] }; raw: Buffer; messageId: string };

export type SendResult = {
  status: 'accepted' | 'deferred' | 'failed';
  /** Relay id that gave the final answer ('' when none could be reached). */
  relay: string;
  code?: number;
  /** Enhanced status code (RFC 3463) from the reply, when present. */
  enhanced?: string;
  response?: string;
  /** Deferred by a relay's rate limit, not by the relay: retry soon, without counting an attempt. */
  rateLimited?: boolean;
  /** Relays tried before, with their errors. */
  failovers?: { relay: string; error: string }[];
};

/** The interface shared by RelayPool and the built-in OutboxTransport. */
export interface MailTransport {
  send(m: OutgoingMessage): Promise<SendResult>;
  close(): Promise<void>;
}

export type RelayConfig = {
  id: string;
  /** smtp://user:pass@host:587 or smtps://…:465 */
  url: string;
  weight?: number;
  maxConnections?: number;
  maxMessages?: number;
  /** Default true. false is only accepted for a relay on the loopback interface. */
  requireTLS?: boolean;
  tls?: { rejectUnauthorized?: boolean; servername?: string };
  connectionTimeoutMs?: number;
  socketTimeoutMs?: number;
};

/**
 * Optional per-relay admission (relays.ts: per-relay rate limits shared by all
 * processes). `acquire` false skips the relay for this message without counting
 * a failure; `release` gives back a send the relay did not take (relay-level error).
 */
export type RelayGate = {
  acquire(relayId: string): boolean | Promise<boolean>;
  release?(relayId: string): void;
};

export type PoolOptions = { failureThreshold?: number; cooldownMs?: number; now?: () => number; random?: () => number; gate?: RelayGate };

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[?::1\]?)$/i;

/** The default relay from SMTP_URL. `?tls=none` disables STARTTLS for a loopback relay only. */
export function relayFromUrl(smtpUrl: string, id = 'default'): RelayConfig {
  const u = new URL(smtpUrl);
  const tlsNone = u.searchParams.get('tls') === 'none';
  u.searchParams.delete('tls');
  return { id, url: u.toString(), requireTLS: !tlsNone };
}

type RelayState = { cfg: RelayConfig; transport: ConnectionPool; failures: number; skipUntil: number };

/** Relay-level failures: the relay, not the message, is the problem. */
function isRelayFailure(err: { code?: string; responseCode?: number; command?: string }): boolean {
  if (err.responseCode === 421) return true;
  if (err.responseCode === undefined) return true;
  // A refused login or TLS upgrade is about the relay whatever its reply code (535 is not the recipient's fault).
  if (err.code === 'EAUTH' || err.code === 'ETLS') return true;
  return ['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EAUTH', 'ETLS', 'EDNS', 'ECONNREFUSED', 'EPROTOCOL'].includes(err.code ?? '') && !err.responseCode;
}

function parseReply(text: string | undefined): { enhanced?: string } {
  const m = text ? /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(text) : null;
  return m ? { enhanced: m[1] } : {};
}

/** nodemailer pooled-transport options for a relay; throws when TLS is disabled for a non-loopback host. */
export function smtpOptions(cfg: RelayConfig): SMTPPool.Options {
  const u = new URL(cfg.url);
  const implicitTls = u.protocol === 'smtps:';
  const requireTLS = cfg.requireTLS ?? true;
  if (!requireTLS && !implicitTls && !LOOPBACK.test(u.hostname))
    throw new Error(`relay ${cfg.id}: TLS can only be disabled for a relay on the loopback interface (got ${u.hostname})`);
  return {
    pool: true,
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: Number(u.port) || (implicitTls ? 465 : 587),
    secure: implicitTls,
    requireTLS: requireTLS && !implicitTls,
    ignoreTLS: !requireTLS && !implicitTls,
    auth: u.username ? { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } : undefined,
    maxConnections: cfg.maxConnections ?? 5,
    maxMessages: cfg.maxMessages ?? 1000,
    connectionTimeout: cfg.connectionTimeoutMs ?? 30_000,
    socketTimeout: cfg.socketTimeoutMs ?? 60_000,
    tls: cfg.tls,
  } as SMTPPool.Options;
}

/** Hosts on which TLS may be disabled (a local postfix/smtp-sink). */
export const isLoopbackHost = (host: string) => LOOPBACK.test(host);

export class RelayPool implements MailTransport {
  private readonly relays: RelayState[];
  private readonly threshold: number;
  private readonly cooldownMs: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly gate?: RelayGate;

  constructor(relays: RelayConfig[], opts: PoolOptions = {}) {
    if (relays.length === 0) throw new Error('RelayPool needs at least one relay');
    this.threshold = opts.failureThreshold ?? 3;
    this.cooldownMs = opts.cooldownMs ?? 60_000;
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.gate = opts.gate;
    this.relays = relays.map((cfg) => {
      const transport = new ConnectionPool(smtpOptions(cfg) as ConnectionPoolOptions);
      return { cfg, transport, failures: 0, skipUntil: 0 };
    });
  }

  /** Relays in the order to try: healthy ones by weighted random draw, then cooling ones as a last resort. */
  private order(): RelayState[] {
    const now = this.now();
    const healthy = this.relays.filter((r) => r.skipUntil <= now);
    const out: RelayState[] = [];
    const pool = [...healthy];
    while (pool.length) {
      const total = pool.reduce((s, r) => s + (r.cfg.weight ?? 1), 0);
      let x = this.random() * total;
      let i = 0;
      for (; i < pool.length - 1; i++) {
        x -= pool[i].cfg.weight ?? 1;
        if (x < 0) break;
      }
      out.push(...pool.splice(i, 1));
    }
    return out;
  }

  /** Health snapshot (for the console/doctor). */
  health(): { id: string; failures: number; coolingUntil: number | null }[] {
    const now = this.now();
    return this.relays.map((r) => ({ id: r.cfg.id, failures: r.failures, coolingUntil: r.skipUntil > now ? r.skipUntil : null }));
  }

  async send(m: OutgoingMessage): Promise<SendResult> {
    const failovers: { relay: string; error: string }[] = [];
    let throttled = 0;
    for (const relay of this.order()) {
      if (this.gate && !(await this.gate.acquire(relay.cfg.id))) {
        throttled++;
        continue;
      }
      try {
        const info = await relay.transport.send(m.envelope, m.raw);
        relay.failures = 0;
        if (info.rejected.length > 0 && info.accepted.length === 0) {
          return { status: 'failed', relay: relay.cfg.id, response: info.response, failovers: failovers.length ? failovers : undefined };
        }
        return {
          status: 'accepted',
          relay: relay.cfg.id,
          code: Number(/^\d{3}/.exec(info.response ?? '')?.[0] ?? 250),
          response: info.response,
          ...parseReply(info.response),
          ...(failovers.length ? { failovers } : {}),
        };
      } catch (e) {
        const err = e as Error & { code?: string; responseCode?: number; response?: string; command?: string };
        if (isRelayFailure(err)) {
          relay.failures++;
          if (relay.failures >= this.threshold) relay.skipUntil = this.now() + this.cooldownMs;
          this.gate?.release?.(relay.cfg.id);
          failovers.push({ relay: relay.cfg.id, error: `${err.code ?? 'ERROR'}: ${err.response ?? err.message}`.slice(0, 300) });
          continue;
        }
        relay.failures = 0;
        const code = err.responseCode as number;
        return {
          status: code >= 500 ? 'failed' : 'deferred',
          relay: relay.cfg.id,
          code,
          response: (err.response ?? err.message).slice(0, 1000),
          ...parseReply(err.response),
          ...(failovers.length ? { failovers } : {}),
        };
      }
    }
    // Every reachable relay is at its rate limit: a retry later, not a failure.
    if (throttled > 0 && failovers.length === 0) return { status: 'deferred', relay: '', response: 'relay rate limit reached', rateLimited: true };
    return { status: 'deferred', relay: '', response: 'no relay available', failovers };
  }

  async close(): Promise<void> {
    for (const r of this.relays) r.transport.close();
  }
}
