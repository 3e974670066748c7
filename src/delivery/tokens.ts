// HMAC-signed compact tokens for tracking and unsubscribe URLs.
//
//   token = base64url(payload) "." base64url(HMAC-SHA256(key, payload)[0..16])
//   payload = version(1) || kind(1) || fields joined by 0x00
//
// The key is `deriveKey(masterKey, 'tracking-tokens')`. The kind is inside the
// MAC, so an open token can never be replayed as an unsubscribe token. A click
// token carries its target URL: the redirect goes only to a URL this server
// signed, so the click endpoint is never an open redirect. `verifyToken` returns
// null for anything malformed, tampered or unknown (→ 404), comparing MACs in
// constant time.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { deriveKey } from '../crypto/aead.ts';

const VERSION = 1;
const MAC_BYTES = 16;
const kinds = { open: 1, click: 2, unsubscribe: 3, preferences: 4 } as const;
export type TokenKind = keyof typeof kinds;
const kindByCode = new Map<number, TokenKind>(Object.entries(kinds).map(([k, v]) => [v, k as TokenKind]));

export type TokenPayload =
  | { kind: 'open'; campaignId: string; contactId: string }
  | { kind: 'click'; campaignId: string; contactId: string; url: string }
  | { kind: 'unsubscribe'; campaignId: string; contactId: string }
  | { kind: 'preferences'; campaignId: string; contactId: string };

export function trackingKey(masterKey: Buffer): Buffer {
  return deriveKey(masterKey, 'tracking-tokens');
}

function mac(key: Buffer, payload: Buffer): Buffer {
  return createHmac('sha256', key).update(payload).digest().subarray(0, MAC_BYTES);
}

function fieldsOf(p: TokenPayload): string[] {
  return p.kind === 'click' ? [p.campaignId, p.contactId, p.url] : [p.campaignId, p.contactId];
}

/** Only absolute http(s) URLs can be click targets. */
export function isTrackableUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.hostname !== '';
  } catch {
    return false;
  }
}

export function signToken(key: Buffer, p: TokenPayload): string {
  const fields = fieldsOf(p);
  if (fields.some((f) => typeof f !== 'string' || f.includes('\0'))) throw new TypeError('token fields must be strings without NUL');
  if (p.kind === 'click' && !isTrackableUrl(p.url)) throw new TypeError('click target must be an absolute http(s) URL');
  const payload = Buffer.concat([Buffer.from([VERSION, kinds[p.kind]]), Buffer.from(fields.join('\0'), 'utf8')]);
  return `${payload.toString('base64url')}.${mac(key, payload).toString('base64url')}`;
}

const B64URL = /^[A-Za-z0-9_-]+$/;

/** The payload of a genuine token of the expected kind, or null. Never throws. */
export function verifyToken<K extends TokenKind>(key: Buffer, token: unknown, expected: K): Extract<TokenPayload, { kind: K }> | null {
  if (typeof token !== 'string' || token.length > 4096) return null;
  const dot = token.indexOf('.');
  if (dot <= 0) return null;
  const [p64, m64] = [token.slice(0, dot), token.slice(dot + 1)];
  if (!B64URL.test(p64) || !B64URL.test(m64)) return null;
  const payload = Buffer.from(p64, 'base64url');
  const given = Buffer.from(m64, 'base64url');
  // reject non-canonical encodings so each payload has exactly one token
  if (payload.toString('base64url') !== p64 || given.length !== MAC_BYTES || given.toString('base64url') !== m64) return null;
  if (!timingSafeEqual(given, mac(key, payload))) return null;
  if (payload.length < 2 || payload[0] !== VERSION) return null;
  const kind = kindByCode.get(payload[1]);
  if (kind !== expected) return null;
  const fields = payload.subarray(2).toString('utf8').split('\0');
  if (kind === 'click') {
    if (fields.length !== 3 || !isTrackableUrl(fields[2])) return null;
    return { kind, campaignId: fields[0], contactId: fields[1], url: fields[2] } as Extract<TokenPayload, { kind: K }>;
  }
  if (fields.length !== 2) return null;
  return { kind, campaignId: fields[0], contactId: fields[1] } as Extract<TokenPayload, { kind: K }>;
}

/** URLs for one recipient, built from the public base URL (PUBLIC_URL). */
export function trackingUrls(key: Buffer, baseUrl: string, campaignId: string, contactId: string) {
  const base = baseUrl.replace(/\/$/, '');
  return {
    open: `${base}/t/o/${signToken(key, { kind: 'open', campaignId, contactId })}`,
    click: (url: string) => `${base}/t/c/${signToken(key, { kind: 'click', campaignId, contactId, url })}`,
    unsubscribe: `${base}/t/u/${signToken(key, { kind: 'unsubscribe', campaignId, contactId })}`,
    preferences: `${base}/t/p/${signToken(key, { kind: 'preferences', campaignId, contactId })}`,
  };
}
