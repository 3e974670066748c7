// Sign-in attack detectors: guessing, spraying, stuffing, second-factor brute
// force, success after failures, lockout bursts.
import type { StoredEvent } from '../events.ts';
import { type DetectorContext, type DetectorDef, DistinctWindow, FireMemo, Keyed, MIN, Window } from './types.ts';

const FAIL = 'auth.login.failure';
const account = (e: StoredEvent) => e.actor ?? e.target ?? null;

/** Password guessing: one account, ≥ 20 failures within 5 minutes. */
export const passwordGuessing: DetectorDef = {
  id: 'password_guessing',
  title: 'Password guessing against one account',
  logic: 'Counts failed password sign-ins per account in a sliding window; fires when the count reaches `failures` within `windowMinutes`.',
  limits: 'Slow guessing below the rate (e.g. 10 an hour) and guessing spread over many accounts (see password_spraying).',
  types: [FAIL],
  replayMinutes: (p) => p.windowMinutes,
  severity: 'high',
  params: { failures: 20, windowMinutes: 5 },
  responses: ['lock_account', 'revoke_sessions'],
  create() {
    const wins = new Keyed(() => new Window<number>());
    const memo = new FireMemo();
    return {
      observe(e, { params, emit }) {
        const acct = account(e);
        if (!acct) return;
        const w = wins.get(acct);
        const t = e.at.getTime();
        const span = params.windowMinutes * MIN;
        w.push(t, e.id);
        w.evict(t - span);
        if (w.size < params.failures) return;
        const again = memo.recent(acct, t, span);
        emit({ entityType: 'user', entity: acct, title: `${w.size} failed sign-ins for ${acct} within ${params.windowMinutes} min`, at: e.at, eventIds: again ? [e.id] : w.values(), since: again ? t : w.first, details: { failures: w.size } });
      },
      sweep(now, params) {
        wins.sweep((w) => w.last < now - params.windowMinutes * MIN);
        memo.sweep(now, params.windowMinutes * MIN);
      },
    };
  },
};

/** Password spraying: one IP (or ASN) failing across many accounts. */
export const passwordSpraying: DetectorDef = {
  id: 'password_spraying',
  title: 'Password spraying from one IP or network',
  logic: 'Per source IP, and per ASN when the event carries one, counts failed sign-ins and distinct accounts in a sliding window; fires at ≥ `accounts` distinct accounts and ≥ `failures` failures within `windowMinutes`.',
  limits: 'Spraying spread over many IPs in different networks with few attempts each (botnets); sources behind a shared proxy look like one IP.',
  types: [FAIL],
  replayMinutes: (p) => p.windowMinutes,
  severity: 'high',
  params: { accounts: 15, failures: 10, windowMinutes: 30 },
  responses: [],
  create() {
    const wins = new Keyed(() => new DistinctWindow());
    const memo = new FireMemo();
    const check = (key: string, entityType: 'ip' | 'asn', entity: string, e: StoredEvent, acct: string, params: Record<string, number>, emit: DetectorContext['emit']) => {
      const w = wins.get(key);
      const t = e.at.getTime();
      const span = params.windowMinutes * MIN;
      w.add(t, acct, e.id, span);
      if (w.distinct < params.accounts || w.size < params.failures) return;
      const again = memo.recent(key, t, span);
      emit({ entityType, entity, title: `${w.distinct} accounts failed sign-in from ${entityType === 'ip' ? '' : 'AS'}${entity} within ${params.windowMinutes} min`, at: e.at, eventIds: again ? [e.id] : w.ids(), since: again ? t : w.first, details: { accounts: w.distinct, failures: w.size } });
    };
    return {
      observe(e, { params, emit }) {
        const acct = account(e);
        if (!acct) return;
        if (e.ip) check(`ip:${e.ip}`, 'ip', e.ip, e, acct, params, emit);
        if (e.asn != null) check(`asn:${e.asn}`, 'asn', String(e.asn), e, acct, params, emit);
      },
      sweep(now, params) {
        wins.sweep((w) => w.w.last < now - params.windowMinutes * MIN);
        memo.sweep(now, params.windowMinutes * MIN);
      },
    };
  },
};

/** Credential stuffing: many accounts, many failures, from a handful of IPs. */
export const credentialStuffing: DetectorDef = {
  id: 'credential_stuffing',
  title: 'Credential stuffing from a few sources',
  logic: 'Keeps the failed sign-ins of the last `windowMinutes` per IP; when the `maxIps` busiest IPs together account for ≥ `failures` failures over ≥ `accounts` distinct accounts, fires once per window for the workspace (the IPs are in the details).',
  limits: 'Stuffing through large proxy pools (hundreds of IPs, one or two attempts each); a single IP stuffing also raises password_spraying when it reaches that threshold.',
  types: [FAIL],
  replayMinutes: (p) => p.windowMinutes,
  severity: 'high',
  params: { accounts: 8, failures: 15, maxIps: 5, windowMinutes: 10 },
  responses: [],
  create() {
    const perIp = new Keyed(() => new DistinctWindow());
    const memo = new FireMemo();
    return {
      observe(e, { params, emit }) {
        const acct = account(e);
        if (!acct || !e.ip) return;
        const t = e.at.getTime();
        const span = params.windowMinutes * MIN;
        perIp.get(e.ip).add(t, acct, e.id, span);
        const mine = perIp.get(e.ip);
        if (mine.size < 2) return; // one-off typos never make a stuffing source
        const top = [...perIp.map.entries()]
          .map(([ip, w]) => {
            w.evict(t - span);
            return [ip, w] as const;
          })
          .filter(([, w]) => w.size >= 2)
          .sort((a, b) => b[1].size - a[1].size)
          .slice(0, params.maxIps);
        let failures = 0;
        const accounts = new Set<string>();
        for (const [, w] of top) {
          failures += w.size;
          for (const k of w.counts.keys()) accounts.add(k);
        }
        if (failures < params.failures || accounts.size < params.accounts) return;
        const again = memo.recent('stuffing', t, span);
        const ids = again ? [e.id] : top.flatMap(([, w]) => w.ids());
        const since = again ? t : Math.min(...top.map(([, w]) => w.first));
        emit({ entityType: 'workspace', entity: 'sign-in', title: `${failures} failed sign-ins over ${accounts.size} accounts from ${top.length} IP(s)`, at: e.at, eventIds: ids, since, details: { failures, accounts: accounts.size, ips: top.map(([ip]) => ip) } });
      },
      sweep(now, params) {
        perIp.sweep((w) => w.w.last < now - params.windowMinutes * MIN);
      },
    };
  },
};

/** Second-factor brute force: many failed TOTP codes for one account, across sessions. */
export const totpBruteForce: DetectorDef = {
  id: 'totp_bruteforce',
  title: 'Second-factor brute force',
  logic: 'Counts failed TOTP / recovery codes per account over `windowMinutes` whatever the session; fires at `failures`. A password is already known to whoever is doing this.',
  limits: 'Attackers that stay below the count per window; phished codes used once (they succeed).',
  types: ['auth.2fa.failure'],
  replayMinutes: (p) => p.windowMinutes,
  severity: 'critical',
  params: { failures: 20, windowMinutes: 24 * 60 },
  responses: ['lock_account', 'revoke_sessions', 'require_2fa_reenrol'],
  create() {
    const wins = new Keyed(() => new Window<number>());
    const memo = new FireMemo();
    return {
      observe(e, { params, emit }) {
        const acct = account(e);
        if (!acct) return;
        const w = wins.get(acct);
        const t = e.at.getTime();
        const span = params.windowMinutes * MIN;
        w.push(t, e.id);
        w.evict(t - span);
        if (w.size < params.failures) return;
        emit({ entityType: 'user', entity: acct, title: `${w.size} failed second-factor codes for ${acct}`, at: e.at, ...(memo.recent(acct, t, span) ? { eventIds: [e.id] } : { eventIds: w.values(), since: w.first }), details: { failures: w.size } });
      },
      sweep(now, params) {
        wins.sweep((w) => w.last < now - params.windowMinutes * MIN);
      },
    };
  },
};

/** A successful sign-in right after a run of failures for the same account. */
export const successAfterFailures: DetectorDef = {
  id: 'success_after_failures',
  title: 'Successful sign-in after a run of failures',
  logic: 'Counts failed sign-ins per account over `windowMinutes`; a success while ≥ `failures` are in the window fires (the guess may have worked), then the run is reset.',
  limits: 'A correct guess after fewer failures; a success from a different source system than the failures.',
  types: [FAIL, 'auth.login.success'],
  replayMinutes: (p) => p.windowMinutes,
  severity: 'critical',
  params: { failures: 10, windowMinutes: 30 },
  responses: ['revoke_sessions', 'lock_account'],
  create() {
    const wins = new Keyed(() => new Window<number>());
    return {
      observe(e, { params, emit }) {
        const acct = account(e);
        if (!acct) return;
        const w = wins.get(acct);
        const t = e.at.getTime();
        w.evict(t - params.windowMinutes * MIN);
        if (e.type === FAIL) {
          w.push(t, e.id);
          return;
        }
        if (w.size >= params.failures)
          emit({ entityType: 'user', entity: acct, title: `${acct} signed in after ${w.size} failed attempts`, at: e.at, eventIds: [...w.values(), e.id], since: Math.min(w.first, t), details: { failures: w.size, ip: e.ip, country: e.country } });
        w.clear();
      },
      sweep(now, params) {
        wins.sweep((w) => w.last < now - params.windowMinutes * MIN);
      },
    };
  },
};

/** Many accounts locked out at once. */
export const lockoutBurst: DetectorDef = {
  id: 'lockout_burst',
  title: 'Burst of account lockouts',
  logic: 'Counts distinct accounts locked out across the workspace in a sliding window; fires at `accounts` within `windowMinutes`.',
  limits: 'Attacks that stay under the per-account lockout threshold (see password_spraying).',
  types: ['auth.lockout'],
  replayMinutes: (p) => p.windowMinutes,
  severity: 'high',
  params: { accounts: 10, windowMinutes: 5 },
  responses: [],
  create() {
    const w = new DistinctWindow();
    const memo = new FireMemo();
    return {
      observe(e, { params, emit }) {
        const acct = account(e) ?? 'unknown';
        const t = e.at.getTime();
        const span = params.windowMinutes * MIN;
        w.add(t, acct, e.id, span);
        if (w.distinct < params.accounts) return;
        emit({ entityType: 'workspace', entity: 'lockouts', title: `${w.distinct} accounts locked out within ${params.windowMinutes} min`, at: e.at, ...(memo.recent('x', t, span) ? { eventIds: [e.id] } : { eventIds: w.ids(), since: w.first }), details: { accounts: w.distinct } });
      },
    };
  },
};

export const authDetectors = [passwordGuessing, passwordSpraying, credentialStuffing, totpBruteForce, successAfterFailures, lockoutBurst];
