// Unusual sign-ins: a new country, network (ASN) or device for the user, and
// impossible travel between two sign-ins.
import { distanceKm } from '../geo.ts';
import { deviceOf, type StoredEvent } from '../events.ts';
import type { DetectorDef } from './types.ts';

const OK = 'auth.login.success';

function newPropertyDetector(id: string, what: string, severity: DetectorDef['severity'], value: (e: StoredEvent) => string | null, column: string): DetectorDef {
  return {
    id,
    title: `Sign-in from a new ${what}`,
    logic: `Remembers every ${what} each user has signed in from (learned from the events table on start); a successful sign-in from one the user has never used fires. A user's first ever sign-in only teaches.`,
    limits: `An attacker in the user's usual ${what}; ${what === 'ASN' ? 'events without an ASN (geoip-lite ships none: only sources that send `asn` count)' : what === 'country' ? 'IPs without geo data (private ranges, VPNs exiting nearby)' : 'spoofed user agents'}.`,
    types: [OK],
    severity,
    params: {},
    responses: ['revoke_sessions'],
    create() {
      const known = new Map<string, Set<string>>();
      return {
        observe(e, { emit }) {
          const user = e.actor;
          const v = value(e);
          if (!user || !v) return;
          const set = known.get(user);
          if (!set) {
            known.set(user, new Set([v]));
            return;
          }
          if (set.has(v)) return;
          const before = [...set];
          set.add(v);
          emit({ entityType: 'user', entity: user, title: `${user} signed in from a new ${what}: ${v.replace(/^[0-9a-f]{12}:/, '')}`, at: e.at, eventIds: [e.id], details: { [column]: v, known: before.slice(0, 20), ip: e.ip } });
        },
        async warm(query) {
          const col = column === 'device' ? 'user_agent' : column;
          const rows = await query<{ actor: string; v: string | number }>(
            `SELECT DISTINCT actor, ${col} AS v FROM security_events WHERE type = 'auth.login.success' AND actor IS NOT NULL AND ${col} IS NOT NULL`,
          );
          for (const r of rows) {
            const v = column === 'device' ? deviceOf(String(r.v)) : String(r.v);
            if (!v) continue;
            let set = known.get(r.actor);
            if (!set) known.set(r.actor, (set = new Set()));
            set.add(v);
          }
        },
      };
    },
  };
}

export const newCountry = newPropertyDetector('signin_new_country', 'country', 'medium', (e) => e.country, 'country');
export const newAsn = newPropertyDetector('signin_new_asn', 'ASN', 'low', (e) => (e.asn == null ? null : String(e.asn)), 'asn');
export const newDevice = newPropertyDetector('signin_new_device', 'device', 'low', (e) => deviceOf(e.userAgent), 'device');

/** Two sign-ins too far apart for the time between them. */
export const impossibleTravel: DetectorDef = {
  id: 'impossible_travel',
  title: 'Impossible travel',
  logic: 'Keeps each user\'s last geo-located successful sign-in; the next one fires when it is ≥ `minKm` away, within `withinMinutes`, at an implied speed ≥ `minKmh`.',
  limits: 'Sign-ins without geo data; VPN or mobile exits that geolocate wrongly give false positives; travel within 500 km.',
  types: [OK],
  replayMinutes: (p) => p.withinMinutes,
  severity: 'high',
  params: { minKm: 500, minKmh: 800, withinMinutes: 90 },
  responses: ['revoke_sessions', 'lock_account'],
  create() {
    const last = new Map<string, { t: number; lat: number; lon: number; country: string | null; id: number; ip: string | null }>();
    return {
      observe(e, { params, emit }) {
        if (!e.actor || e.lat == null || e.lon == null) return;
        const t = e.at.getTime();
        const prev = last.get(e.actor);
        last.set(e.actor, { t, lat: e.lat, lon: e.lon, country: e.country, id: e.id, ip: e.ip });
        if (!prev) return;
        const minutes = (t - prev.t) / 60_000;
        if (minutes < 0 || minutes > params.withinMinutes) return;
        const km = distanceKm(prev.lat, prev.lon, e.lat, e.lon);
        const kmh = km / Math.max(minutes / 60, 1 / 60);
        if (km < params.minKm || kmh < params.minKmh) return;
        emit({
          entityType: 'user',
          entity: e.actor,
          title: `${e.actor}: ${Math.round(km)} km in ${Math.round(minutes)} min (${prev.country ?? '?'} → ${e.country ?? '?'})`,
          at: e.at,
          eventIds: [prev.id, e.id],
          since: Math.min(prev.t, t),
          details: { km: Math.round(km), minutes: Math.round(minutes), kmh: Math.round(kmh), from: { ip: prev.ip, country: prev.country }, to: { ip: e.ip, country: e.country } },
        });
      },
      sweep(now, params) {
        for (const [k, v] of last) if (now - v.t > params.withinMinutes * 60_000) last.delete(k);
      },
    };
  },
};

export const signinDetectors = [newCountry, newAsn, newDevice, impossibleTravel];
