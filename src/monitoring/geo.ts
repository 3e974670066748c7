// Offline geo-location from geoip-lite 1.4.x, which ships GeoLite-derived data
// files inside the package (no run-time download). Loaded lazily on first use
// (~1 s, ~160 MB) and cached per IP. geoip-lite has no ASN data: ASN is taken
// from the event when the source supplies it (see docs/monitoring.md).
import { createRequire } from 'node:module';
import { isIP } from 'node:net';

export type Geo = { country: string | null; city: string | null; lat: number | null; lon: number | null };

type GeoipLite = typeof import('geoip-lite');
let geoip: GeoipLite | null | undefined;
const cache = new Map<string, Geo | null>();
const CACHE_MAX = 50_000;

function load(): GeoipLite | null {
  if (geoip !== undefined) return geoip;
  // Off when asked, and in other domains' tests (saves ~1 s and ~160 MB per test file); monitoring tests turn it on.
  const flag = process.env.MAILWARDEN_GEOIP;
  if (flag === 'off' || (process.env.NODE_ENV === 'test' && flag !== 'on')) return (geoip = null);
  try {
    geoip = createRequire(import.meta.url)('geoip-lite') as GeoipLite;
  } catch {
    geoip = null;
  }
  return geoip;
}

/** Country, city and coordinates for a public IP; null for private, reserved or unknown addresses. */
export function geoLookup(ip: string | null | undefined): Geo | null {
  if (!ip) return null;
  const clean = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  if (!isIP(clean)) return null;
  const hit = cache.get(clean);
  if (hit !== undefined) return hit;
  const g = load();
  const r = g?.lookup(clean) ?? null;
  const geo: Geo | null = r ? { country: r.country || null, city: r.city || null, lat: r.ll?.[0] ?? null, lon: r.ll?.[1] ?? null } : null;
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(clean, geo);
  return geo;
}

/** Great-circle distance in kilometres. */
export function distanceKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(a)));
}
