// Access anomalies: API keys used from a new IP or outside their allow-list,
// privileged actions outside the workspace's working hours.
import { privilegedTypes } from '../events.ts';
import type { DetectorDef, WorkingHours } from './types.ts';

export const apiKeyAnomaly: DetectorDef = {
  id: 'apikey_anomaly',
  title: 'API key used from a new IP or outside its allow-list',
  logic: 'Remembers the IPs each API key has been used from (apikey.used events, which mailwarden records on a key\'s first use from an IP); use from a new IP by a key with history fires, and so does every refusal because the IP is outside the allow-list.',
  limits: 'A stolen key used from an IP the key already used (same NAT / cloud egress); the first ever use of a key only teaches.',
  types: ['apikey.used', 'apikey.rejected'],
  severity: 'medium',
  params: {},
  responses: ['revoke_api_key'],
  create() {
    const known = new Map<string, Set<string>>();
    return {
      observe(e, { emit }) {
        const key = e.actorId ?? e.actor;
        if (!key) return;
        const entity = e.actor ?? `key ${key}`;
        if (e.type === 'apikey.rejected') {
          if (e.details.reason !== 'ip_not_allowed') return;
          emit({ entityType: 'api_key', entity, title: `API key ${entity} refused from ${e.ip ?? '?'} (outside its allow-list)`, at: e.at, eventIds: [e.id], details: { keyId: e.actorId, ip: e.ip }, severity: 'high' });
          return;
        }
        if (!e.ip) return;
        const set = known.get(key);
        if (!set) {
          known.set(key, new Set([e.ip]));
          return;
        }
        if (set.has(e.ip)) return;
        set.add(e.ip);
        emit({ entityType: 'api_key', entity, title: `API key ${entity} used from a new IP ${e.ip}${e.country ? ` (${e.country})` : ''}`, at: e.at, eventIds: [e.id], details: { keyId: e.actorId, ip: e.ip, knownIps: set.size - 1 } });
      },
      async warm(query) {
        const rows = await query<{ k: string; ip: string }>(`SELECT DISTINCT coalesce(actor_id, actor) AS k, ip FROM security_events WHERE type = 'apikey.used' AND ip IS NOT NULL`);
        for (const r of rows) {
          let set = known.get(r.k);
          if (!set) known.set(r.k, (set = new Set()));
          set.add(r.ip);
        }
      },
    };
  },
};

const formatters = new Map<string, Intl.DateTimeFormat>();
/** Weekday (1 = Monday … 7 = Sunday) and fractional hour of `at` in `timezone`. */
export function localTime(at: Date, timezone: string): { day: number; hour: number } {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone: timezone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timezone, f);
  }
  const parts = f.formatToParts(at);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  const day = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].indexOf(get('weekday')) + 1;
  return { day, hour: Number(get('hour')) + Number(get('minute')) / 60 };
}

export function withinHours(at: Date, h: WorkingHours): boolean {
  const { day, hour } = localTime(at, h.timezone);
  return h.days.includes(day) && hour >= h.start && hour < h.end;
}

export const offHoursPrivileged: DetectorDef = {
  id: 'off_hours_privileged',
  title: 'Privileged action outside working hours',
  logic: 'Settings, role, user, API key and second-factor changes made outside the workspace\'s working hours (days, start and end hour, in its time zone) fire, per acting user.',
  limits: 'Privileged actions during working hours by a compromised account; legitimate on-call work raises alerts (mark them false positive).',
  types: [...privilegedTypes],
  severity: 'medium',
  params: {},
  responses: ['revoke_sessions'],
  create() {
    return {
      observe(e, { workingHours, emit }) {
        if (e.outcome && e.outcome !== 'success') return;
        if (e.actorType === 'system') return;
        if (withinHours(e.at, workingHours)) return;
        const who = e.actor ?? 'unknown';
        const { hour } = localTime(e.at, workingHours.timezone);
        emit({ entityType: 'user', entity: who, title: `${who}: ${e.details.action ?? e.type} at ${String(Math.floor(hour)).padStart(2, '0')}:${String(Math.round((hour % 1) * 60)).padStart(2, '0')} ${workingHours.timezone}`, at: e.at, eventIds: [e.id], details: { type: e.type, target: e.target } });
      },
    };
  },
};

export const accessDetectors = [apiKeyAnomaly, offHoursPrivileged];
