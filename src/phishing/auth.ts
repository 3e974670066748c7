// Authentication results: offline (parse the top-most trusted Authentication-Results header,
// RFC 8601) or live (mailauth: SPF, DKIM, DMARC, ARC with DNS lookups that time out and are
// cached). Offline mode is only as trustworthy as the receiving server that wrote the header:
// configure `trustedAuthservIds` so a forged header added by the sender is ignored.
import { Resolver } from 'node:dns/promises';
import { createRequire } from 'node:module';
import type { ParsedMessage } from './parse.ts';
import type { AuthOutcome, AuthSummary } from './types.ts';

const NORMAL: Record<string, AuthOutcome> = {
  pass: 'pass',
  fail: 'fail',
  hardfail: 'fail',
  softfail: 'softfail',
  neutral: 'neutral',
  none: 'none',
  temperror: 'temperror',
  permerror: 'permerror',
  policy: 'policy',
  bestguesspass: 'pass',
};

function norm(v: string | undefined): AuthOutcome {
  return (v && NORMAL[v.toLowerCase()]) || 'unknown';
}

function stripComments(v: string): string {
  let out = '';
  let depth = 0;
  for (const ch of v) {
    if (ch === '(') depth++;
    else if (ch === ')') depth = Math.max(0, depth - 1);
    else if (depth === 0) out += ch;
  }
  return out;
}

export interface ParsedAR {
  authservId?: string;
  results: { method: string; result: string; props: Record<string, string> }[];
}

export function parseAuthenticationResults(value: string): ParsedAR {
  const parts = stripComments(value.slice(0, 8192)).split(';');
  const out: ParsedAR = { results: [] };
  let first = true;
  for (const raw of parts) {
    const p = raw.trim();
    if (!p) continue;
    if (first) {
      first = false;
      if (!/^[a-z-]+\s*=/i.test(p)) {
        out.authservId = p.split(/\s+/)[0].toLowerCase();
        continue;
      }
    }
    const m = /^([a-z][a-z0-9-]*)\s*=\s*([a-z]+)(.*)$/is.exec(p);
    if (!m) continue;
    const props: Record<string, string> = {};
    for (const pm of m[3].matchAll(/([a-z]+\.[a-z-]+)\s*=\s*("[^"]*"|[^\s;]+)/gi)) props[pm[1].toLowerCase()] = pm[2].replace(/"/g, '');
    out.results.push({ method: m[1].toLowerCase(), result: m[2].toLowerCase(), props });
  }
  return out;
}

function combineDkim(results: string[]): AuthOutcome {
  if (results.length === 0) return 'unknown';
  const n = results.map(norm);
  if (n.includes('pass')) return 'pass';
  if (n.includes('fail')) return 'fail';
  return n[0];
}

const EMPTY: AuthSummary = { source: 'none', spf: 'unknown', dkim: 'unknown', dmarc: 'unknown', arc: 'unknown' };

export function offlineAuth(msg: Pick<ParsedMessage, 'headers'>, trusted?: string[]): AuthSummary {
  const trust = trusted?.map((t) => t.toLowerCase());
  for (const h of msg.headers) {
    if (h.key !== 'authentication-results') continue;
    const ar = parseAuthenticationResults(h.value);
    if (trust?.length && !(ar.authservId && trust.some((t) => ar.authservId === t || ar.authservId!.endsWith(`.${t}`))))
      continue;
    const by = (m: string) => ar.results.filter((r) => r.method === m);
    const spf = by('spf')[0];
    const dmarc = by('dmarc')[0];
    const dkim = by('dkim');
    return {
      source: 'header',
      authservId: ar.authservId,
      spf: spf ? norm(spf.result) : 'unknown',
      dkim: combineDkim(dkim.map((d) => d.result)),
      dmarc: dmarc ? norm(dmarc.result) : 'unknown',
      arc: by('arc')[0] ? norm(by('arc')[0].result) : 'unknown',
      dkimDomains: dkim.filter((d) => d.result === 'pass').map((d) => (d.props['header.d'] ?? d.props['header.i'] ?? '').replace(/^.*@/, '')),
      headerFrom: dmarc?.props['header.from'],
      mailFrom: spf?.props['smtp.mailfrom']?.replace(/^.*@/, ''),
    };
  }
  return { ...EMPTY };
}

// ---- live mode ---------------------------------------------------------------------------

type DnsResolver = (name: string, rrtype: string) => Promise<unknown>;
const cache = new Map<string, { at: number; value: Promise<unknown> }>();
const CACHE_TTL_MS = 10 * 60 * 1000;
const CACHE_MAX = 10_000;

/** A DNS resolver for mailauth with a per-query timeout and an in-memory TTL cache (errors cached briefly). */
export function cachedResolver(timeoutMs = 3000): DnsResolver {
  const r = new Resolver({ timeout: timeoutMs, tries: 1 });
  return (name, rrtype) => {
    const key = `${rrtype}:${name.toLowerCase()}`;
    const now = Date.now();
    const hit = cache.get(key);
    if (hit && now - hit.at < CACHE_TTL_MS) return hit.value;
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
    const value = r.resolve(name, rrtype as 'TXT').catch((err: NodeJS.ErrnoException) => {
      // keep negative answers shorter: drop timeouts from the cache after 30 s
      if (err.code === 'ETIMEOUT' || err.code === 'ECONNREFUSED')
        setTimeout(() => cache.delete(key), 30_000).unref();
      throw err;
    });
    cache.set(key, { at: now, value });
    return value;
  };
}

interface MailauthResult {
  spf?: { status?: { result?: string } } | false;
  dkim?: { results?: { status?: { result?: string }; signingDomain?: string }[] };
  dmarc?: { status?: { result?: string }; domain?: string } | false;
  arc?: { status?: { result?: string } } | false;
}

export async function liveAuth(
  raw: Buffer,
  opts: { ip?: string; helo?: string; sender?: string; mta?: string; dnsTimeoutMs?: number; resolver?: DnsResolver },
): Promise<AuthSummary> {
  const require = createRequire(import.meta.url);
  const { authenticate } = require('mailauth') as {
    authenticate: (input: Buffer, o: Record<string, unknown>) => Promise<MailauthResult>;
  };
  const res = await authenticate(raw, {
    ip: opts.ip,
    helo: opts.helo,
    sender: opts.sender,
    mta: opts.mta ?? 'mailwarden',
    trustReceived: !opts.ip,
    resolver: opts.resolver ?? cachedResolver(opts.dnsTimeoutMs ?? 3000),
  });
  const dk = res.dkim?.results ?? [];
  return {
    source: 'live',
    authservId: opts.mta ?? 'mailwarden',
    spf: res.spf ? norm(res.spf.status?.result) : 'none',
    dkim: dk.length ? combineDkim(dk.map((d) => d.status?.result ?? 'none')) : 'none',
    dmarc: res.dmarc ? norm(res.dmarc.status?.result) : 'none',
    arc: res.arc ? norm(res.arc.status?.result) : 'none',
    dkimDomains: dk.filter((d) => d.status?.result === 'pass').map((d) => d.signingDomain ?? ''),
    headerFrom: res.dmarc ? res.dmarc.domain : undefined,
  };
}
